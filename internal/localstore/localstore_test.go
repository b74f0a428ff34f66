package localstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/fakeclock"
)

func newClock() *fakeclock.Clock {
	return fakeclock.New(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
}

// newStore opens a store in a fresh directory and closes it at the end.
func newStore(t *testing.T, c *fakeclock.Clock) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "refresher.db")
	s, err := Open(path, Options{Now: c.Now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func mustCreate(t *testing.T, s *Store, id string) refresh.Account {
	t.Helper()
	a, err := s.CreateSecret(t.Context(), id)
	if err != nil {
		t.Fatalf("CreateSecret(%q): %v", id, err)
	}
	return a
}

func mustAdd(t *testing.T, s *Store, a refresh.Account, payload string) refresh.Version {
	t.Helper()
	v, err := s.Add(t.Context(), a, []byte(payload))
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	return v
}

// rawUpdate changes the file behind the store's back, as damage would.
func rawUpdate(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("opening %s with bbolt: %v", path, err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatalf("changing %s: %v", path, err)
	}
}

func rawView(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, ReadOnly: true})
	if err != nil {
		t.Fatalf("opening %s with bbolt: %v", path, err)
	}
	defer db.Close()
	if err := db.View(fn); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
}

func TestVersionsRoundTrip(t *testing.T) {
	t.Parallel()
	c := newClock()
	s, path := newStore(t, c)
	a := mustCreate(t, s, "main")
	if a.ID != "main" || a.Secret != "secrets/main" {
		t.Fatalf("CreateSecret = %+v, want ID main, Secret secrets/main", a)
	}

	payloads := []string{`{"access_token":"one"}`, `{"access_token":"two"}`, ""}
	var added []refresh.Version
	for _, p := range payloads {
		added = append(added, mustAdd(t, s, a, p))
		c.Advance(time.Hour)
	}

	// A second Store on the same file, as another process would see it.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path, Options{Now: c.Now})
	if err != nil {
		t.Fatalf("reopening: %v", err)
	}
	defer s2.Close()

	got, err := s2.Versions(t.Context(), a)
	if err != nil {
		t.Fatalf("Versions: %v", err)
	}
	if len(got) != len(payloads) {
		t.Fatalf("Versions returned %d versions, want %d", len(got), len(payloads))
	}
	start := newClock().Now()
	for i, v := range got {
		n := int64(i + 1)
		wantName := fmt.Sprintf("secrets/main/versions/%d", n)
		if v != added[i] {
			t.Errorf("version %d listed as %+v, Add returned %+v", n, v, added[i])
		}
		if v.Name != wantName || v.Number != n || v.State != refresh.VersionEnabled {
			t.Errorf("version %d = %+v, want name %s, ENABLED", n, v, wantName)
		}
		if want := start.Add(time.Duration(i) * time.Hour); !v.CreateTime.Equal(want) {
			t.Errorf("version %d created %v, want %v", n, v.CreateTime, want)
		}
		if id, ok := refresh.SecretID(v.Name); !ok || id != "main" {
			t.Errorf("SecretID(%q) = %q, %v", v.Name, id, ok)
		}
		if num, ok := refresh.VersionNumber(v.Name); !ok || num != n {
			t.Errorf("VersionNumber(%q) = %d, %v", v.Name, num, ok)
		}
		p, err := s2.Access(t.Context(), a, v)
		if err != nil {
			t.Fatalf("Access(%d): %v", n, err)
		}
		if string(p) != payloads[i] {
			t.Errorf("Access(%d) = %q, want %q", n, p, payloads[i])
		}
	}

	latest, p, err := refresh.Current(t.Context(), s2, a)
	if err != nil {
		t.Fatalf("Current: %v", err)
	}
	if latest.Number != 3 || string(p) != payloads[2] {
		t.Errorf("Current = %d %q, want 3 %q", latest.Number, p, payloads[2])
	}
}

func TestNumbersAreNeverReused(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, newClock())
	a := mustCreate(t, s, "main")
	for range 3 {
		mustAdd(t, s, a, "x")
	}
	// Destroying the newest must not free its number.
	if err := s.Destroy(t.Context(), a, refresh.Version{Number: 3}); err != nil {
		t.Fatal(err)
	}
	if v := mustAdd(t, s, a, "y"); v.Number != 4 {
		t.Errorf("version added after destroying 3 is %d, want 4", v.Number)
	}
	// Numbering is per secret.
	b := mustCreate(t, s, "other")
	if v := mustAdd(t, s, b, "z"); v.Number != 1 {
		t.Errorf("first version of a second secret is %d, want 1", v.Number)
	}
}

func TestDestroyAndDisable(t *testing.T) {
	t.Parallel()
	c := newClock()
	s, path := newStore(t, c)
	a := mustCreate(t, s, "main")
	v1 := mustAdd(t, s, a, "token-one")
	v2 := mustAdd(t, s, a, "token-two")
	v3 := mustAdd(t, s, a, "token-three")

	if err := s.Destroy(t.Context(), a, v1); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if err := s.Destroy(t.Context(), a, v1); err != nil {
		t.Errorf("destroying a destroyed version: %v, want no error", err)
	}
	if _, err := s.Access(t.Context(), a, v1); !errors.Is(err, ErrNotEnabled) {
		t.Errorf("Access of destroyed version: %v, want ErrNotEnabled", err)
	}
	// The token must be gone from the file, not only hidden.
	rawView(t, path, func(tx *bolt.Tx) error {
		if p := tx.Bucket(bucketSecrets).Bucket([]byte("main")).Bucket(bucketPayloads).Get(versionKey(1)); p != nil {
			t.Errorf("destroyed version still has payload %q in the file", p)
		}
		return nil
	})

	if err := s.DisableVersion(t.Context(), a, v3); err != nil {
		t.Fatalf("DisableVersion: %v", err)
	}
	if _, err := s.Access(t.Context(), a, v3); !errors.Is(err, ErrNotEnabled) {
		t.Errorf("Access of disabled version: %v, want ErrNotEnabled", err)
	}
	if err := s.DisableVersion(t.Context(), a, v1); !errors.Is(err, ErrNotEnabled) {
		t.Errorf("disabling a destroyed version: %v, want ErrNotEnabled", err)
	}
	// Current passes over the disabled newest version.
	latest, p, err := refresh.Current(t.Context(), s, a)
	if err != nil || latest.Number != v2.Number || string(p) != "token-two" {
		t.Errorf("Current = %d %q %v, want 2 token-two", latest.Number, p, err)
	}
	// A disabled version can still be destroyed.
	if err := s.Destroy(t.Context(), a, v3); err != nil {
		t.Errorf("destroying a disabled version: %v", err)
	}

	vs, err := s.Versions(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	states := map[int64]refresh.VersionState{}
	for _, v := range vs {
		states[v.Number] = v.State
	}
	want := map[int64]refresh.VersionState{1: refresh.VersionDestroyed, 2: refresh.VersionEnabled, 3: refresh.VersionDestroyed}
	if !maps.Equal(states, want) {
		t.Errorf("states = %v, want %v", states, want)
	}

	if err := s.Destroy(t.Context(), a, refresh.Version{Number: 9}); !errors.Is(err, refresh.ErrNotFound) {
		t.Errorf("destroying a missing version: %v, want ErrNotFound", err)
	}
	if _, err := s.Access(t.Context(), a, refresh.Version{Number: 9}); !errors.Is(err, refresh.ErrNotFound) {
		t.Errorf("accessing a missing version: %v, want ErrNotFound", err)
	}
	if err := s.Destroy(t.Context(), a, v2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := refresh.Current(t.Context(), s, a); !errors.Is(err, refresh.ErrNotFound) {
		t.Errorf("Current with no enabled version: %v, want ErrNotFound", err)
	}
}

func TestChecksumMismatch(t *testing.T) {
	t.Parallel()
	s, path := newStore(t, newClock())
	a := mustCreate(t, s, "main")
	v := mustAdd(t, s, a, `{"access_token":"SECRET-TOKEN-VALUE"}`)

	rawUpdate(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSecrets).Bucket([]byte("main")).Bucket(bucketPayloads)
		p := bytes.Clone(b.Get(versionKey(uint64(v.Number))))
		p[len(p)/2] ^= 0x01 // one flipped bit
		return b.Put(versionKey(uint64(v.Number)), p)
	})

	_, err := s.Access(t.Context(), a, v)
	if !errors.Is(err, refresh.ErrChecksum) {
		t.Fatalf("Access of a damaged payload: %v, want ErrChecksum", err)
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error shows the payload: %v", err)
	}
	if _, _, err := refresh.Current(t.Context(), s, a); !errors.Is(err, refresh.ErrChecksum) {
		t.Errorf("Current of a damaged payload: %v, want ErrChecksum", err)
	}
}

func TestMissingSecret(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, newClock())
	a := s.Account("nobody")
	ctx := t.Context()

	calls := map[string]func() error{
		"Versions": func() error { _, err := s.Versions(ctx, a); return err },
		"Access":   func() error { _, err := s.Access(ctx, a, refresh.Version{Number: 1}); return err },
		"Add":      func() error { _, err := s.Add(ctx, a, []byte("x")); return err },
		"Destroy":  func() error { return s.Destroy(ctx, a, refresh.Version{Number: 1}) },
		"Current":  func() error { _, _, err := refresh.Current(ctx, s, a); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, refresh.ErrNotFound) {
			t.Errorf("%s on a missing secret: %v, want ErrNotFound", name, err)
		}
	}
	// Add did not create the secret on the way.
	if accounts, err := s.Accounts(ctx); err != nil || len(accounts) != 0 {
		t.Errorf("Accounts = %v, %v; want none", accounts, err)
	}
}

func TestCreateSecretIsIdempotent(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, newClock())
	a := mustCreate(t, s, "main")
	mustAdd(t, s, a, "kept")
	again := mustCreate(t, s, "main")
	if again != a {
		t.Errorf("second CreateSecret = %+v, want %+v", again, a)
	}
	_, p, err := refresh.Current(t.Context(), s, a)
	if err != nil || string(p) != "kept" {
		t.Errorf("after creating again, Current = %q, %v; want the version kept", p, err)
	}
}

func TestAccountsSorted(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, newClock())
	for _, id := range []string{"work", "Main", "alt-2", "alt_1"} {
		mustCreate(t, s, id)
	}
	accounts, err := s.Accounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range accounts {
		if a != s.Account(a.ID) {
			t.Errorf("account %+v is not named like Account(%q)", a, a.ID)
		}
		ids = append(ids, a.ID)
	}
	if want := []string{"Main", "alt-2", "alt_1", "work"}; !slices.Equal(ids, want) {
		t.Errorf("Accounts = %v, want %v", ids, want)
	}
}

func TestIDValidation(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, newClock())
	tests := []struct {
		id string
		ok bool
	}{
		{"main", true},
		{"A-z_09", true},
		{strings.Repeat("a", 255), true},
		{"", false},
		{strings.Repeat("a", 256), false},
		{"a/b", false},
		{"../etc", false},
		{"with space", false},
		{"dot.ted", false},
		{"ünïcode", false},
	}
	for _, tt := range tests {
		_, err := s.CreateSecret(t.Context(), tt.id)
		if tt.ok != (err == nil) {
			t.Errorf("CreateSecret(%q) error = %v, want ok=%v", tt.id, err, tt.ok)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.id)) {
			t.Errorf("CreateSecret(%q) error %q does not name the bad name", tt.id, err)
		}
		if !tt.ok {
			if _, err := s.Lease(t.Context(), refresh.Account{ID: tt.id}, "me", time.Now(), refresh.State{}); err == nil {
				t.Errorf("Lease(%q) accepted an invalid name", tt.id)
			}
		}
	}
}

func TestForeignAccountRefused(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, newClock())
	mustCreate(t, s, "main")
	// A Secret Manager name handed to the local store is a wiring mistake.
	a := refresh.Account{ID: "main", Secret: "projects/p/secrets/main"}
	if _, err := s.Versions(t.Context(), a); err == nil || errors.Is(err, refresh.ErrNotFound) {
		t.Errorf("Versions of a foreign account: %v, want a naming error", err)
	}
}

func TestPayloadLimit(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, newClock())
	a := mustCreate(t, s, "main")
	if _, err := s.Add(t.Context(), a, make([]byte, MaxPayload)); err != nil {
		t.Errorf("Add of %d bytes: %v", MaxPayload, err)
	}
	if _, err := s.Add(t.Context(), a, make([]byte, MaxPayload+1)); err == nil {
		t.Errorf("Add of %d bytes succeeded", MaxPayload+1)
	}
}

func TestLockTimeout(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := filepath.Join(t.TempDir(), "refresher.db")
	s, err := Open(path, Options{Now: c.Now, LockTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// Something else holds the file open for writing, as a stuck process
	// or a bbolt tool would.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	begin := time.Now()
	_, err = s.Lease(t.Context(), s.Account("main"), "me", c.Now().Add(time.Minute), refresh.State{})
	if !errors.Is(err, refresh.ErrUnavailable) {
		t.Fatalf("Lease while the file is held: %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "another refresher holds "+path+" for too long") {
		t.Errorf("error %q does not say who holds what", err)
	}
	if waited := time.Since(begin); waited > 5*time.Second {
		t.Errorf("waited %v for a 300ms lock timeout", waited)
	}

	// A context deadline shorter than the lock timeout wins.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = s.Versions(ctx, s.Account("main"))
	if !errors.Is(err, refresh.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Versions with a short deadline: %v, want ErrUnavailable and DeadlineExceeded", err)
	}
}

func TestClosedStore(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, newClock())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Accounts(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Accounts after Close: %v, want ErrClosed", err)
	}
	if _, err := s.CreateSecret(t.Context(), "main"); !errors.Is(err, ErrClosed) {
		t.Errorf("CreateSecret after Close: %v, want ErrClosed", err)
	}
}

func TestDefaultPath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("HOME", dir)
	t.Setenv("AppData", dir)
	got, err := DefaultPath()
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "threads-token-refresher", "refresher.db")
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		want = filepath.Join(dir, "Library", "Application Support", "threads-token-refresher", "refresher.db")
	}
	if got != want {
		t.Errorf("DefaultPath() = %q, want %q", got, want)
	}
}

func TestOpenRejectsDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := Open(dir, Options{}); err == nil {
		t.Errorf("Open of a directory succeeded")
	}
	if _, err := Open("", Options{}); err == nil {
		t.Errorf("Open of an empty path succeeded")
	}
	// A file that is not a bbolt database is refused, not overwritten.
	path := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(path, bytes.Repeat([]byte("not a database\n"), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{}); err == nil {
		t.Errorf("Open of a text file succeeded")
	}
}
