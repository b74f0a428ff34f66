package secretstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/secretstore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/smfake"
)

// token is a payload distinctive enough to spot in any error string.
const token = "THAAtoken-SECRET-7f3a9c"

var mainAccount = refresh.Account{ID: "main", Secret: "projects/p/secrets/main"}

func start(t *testing.T, opts ...smfake.Option) (*smfake.Server, *secretstore.Store) {
	t.Helper()
	fake := smfake.Start(t, opts...)
	st, err := secretstore.New(context.Background(), secretstore.Options{EmulatorHost: fake.Addr()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return fake, st
}

// noPayload fails the test if err's message shows the payload.
func noPayload(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), token) {
		t.Errorf("error shows the payload: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	fake, st := start(t, smfake.WithClock(func() time.Time { return now }))

	if ok, err := st.SecretExists(ctx, mainAccount); err != nil || ok {
		t.Fatalf("SecretExists before creating = %v, %v; want false", ok, err)
	}
	if err := st.CreateSecret(ctx, mainAccount, map[string]string{"app": "threads"}); err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	if got := fake.Labels(mainAccount.Secret); got["app"] != "threads" {
		t.Errorf("labels = %v", got)
	}
	if err := st.CreateSecret(ctx, mainAccount, nil); !errors.Is(err, secretstore.ErrExists) {
		t.Errorf("creating it again: %v, want ErrExists", err)
	}
	if ok, err := st.SecretExists(ctx, mainAccount); err != nil || !ok {
		t.Fatalf("SecretExists after creating = %v, %v; want true", ok, err)
	}

	v1, err := st.Add(ctx, mainAccount, []byte(token+"-1"))
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	now = now.Add(24 * time.Hour)
	fake.SetNow(func() time.Time { return now })
	v2, err := st.Add(ctx, mainAccount, []byte(token+"-2"))
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	want := refresh.Version{Name: mainAccount.Secret + "/versions/2", Number: 2, CreateTime: now, State: refresh.VersionEnabled}
	if v2 != want {
		t.Errorf("Add returned %+v, want %+v", v2, want)
	}

	for _, tc := range []struct {
		v    refresh.Version
		want string
	}{{v1, token + "-1"}, {v2, token + "-2"}} {
		got, err := st.Access(ctx, mainAccount, tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("Access(%d) = %q, %v; want %q", tc.v.Number, got, err, tc.want)
		}
	}

	if err := st.Destroy(ctx, mainAccount, v1); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if err := st.Destroy(ctx, mainAccount, v1); err != nil {
		t.Errorf("destroying a destroyed version: %v, want nil", err)
	}
	if p := fake.Versions(mainAccount.Secret)[0].Payload; p != nil {
		t.Errorf("destroyed version still holds a payload")
	}
	_, err = st.Access(ctx, mainAccount, v1)
	if err == nil {
		t.Errorf("accessing a destroyed version succeeded")
	}
	noPayload(t, err)

	versions, err := st.Versions(ctx, mainAccount)
	if err != nil {
		t.Fatalf("Versions: %v", err)
	}
	states := map[int64]refresh.VersionState{}
	for _, v := range versions {
		states[v.Number] = v.State
	}
	if len(versions) != 2 || states[1] != refresh.VersionDestroyed || states[2] != refresh.VersionEnabled {
		t.Errorf("Versions = %+v", versions)
	}
}

func TestVersionsPages(t *testing.T) {
	t.Parallel()
	fake, st := start(t, smfake.WithMaxPageSize(2))
	fake.CreateSecret(mainAccount.Secret)
	for range 5 {
		fake.AddVersion(mainAccount.Secret, []byte(token), time.Time{})
	}
	versions, err := st.Versions(context.Background(), mainAccount)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, v := range versions {
		seen[v.Number] = true
	}
	if len(versions) != 5 || len(seen) != 5 {
		t.Errorf("Versions returned %d versions (%d distinct), want 5", len(versions), len(seen))
	}
	if n := fake.Calls("ListSecretVersions"); n != 3 {
		t.Errorf("Versions made %d calls, want 3 pages", n)
	}
}

func TestAccessChecksum(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper func(*secretmanagerpb.AccessSecretVersionResponse)
	}{
		{"data changed", func(r *secretmanagerpb.AccessSecretVersionResponse) { r.Payload.Data[0] ^= 1 }},
		{"checksum changed", func(r *secretmanagerpb.AccessSecretVersionResponse) { *r.Payload.DataCrc32C++ }},
		{"checksum missing", func(r *secretmanagerpb.AccessSecretVersionResponse) { r.Payload.DataCrc32C = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake, st := start(t, smfake.WithAccessTamper(tt.tamper))
			fake.CreateSecret(mainAccount.Secret)
			name := fake.AddVersion(mainAccount.Secret, []byte(token), time.Time{})
			got, err := st.Access(context.Background(), mainAccount, refresh.Version{Name: name, Number: 1})
			if !errors.Is(err, refresh.ErrChecksum) {
				t.Errorf("Access = %q, %v; want ErrChecksum", got, err)
			}
			noPayload(t, err)
		})
	}
}

func TestAddFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		account refresh.Account
		setup   func(*smfake.Server)
		timeout time.Duration
		want    error
		// added: whether the version landed despite the error.
		added bool
	}{
		{name: "unavailable", account: mainAccount, want: refresh.ErrUnavailable,
			setup: func(s *smfake.Server) { s.FailNext("AddSecretVersion", codes.Unavailable, 1) }},
		{name: "quota exceeded", account: mainAccount, want: refresh.ErrUnavailable,
			setup: func(s *smfake.Server) { s.FailNext("AddSecretVersion", codes.ResourceExhausted, 1) }},
		{name: "deadline after the write", account: mainAccount, want: refresh.ErrUncertain, added: true,
			setup: func(s *smfake.Server) { s.FailNextAfterApplying("AddSecretVersion", codes.DeadlineExceeded, 1) }},
		{name: "deadline before the write", account: mainAccount, want: refresh.ErrUncertain,
			setup: func(s *smfake.Server) { s.FailNext("AddSecretVersion", codes.DeadlineExceeded, 1) }},
		{name: "context deadline during the call", account: mainAccount, want: refresh.ErrUncertain, timeout: 50 * time.Millisecond,
			setup: func(s *smfake.Server) { s.SetLatency("AddSecretVersion", 2*time.Second) }},
		{name: "missing secret", account: refresh.Account{ID: "gone", Secret: "projects/p/secrets/gone"}, want: refresh.ErrNotFound,
			setup: func(*smfake.Server) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake, st := start(t)
			fake.CreateSecret(mainAccount.Secret)
			tt.setup(fake)
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			_, err := st.Add(ctx, tt.account, []byte(token))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Add: %v, want %v", err, tt.want)
			}
			if tt.want != refresh.ErrUncertain && errors.Is(err, refresh.ErrUncertain) {
				t.Errorf("Add: %v is also ErrUncertain", err)
			}
			noPayload(t, err)
			if !strings.HasPrefix(err.Error(), "adding a version to "+tt.account.Secret+": ") {
				t.Errorf("error %q does not say what was being done", err)
			}
			if n := fake.Calls("AddSecretVersion"); n != 1 {
				t.Errorf("Add made %d calls, want 1: the engine retries, not the adapter", n)
			}
			if got := len(fake.Versions(mainAccount.Secret)) == 1; got != tt.added {
				t.Errorf("version added = %v, want %v", got, tt.added)
			}
		})
	}
}

func TestReadFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake, st := start(t)

	_, err := st.Versions(ctx, mainAccount)
	if !errors.Is(err, refresh.ErrNotFound) {
		t.Errorf("Versions of a missing secret: %v, want ErrNotFound", err)
	}

	fake.CreateSecret(mainAccount.Secret)
	name := fake.AddVersion(mainAccount.Secret, []byte(token), time.Time{})
	fake.FailNext("ListSecretVersions", codes.Unavailable, 1)
	if _, err := st.Versions(ctx, mainAccount); !errors.Is(err, refresh.ErrUnavailable) {
		t.Errorf("Versions when unavailable: %v, want ErrUnavailable", err)
	}

	_, err = st.Access(ctx, mainAccount, refresh.Version{Name: mainAccount.Secret + "/versions/7", Number: 7})
	if !errors.Is(err, refresh.ErrNotFound) {
		t.Errorf("Access of a missing version: %v, want ErrNotFound", err)
	}

	// A blip while reading is absorbed by the client library's retries.
	fake.FailNext("AccessSecretVersion", codes.Unavailable, 1)
	if got, err := st.Access(ctx, mainAccount, refresh.Version{Name: name, Number: 1}); err != nil || string(got) != token {
		t.Errorf("Access after a blip = %v; want the payload", err)
	}
}

func TestDestroyFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake, st := start(t)
	fake.CreateSecret(mainAccount.Secret)
	name := fake.AddVersion(mainAccount.Secret, []byte(token), time.Time{})
	v := refresh.Version{Name: name, Number: 1}

	fake.FailNext("DestroySecretVersion", codes.DeadlineExceeded, 1)
	if err := st.Destroy(ctx, mainAccount, v); !errors.Is(err, refresh.ErrUncertain) {
		t.Errorf("Destroy past its deadline: %v, want ErrUncertain", err)
	}
	// A failed precondition that is not "already destroyed" is an error.
	fake.FailNext("DestroySecretVersion", codes.FailedPrecondition, 1)
	if err := st.Destroy(ctx, mainAccount, v); err == nil {
		t.Errorf("Destroy refused for an enabled version returned nil")
	}
	if err := st.Destroy(ctx, mainAccount, refresh.Version{Number: 9}); !errors.Is(err, refresh.ErrNotFound) {
		t.Errorf("Destroy of a missing version: %v, want ErrNotFound", err)
	}
	if err := st.Destroy(ctx, mainAccount, v); err != nil {
		t.Errorf("Destroy: %v", err)
	}
}

// Secret Manager names resources by project number, even when asked by
// project ID; the store must hand those names back as given.
func TestProjectNumberNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake, st := start(t, smfake.WithProjectNumbers(map[string]string{"my-project": "123456"}))
	a := refresh.Account{ID: "main", Secret: "projects/my-project/secrets/main"}
	if err := st.CreateSecret(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	if !fake.HasSecret("projects/123456/secrets/main") {
		t.Fatal("secret not created under the project number")
	}

	added, err := st.Add(ctx, a, []byte(token))
	if err != nil {
		t.Fatal(err)
	}
	const want = "projects/123456/secrets/main/versions/1"
	if added.Name != want || added.Number != 1 {
		t.Errorf("Add returned %+v, want name %s", added, want)
	}
	versions, err := st.Versions(ctx, a)
	if err != nil || len(versions) != 1 || versions[0].Name != want {
		t.Fatalf("Versions = %+v, %v; want one named %s", versions, err, want)
	}
	if got, err := st.Access(ctx, a, versions[0]); err != nil || string(got) != token {
		t.Errorf("Access by the returned name: %v", err)
	}
	if err := st.Destroy(ctx, a, versions[0]); err != nil {
		t.Errorf("Destroy by the returned name: %v", err)
	}
}

func newClient(t *testing.T, fake *smfake.Server) *secretmanager.Client {
	t.Helper()
	c, err := secretmanager.NewClient(context.Background(),
		option.WithEndpoint(fake.Addr()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestNewFromClientLeavesClientOpen(t *testing.T) {
	t.Parallel()
	fake := smfake.Start(t)
	fake.CreateSecret(mainAccount.Secret)
	c := newClient(t, fake)
	st := secretstore.NewFromClient(c)
	if _, err := st.Add(context.Background(), mainAccount, []byte(token)); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSecret(context.Background(), &secretmanagerpb.GetSecretRequest{Name: mainAccount.Secret}); err != nil {
		t.Errorf("the caller's client stopped working after Store.Close: %v", err)
	}
}

// Even a client configured to retry AddSecretVersion makes one attempt per
// Add: a blind retry could store the token twice.
func TestAddDoesNotRetry(t *testing.T) {
	t.Parallel()
	fake := smfake.Start(t)
	fake.CreateSecret(mainAccount.Secret)
	c := newClient(t, fake)
	c.CallOptions.AddSecretVersion = append(c.CallOptions.AddSecretVersion, gax.WithRetry(func() gax.Retryer {
		return gax.OnCodes([]codes.Code{codes.Unavailable, codes.DeadlineExceeded}, gax.Backoff{Initial: time.Millisecond})
	}))
	st := secretstore.NewFromClient(c)

	fake.FailNext("AddSecretVersion", codes.Unavailable, 1)
	if _, err := st.Add(context.Background(), mainAccount, []byte(token)); !errors.Is(err, refresh.ErrUnavailable) {
		t.Errorf("Add: %v, want ErrUnavailable", err)
	}
	if n := fake.Calls("AddSecretVersion"); n != 1 {
		t.Errorf("Add made %d calls, want 1", n)
	}
}
