package statestore

import (
	"context"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/fakeclock"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/firestoreemu"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/leases"
)

func TestMain(m *testing.M) { os.Exit(firestoreemu.Main(m)) }

const collection = "accounts"

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// env is one test's store, a raw client on the same database, and the
// store's clock.
type env struct {
	project string
	store   *Store
	raw     *firestore.Client
	clock   *fakeclock.Clock
	// held is the last lease each owner took on each account with
	// lease, by account and owner: what commit writes under.
	held map[[2]string]refresh.State
}

func newEnv(t *testing.T, database string) env {
	t.Helper()
	project := firestoreemu.Project(t)
	ctx := context.Background()
	s, err := New(ctx, project, database, collection)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	if database == "" {
		database = DefaultDatabase
	}
	raw, err := firestore.NewClientWithDatabase(ctx, project, database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	c := fakeclock.New(t0)
	s.Now = c.Now
	return env{project: project, store: s, raw: raw, clock: c, held: map[[2]string]refresh.State{}}
}

func account(id string) refresh.Account {
	return refresh.Account{ID: id, Secret: "projects/p/secrets/" + id}
}

// fullState sets every field, with times in a zone other than UTC and at
// the microsecond precision Firestore keeps.
func fullState(id string) refresh.State {
	zone := time.FixedZone("JST", 9*3600)
	return refresh.State{
		Secret:              "projects/p/secrets/" + id,
		Version:             "projects/p/secrets/" + id + "/versions/7",
		Platform:            "instagram",
		RefreshedAt:         time.Date(2026, 2, 28, 9, 30, 15, 123456000, zone),
		IssuedAt:            time.Date(2026, 2, 28, 9, 30, 14, 0, zone),
		IssuedFrom:          refresh.ClockMeta,
		ExpiresAt:           time.Date(2026, 4, 29, 9, 30, 15, 654321000, zone),
		ExpiryFrom:          refresh.ClockRefresh,
		DataAccessExpiresAt: time.Date(2026, 5, 29, 9, 30, 14, 0, zone),
		Scopes:              []string{"instagram_business_basic", "instagram_business_content_publish"},
		Status:              refresh.StatusFailing,
		LastError:           "refreshing the token: HTTP 500",
		Failures:            3,
		LastAttemptAt:       time.Date(2026, 3, 1, 11, 59, 0, 1000, zone),
		Announced:           refresh.HealthFailing,
		Unannounced:         refresh.ChangeRefreshed,
	}
}

func sameState(a, b refresh.State) bool {
	return a.Secret == b.Secret && a.Version == b.Version && a.Platform == b.Platform &&
		a.RefreshedAt.Equal(b.RefreshedAt) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.IssuedAt.Equal(b.IssuedAt) && a.IssuedFrom == b.IssuedFrom && a.ExpiryFrom == b.ExpiryFrom &&
		a.DataAccessExpiresAt.Equal(b.DataAccessExpiresAt) && slices.Equal(a.Scopes, b.Scopes) &&
		a.Status == b.Status && a.LastError == b.LastError &&
		a.Failures == b.Failures && a.LastAttemptAt.Equal(b.LastAttemptAt)
}

// doc reads the account's document as stored; nil when it does not exist.
func (e env) doc(t *testing.T, id string) map[string]any {
	t.Helper()
	snap, err := e.raw.Collection(collection).Doc(id).Get(context.Background())
	if status.Code(err) == codes.NotFound {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return snap.Data()
}

func keys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// lease takes the account's lease as a pass does, reading the document
// first, and keeps it for commit.
func (e env) lease(t *testing.T, id, owner string, until time.Time) refresh.State {
	t.Helper()
	st, err := leases.Take(context.Background(), e.store, account(id), owner, until)
	if err != nil {
		t.Fatalf("Lease(%s, %s): %v", id, owner, err)
	}
	e.held[[2]string{id, owner}] = st
	return st
}

// commit writes st under the lease owner last took on the account.
func (e env) commit(t *testing.T, id, owner string, st refresh.State) {
	t.Helper()
	st.Rev = e.held[[2]string{id, owner}].Rev
	if err := e.store.Commit(context.Background(), account(id), owner, st); err != nil {
		t.Fatalf("Commit(%s, %s): %v", id, owner, err)
	}
}

// read is the account's State as Load gives it, revision included.
func (e env) read(t *testing.T, id string) refresh.State {
	t.Helper()
	states, err := e.store.Load(context.Background(), []refresh.Account{account(id)})
	if err != nil {
		t.Fatal(err)
	}
	return states[id]
}

// countingClient is a real client on a real connection to the emulator
// that counts the RPCs it makes.
func countingClient(t *testing.T, project string) (*firestore.Client, func() []string) {
	t.Helper()
	var mu sync.Mutex
	calls := map[string]int{}
	count := func(method string) {
		mu.Lock()
		defer mu.Unlock()
		calls[method]++
	}
	conn, err := grpc.NewClient(firestoreemu.Host(t),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			count(method)
			return invoker(ctx, method, req, reply, cc, opts...)
		}),
		grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			count(method)
			return streamer(ctx, desc, cc, method, opts...)
		}))
	if err != nil {
		t.Fatal(err)
	}
	c, err := firestore.NewClientWithDatabase(context.Background(), project, DefaultDatabase, option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for m, n := range calls {
			out = append(out, fmt.Sprintf("%s×%d", m[strings.LastIndexByte(m, '/')+1:], n))
		}
		slices.Sort(out)
		return out
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()

	e.lease(t, "bare", "pass-1", t0.Add(time.Minute)) // a lease, no state
	partial := refresh.State{Status: refresh.StatusNeedsReauth, Secret: "projects/p/secrets/partial"}
	if _, err := e.raw.Collection(collection).Doc("partial").Set(ctx, map[string]any{
		"status": "needs_reauth", "secret": "projects/p/secrets/partial",
	}); err != nil {
		t.Fatal(err)
	}
	e.lease(t, "full", "pass-1", t0.Add(time.Minute))
	e.commit(t, "full", "pass-1", fullState("full"))

	client, calls := countingClient(t, e.project)
	s := NewFromClient(client, collection)
	accounts := []refresh.Account{account("missing"), account("bare"), account("partial"), account("full")}
	got, err := s.Load(ctx, accounts)
	if err != nil {
		t.Fatal(err)
	}
	// A bare lease has a record, without state: Load gives it, so that the
	// next Lease has its revision.
	if ids, want := slices.Sorted(maps.Keys(got)), []string{"bare", "full", "partial"}; !slices.Equal(ids, want) {
		t.Fatalf("Load gave states of %v, want %v", ids, want)
	}
	if got["bare"].Known() || got["bare"].Rev == nil {
		t.Errorf("bare: got %+v, want no state and a revision", got["bare"])
	}
	if !sameState(got["full"], fullState("full")) {
		t.Errorf("full: got %+v, want %+v", got["full"], fullState("full"))
	}
	if !sameState(got["partial"], partial) {
		t.Errorf("partial: got %+v, want %+v", got["partial"], partial)
	}
	if c := calls(); !slices.Equal(c, []string{"BatchGetDocuments×1"}) {
		t.Errorf("Load of %d accounts made calls %v, want one BatchGetDocuments", len(accounts), c)
	}

	if got, err := s.Load(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("Load(nil) = %v, %v; want an empty map", got, err)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		st   refresh.State
	}{
		{"every field set", fullState("acct")},
		{"zero times", refresh.State{
			Secret:  "projects/p/secrets/acct",
			Version: "projects/p/secrets/acct/versions/1",
			Status:  refresh.StatusOK,
		}},
		{"needs reauth", refresh.State{
			Secret:        "projects/p/secrets/acct",
			Version:       "projects/p/secrets/acct/versions/2",
			RefreshedAt:   t0.Add(-59 * 24 * time.Hour),
			ExpiresAt:     t0.Add(-time.Hour),
			Status:        refresh.StatusNeedsReauth,
			LastError:     "token expired",
			Failures:      12,
			LastAttemptAt: t0,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "")
			ctx := context.Background()
			if st := e.lease(t, "acct", "pass-1", t0.Add(time.Minute)); st.Known() {
				t.Errorf("Lease of a new account read state %+v", st)
			}
			e.commit(t, "acct", "pass-1", tt.st)

			loaded, err := e.store.Load(ctx, []refresh.Account{account("acct")})
			if err != nil {
				t.Fatal(err)
			}
			if got := loaded["acct"]; !sameState(got, tt.st) {
				t.Errorf("Load: got %+v, want %+v", got, tt.st)
			}
			if got := e.lease(t, "acct", "pass-2", t0.Add(time.Minute)); !sameState(got, tt.st) {
				t.Errorf("Lease: got %+v, want %+v", got, tt.st)
			}
		})
	}
}

// The field names and types are a documented schema.
func TestStoredSchema(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	until := t0.Add(5 * time.Minute)

	e.lease(t, "acct", "pass-1", until)
	lease := e.doc(t, "acct")
	if got, want := keys(lease), []string{"leaseExpiresAt", "leaseOwner"}; !slices.Equal(got, want) {
		t.Fatalf("a new account's leased document has fields %v, want %v", got, want)
	}
	if lease["leaseOwner"] != "pass-1" {
		t.Errorf("leaseOwner = %#v, want pass-1", lease["leaseOwner"])
	}
	if exp, ok := lease["leaseExpiresAt"].(time.Time); !ok || !exp.Equal(until) {
		t.Errorf("leaseExpiresAt = %#v, want timestamp %v", lease["leaseExpiresAt"], until)
	}

	st := fullState("acct")
	st.ExpiresAt = time.Time{}
	e.commit(t, "acct", "pass-1", st)
	doc := e.doc(t, "acct")
	want := map[string]any{
		"secret":              st.Secret,
		"version":             st.Version,
		"platform":            "instagram",
		"refreshedAt":         st.RefreshedAt.UTC(),
		"issuedAt":            st.IssuedAt.UTC(),
		"issuedFrom":          "meta",
		"expiresAt":           nil,
		"expiryFrom":          "refresh",
		"dataAccessExpiresAt": st.DataAccessExpiresAt.UTC(),
		"scopes":              []any{"instagram_business_basic", "instagram_business_content_publish"},
		"status":              "failing",
		"lastError":           st.LastError,
		"failures":            int64(3),
		"lastAttemptAt":       st.LastAttemptAt.UTC(),
		"announced":           "failing",
		"unannounced":         "refreshed",
	}
	if got, w := keys(doc), keys(want); !slices.Equal(got, w) {
		t.Fatalf("committed document has fields %v, want %v", got, w)
	}
	for k, w := range want {
		if got := doc[k]; !reflect.DeepEqual(got, w) {
			t.Errorf("field %s = %#v (%T), want %#v (%T)", k, got, got, w, w)
		}
	}

	// Unknown clocks and scopes are null or absent, never a made-up value.
	st = fullState("acct")
	st.IssuedAt, st.IssuedFrom, st.ExpiryFrom, st.DataAccessExpiresAt, st.Scopes = time.Time{}, "", "", time.Time{}, nil
	st.Announced, st.Unannounced = "", ""
	e.lease(t, "acct", "pass-2", until)
	e.commit(t, "acct", "pass-2", st)
	doc = e.doc(t, "acct")
	for _, k := range []string{"issuedFrom", "expiryFrom", "scopes", "announced", "unannounced"} {
		if v, ok := doc[k]; ok {
			t.Errorf("field %s = %#v, want absent", k, v)
		}
	}
	for _, k := range []string{"issuedAt", "dataAccessExpiresAt"} {
		if v := doc[k]; v != nil {
			t.Errorf("field %s = %#v, want null", k, v)
		}
	}
}

func TestNamedDatabase(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "refresher")
	ctx := context.Background()
	e.lease(t, "main", "pass-1", t0.Add(time.Minute))
	e.commit(t, "main", "pass-1", fullState("main"))
	loaded, err := e.store.Load(ctx, []refresh.Account{account("main")})
	if err != nil {
		t.Fatal(err)
	}
	if !sameState(loaded["main"], fullState("main")) {
		t.Errorf("Load: got %+v, want %+v", loaded["main"], fullState("main"))
	}
	if e.doc(t, "main") == nil {
		t.Error("the state is not in database refresher")
	}

	def, err := New(ctx, e.project, "", collection)
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	if loaded, err := def.Load(ctx, []refresh.Account{account("main")}); err != nil || len(loaded) != 0 {
		t.Errorf("Load from (default) = %v, %v; want nothing there", loaded, err)
	}
}

func TestInvalidInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	for _, id := range []string{"", "a/b", "..", "__reserved__"} {
		a := refresh.Account{ID: id}
		if _, err := e.store.Load(ctx, []refresh.Account{a}); err == nil {
			t.Errorf("Load of account ID %q succeeded", id)
		}
		if _, err := e.store.Lease(ctx, a, "pass-1", t0.Add(time.Minute), refresh.State{}); err == nil {
			t.Errorf("Lease of account ID %q succeeded", id)
		}
	}
	if _, err := e.store.Lease(ctx, account("main"), "", t0.Add(time.Minute), refresh.State{}); err == nil {
		t.Error("Lease with an empty owner succeeded")
	}
	if _, err := e.store.Lease(ctx, account("main"), "pass-1", t0.Add(time.Minute), refresh.State{Rev: "not a revision"}); err == nil {
		t.Error("Lease with another store's revision succeeded")
	}
	if err := e.store.Commit(ctx, account("main"), "", fullState("main")); err == nil {
		t.Error("Commit with an empty owner succeeded")
	}
	for _, c := range []string{"", "a/b", "a//b", "/a"} {
		if s, err := New(ctx, e.project, "", c); err == nil {
			s.Close()
			t.Errorf("New with collection %q succeeded", c)
		}
	}
}
