package statestore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
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
		Secret:        "projects/p/secrets/" + id,
		Version:       "projects/p/secrets/" + id + "/versions/7",
		Platform:      "instagram",
		RefreshedAt:   time.Date(2026, 2, 28, 9, 30, 15, 123456000, zone),
		ExpiresAt:     time.Date(2026, 4, 29, 9, 30, 15, 654321000, zone),
		Status:        refresh.StatusFailing,
		LastError:     "refreshing the token: HTTP 500",
		Failures:      3,
		LastAttemptAt: time.Date(2026, 3, 1, 11, 59, 0, 1000, zone),
	}
}

func sameState(a, b refresh.State) bool {
	return a.Secret == b.Secret && a.Version == b.Version && a.Platform == b.Platform &&
		a.RefreshedAt.Equal(b.RefreshedAt) && a.ExpiresAt.Equal(b.ExpiresAt) &&
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
		"secret":        st.Secret,
		"version":       st.Version,
		"platform":      "instagram",
		"refreshedAt":   st.RefreshedAt.UTC(),
		"expiresAt":     nil,
		"status":        "failing",
		"lastError":     st.LastError,
		"failures":      int64(3),
		"lastAttemptAt": st.LastAttemptAt.UTC(),
	}
	if got, w := keys(doc), keys(want); !slices.Equal(got, w) {
		t.Fatalf("committed document has fields %v, want %v", got, w)
	}
	for k, w := range want {
		if got := doc[k]; got != w {
			t.Errorf("field %s = %#v (%T), want %#v (%T)", k, got, got, w, w)
		}
	}
}

func TestLease(t *testing.T) {
	t.Parallel()
	until := t0.Add(time.Minute)
	tests := []struct {
		name   string
		now    time.Time // when the second pass asks
		owner  string
		busy   bool
		expiry time.Time // leaseExpiresAt afterwards
	}{
		{"other owner, unexpired", t0, "pass-2", true, until},
		{"other owner, a moment before expiry", until.Add(-time.Microsecond), "pass-2", true, until},
		{"other owner, at expiry", until, "pass-2", false, t0.Add(time.Hour)},
		{"other owner, expired", until.Add(time.Second), "pass-2", false, t0.Add(time.Hour)},
		{"same owner extends", t0, "pass-1", false, t0.Add(time.Hour)},
		{"same owner after expiry", until.Add(time.Hour), "pass-1", false, t0.Add(time.Hour)},
		// A read from before pass-1's lease: the document is no longer as
		// read, even once that lease has expired.
		{"stale read, expired", until.Add(time.Second), "pass-2", true, until},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "")
			e.lease(t, "main", "pass-1", until)
			e.commit(t, "main", "pass-1", fullState("main"))
			stale := e.read(t, "main")
			e.lease(t, "main", "pass-1", until)

			e.clock.Set(tt.now)
			read := e.read(t, "main")
			if strings.HasPrefix(tt.name, "stale") {
				read = stale
			}
			st, err := e.store.Lease(context.Background(), account("main"), tt.owner, t0.Add(time.Hour), read)
			doc := e.doc(t, "main")
			if tt.busy {
				if !errors.Is(err, refresh.ErrBusy) {
					t.Fatalf("Lease = %v, want ErrBusy", err)
				}
				if msg := err.Error(); !strings.HasPrefix(msg, "taking the lease on account main: ") {
					t.Errorf("error %q does not say what failed", msg)
				}
				if doc["leaseOwner"] != "pass-1" {
					t.Errorf("a refused Lease changed leaseOwner to %v", doc["leaseOwner"])
				}
			} else {
				if err != nil {
					t.Fatalf("Lease: %v", err)
				}
				if !sameState(st, fullState("main")) {
					t.Errorf("Lease read %+v, want %+v", st, fullState("main"))
				}
				if doc["leaseOwner"] != tt.owner {
					t.Errorf("leaseOwner = %v, want %s", doc["leaseOwner"], tt.owner)
				}
			}
			if exp, _ := doc["leaseExpiresAt"].(time.Time); !exp.Equal(tt.expiry) {
				t.Errorf("leaseExpiresAt = %v, want %v", doc["leaseExpiresAt"], tt.expiry)
			}
		})
	}
}

// Twenty passes that read the document at once and lease it at once:
// exactly one gets it, whether the document is new (Create) or holds state
// (an update conditional on its update time).
func TestLeaseContention(t *testing.T) {
	t.Parallel()
	for _, existing := range []bool{false, true} {
		t.Run(fmt.Sprintf("existing=%v", existing), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "")
			if existing {
				e.lease(t, "main", "setup", t0.Add(time.Minute))
				e.commit(t, "main", "setup", fullState("main"))
			}
			read := e.read(t, "main")
			const passes = 20
			var (
				wg    sync.WaitGroup
				ready sync.WaitGroup
				start = make(chan struct{})
				errs  = make([]error, passes)
			)
			ready.Add(passes)
			for i := range passes {
				wg.Go(func() {
					ready.Done()
					<-start
					_, errs[i] = e.store.Lease(context.Background(), account("main"), fmt.Sprintf("pass-%d", i), t0.Add(time.Minute), read)
				})
			}
			ready.Wait()
			close(start)
			wg.Wait()

			winner := -1
			for i, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Errorf("passes %d and %d both took the lease", winner, i)
				case err == nil:
					winner = i
				case !errors.Is(err, refresh.ErrBusy):
					t.Errorf("pass %d: %v, want ErrBusy", i, err)
				}
			}
			if winner < 0 {
				t.Fatal("no pass took the lease")
			}
			if got, want := e.doc(t, "main")["leaseOwner"], fmt.Sprintf("pass-%d", winner); got != want {
				t.Errorf("leaseOwner = %v, want the winner %s", got, want)
			}
		})
	}
}

// A lease another owner holds unexpired in the pass's read is busy without
// any call to Firestore: the read already says so.
func TestBusyLeaseCostsNoCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.lease(t, "main", "pass-1", t0.Add(time.Minute))
	read := e.read(t, "main")
	client, calls := countingClient(t, e.project)
	s := NewFromClient(client, collection)
	s.Now = e.clock.Now
	if _, err := s.Lease(context.Background(), account("main"), "pass-2", t0.Add(time.Hour), read); !errors.Is(err, refresh.ErrBusy) {
		t.Fatalf("Lease of a held account = %v, want ErrBusy", err)
	}
	if c := calls(); len(c) != 0 {
		t.Errorf("a busy Lease made calls %v, want none", c)
	}
	// Once it has expired, taking it is one write: no read, no transaction.
	e.clock.Set(t0.Add(2 * time.Minute))
	st, err := s.Lease(context.Background(), account("main"), "pass-2", t0.Add(time.Hour), read)
	if err != nil {
		t.Fatalf("Lease of an expired lease: %v", err)
	}
	st.Status, st.Secret = refresh.StatusOK, account("main").Secret
	if err := s.Commit(context.Background(), account("main"), "pass-2", st); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if c := calls(); !slices.Equal(c, []string{"Commit×2"}) {
		t.Errorf("a lease and its commit made calls %v, want two single-write Commits", c)
	}
}

// A pass of an older version takes leases in transactions. A lease write
// that meets a document one of them holds is refused (ABORTED) or waits for
// it; either way it never takes the lease from under the transaction.
func TestLeaseWhileDocumentLocked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.lease(t, "main", "pass-1", t0.Add(time.Minute))
	e.clock.Set(t0.Add(2 * time.Minute)) // the lease itself is free to take
	read := e.read(t, "main")
	var leaseErr error
	var once sync.Once
	_ = e.raw.RunTransaction(context.Background(), func(_ context.Context, tx *firestore.Transaction) error {
		if _, err := tx.Get(e.raw.Collection(collection).Doc("main")); err != nil {
			return err
		}
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, leaseErr = e.store.Lease(ctx, account("main"), "pass-2", t0.Add(time.Hour), read)
		})
		return nil
	}, firestore.MaxAttempts(1))
	if !errors.Is(leaseErr, refresh.ErrBusy) {
		t.Fatalf("Lease of a locked document = %v, want ErrBusy", leaseErr)
	}
	if got := e.doc(t, "main")["leaseOwner"]; got != "pass-1" {
		t.Errorf("leaseOwner = %v after a refused Lease, want pass-1", got)
	}
}

func TestCommitWithLostLeaseWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	before := fullState("main")
	e.lease(t, "main", "pass-1", t0.Add(time.Minute))
	e.commit(t, "main", "pass-1", before)
	held := e.lease(t, "main", "pass-1", t0.Add(time.Minute))
	e.clock.Set(t0.Add(2 * time.Minute))
	e.lease(t, "main", "pass-2", t0.Add(5*time.Minute))
	stored := e.doc(t, "main")

	late := refresh.State{Secret: before.Secret, Version: before.Secret + "/versions/8", Status: refresh.StatusOK, RefreshedAt: t0, Rev: held.Rev}
	err := e.store.Commit(ctx, account("main"), "pass-1", late)
	if !errors.Is(err, refresh.ErrLeaseLost) {
		t.Fatalf("Commit by the lease's former owner = %v, want ErrLeaseLost", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "committing state of account main: ") {
		t.Errorf("error %q does not say what failed", msg)
	}
	if after := e.doc(t, "main"); !maps.Equal(after, stored) {
		t.Errorf("a refused Commit changed the document from %v to %v", stored, after)
	}

	// Nobody's lease at all.
	noLease := late
	noLease.Rev = nil
	err = e.store.Commit(ctx, account("new"), "pass-1", noLease)
	if !errors.Is(err, refresh.ErrLeaseLost) {
		t.Errorf("Commit without a lease = %v, want ErrLeaseLost", err)
	}
	if doc := e.doc(t, "new"); doc != nil {
		t.Errorf("a refused Commit created %v", doc)
	}

	// A released lease is lost too, and a released bare lease leaves no
	// document for the commit to write into.
	leased := e.lease(t, "other", "pass-1", t0.Add(time.Hour))
	if err := e.store.Release(ctx, account("other"), "pass-1", leased); err != nil {
		t.Fatal(err)
	}
	late.Rev = leased.Rev
	if err := e.store.Commit(ctx, account("other"), "pass-1", late); !errors.Is(err, refresh.ErrLeaseLost) {
		t.Errorf("Commit after Release = %v, want ErrLeaseLost", err)
	}
	if doc := e.doc(t, "other"); doc != nil {
		t.Errorf("a refused Commit created %v", doc)
	}
}

// releaseChangesNothing releases owner's lease and checks that the document
// is left as it was.
func (e env) releaseChangesNothing(t *testing.T, id, owner string, leased refresh.State, what string) {
	t.Helper()
	before := e.doc(t, id)
	if err := e.store.Release(context.Background(), account(id), owner, leased); err != nil {
		t.Errorf("Release %s: %v", what, err)
	}
	if after := e.doc(t, id); !maps.Equal(after, before) {
		t.Errorf("Release %s changed the document from %v to %v", what, before, after)
	}
}

func TestRelease(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	st := fullState("main")
	e.lease(t, "main", "pass-1", t0.Add(time.Minute))
	e.commit(t, "main", "pass-1", st)
	held := e.lease(t, "main", "pass-1", t0.Add(time.Minute))

	e.releaseChangesNothing(t, "main", "pass-2", held, "by a non-owner")
	if _, err := leases.Take(ctx, e.store, account("main"), "pass-2", t0.Add(time.Minute)); !errors.Is(err, refresh.ErrBusy) {
		t.Errorf("Lease after a non-owner's Release = %v, want ErrBusy", err)
	}

	if err := e.store.Release(ctx, account("main"), "pass-1", held); err != nil {
		t.Fatalf("Release by the owner: %v", err)
	}
	doc := e.doc(t, "main")
	if _, ok := doc["leaseOwner"]; ok {
		t.Errorf("leaseOwner survives Release: %v", doc)
	}
	if _, ok := doc["leaseExpiresAt"]; ok {
		t.Errorf("leaseExpiresAt survives Release: %v", doc)
	}
	if got := e.read(t, "main"); !sameState(got, st) {
		t.Errorf("Release changed the state to %+v, want %+v", got, st)
	}
	// Releasing again, or after another pass took the lease, leaves the
	// document alone.
	theirs := e.lease(t, "main", "pass-2", t0.Add(time.Minute))
	e.releaseChangesNothing(t, "main", "pass-1", held, "of a lease given back already")
	if err := e.store.Release(ctx, account("main"), "pass-2", theirs); err != nil {
		t.Fatal(err)
	}

	// A bare lease given back leaves nothing behind.
	bare := e.lease(t, "new", "pass-1", t0.Add(time.Minute))
	if err := e.store.Release(ctx, account("new"), "pass-1", bare); err != nil {
		t.Fatalf("Release of a bare lease: %v", err)
	}
	if doc := e.doc(t, "new"); doc != nil {
		t.Errorf("a released bare lease left %v", doc)
	}
	e.lease(t, "new", "pass-2", t0.Add(time.Minute)) // as if nobody had been there

	if err := e.store.Release(ctx, account("missing"), "pass-1", refresh.State{}); err != nil {
		t.Errorf("Release of an account without a document: %v", err)
	}
	if doc := e.doc(t, "missing"); doc != nil {
		t.Errorf("Release created %v", doc)
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
