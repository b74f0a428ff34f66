package localstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/fakeclock"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/leases"
)

// The state records and their leases (state.go).

func TestLoadAndCommit(t *testing.T) {
	t.Parallel()
	c := newClock()
	s, _ := newStore(t, c)
	ctx := t.Context()
	main, alt, none := s.Account("main"), s.Account("alt"), s.Account("none")

	states, err := s.Load(ctx, []refresh.Account{main, alt})
	if err != nil || len(states) != 0 {
		t.Fatalf("Load of an empty store = %v, %v; want empty", states, err)
	}

	// A bare lease is no state: Load gives the record, without a status,
	// so that its revision reaches the next Lease.
	st, err := s.Lease(ctx, main, "pass-1", c.Now().Add(time.Minute), states["main"])
	if err != nil {
		t.Fatalf("Lease: %v", err)
	}
	if st.Known() {
		t.Errorf("Lease of a new account returned state %+v", st)
	}
	if states, _ := s.Load(ctx, []refresh.Account{main}); len(states) != 1 || states["main"].Known() || states["main"].Rev != st.Rev {
		t.Errorf("Load after a bare lease = %+v, want the bare record as the lease left it", states)
	}

	want := refresh.State{
		Secret:              main.Secret,
		Version:             "secrets/main/versions/3",
		Platform:            "instagram",
		RefreshedAt:         c.Now(),
		IssuedAt:            c.Now().Add(-time.Second),
		IssuedFrom:          refresh.ClockMeta,
		ExpiresAt:           c.Now().Add(60 * 24 * time.Hour),
		ExpiryFrom:          refresh.ClockEstimate,
		DataAccessExpiresAt: c.Now().Add(90 * 24 * time.Hour).In(time.FixedZone("CET", 3600)),
		Scopes:              []string{"instagram_business_basic"},
		Status:              refresh.StatusFailing,
		LastError:           "Threads said no",
		Failures:            2,
		LastAttemptAt:       c.Now().Add(time.Second).In(time.FixedZone("CET", 3600)),
		Rev:                 st.Rev,
	}
	if err := s.Commit(ctx, main, "pass-1", want); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	states, err = s.Load(ctx, []refresh.Account{main, alt, none})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(states) != 1 {
		t.Fatalf("Load = %v, want only main", states)
	}
	if got := states["main"]; !stateEqual(got, want) {
		t.Errorf("Load = %+v, want %+v", got, want)
	}

	// Commit dropped the lease: anyone may take it now, and gets the state.
	got, err := s.Lease(ctx, main, "pass-2", c.Now().Add(time.Minute), states["main"])
	if err != nil {
		t.Fatalf("Lease after Commit: %v", err)
	}
	if !stateEqual(got, want) {
		t.Errorf("Lease returned %+v, want %+v", got, want)
	}
}

func stateEqual(a, b refresh.State) bool {
	return a.Secret == b.Secret && a.Version == b.Version && a.Platform == b.Platform &&
		a.RefreshedAt.Equal(b.RefreshedAt) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.IssuedAt.Equal(b.IssuedAt) && a.IssuedFrom == b.IssuedFrom && a.ExpiryFrom == b.ExpiryFrom &&
		a.DataAccessExpiresAt.Equal(b.DataAccessExpiresAt) && slices.Equal(a.Scopes, b.Scopes) &&
		a.Status == b.Status && a.LastError == b.LastError &&
		a.Failures == b.Failures && a.LastAttemptAt.Equal(b.LastAttemptAt)
}

// leaseCase is where each TestLeaseRules case starts: "holder" holds the
// lease for five minutes (held is what its Lease returned), and stale is
// the record as a pass read it before that lease.
type leaseCase struct {
	s     *Store
	c     *fakeclock.Clock
	a     refresh.Account
	held  refresh.State
	stale refresh.State
}

func (lc leaseCase) take(t *testing.T, owner string) error {
	_, err := leases.Take(t.Context(), lc.s, lc.a, owner, lc.c.Now().Add(time.Minute))
	return err
}

// takeOver lets the holder's lease expire and "other" take it.
func (lc leaseCase) takeOver(t *testing.T) {
	t.Helper()
	lc.c.Advance(10 * time.Minute)
	if err := lc.take(t, "other"); err != nil {
		t.Fatalf("taking over the expired lease: %v", err)
	}
}

// release releases, as owner, the lease the holder took.
func (lc leaseCase) release(t *testing.T, owner string) {
	t.Helper()
	if err := lc.s.Release(t.Context(), lc.a, owner, lc.held); err != nil {
		t.Fatalf("Release by %s: %v", owner, err)
	}
}

func TestLeaseRules(t *testing.T) {
	t.Parallel()
	ok := refresh.State{Secret: "secrets/main", Version: "secrets/main/versions/1", Status: refresh.StatusOK}
	// refused is what the Commits that must fail try to write.
	refused := refresh.State{Secret: "secrets/main", Version: "secrets/main/versions/2", Status: refresh.StatusFailing, LastError: "must not be written"}
	// under gives st the revision of a lease.
	under := func(st, leased refresh.State) refresh.State { st.Rev = leased.Rev; return st }
	tests := []struct {
		name string
		run  func(t *testing.T, lc leaseCase) error
		want error
	}{
		{
			name: "other owner, lease unexpired",
			run:  func(t *testing.T, lc leaseCase) error { return lc.take(t, "other") },
			want: refresh.ErrBusy,
		},
		{
			name: "other owner, lease expired",
			run: func(t *testing.T, lc leaseCase) error {
				lc.c.Advance(10 * time.Minute)
				return lc.take(t, "other")
			},
		},
		{
			name: "same owner extends",
			run:  func(t *testing.T, lc leaseCase) error { return lc.take(t, "holder") },
		},
		{
			// The read predates the holder's lease: even once that lease
			// has expired, the record is not as read.
			name: "stale read, lease expired",
			run: func(t *testing.T, lc leaseCase) error {
				lc.c.Advance(10 * time.Minute)
				_, err := lc.s.Lease(t.Context(), lc.a, "other", lc.c.Now().Add(time.Minute), lc.stale)
				return err
			},
			want: refresh.ErrBusy,
		},
		{
			name: "read found no record, there is one",
			run: func(t *testing.T, lc leaseCase) error {
				lc.c.Advance(10 * time.Minute)
				_, err := lc.s.Lease(t.Context(), lc.a, "other", lc.c.Now().Add(time.Minute), refresh.State{})
				return err
			},
			want: refresh.ErrBusy,
		},
		{
			name: "commit by a non-holder",
			run:  func(t *testing.T, lc leaseCase) error { return lc.s.Commit(t.Context(), lc.a, "other", refused) },
			want: refresh.ErrLeaseLost,
		},
		{
			name: "commit by a non-holder with the holder's revision",
			run: func(t *testing.T, lc leaseCase) error {
				return lc.s.Commit(t.Context(), lc.a, "other", under(refused, lc.held))
			},
			want: refresh.ErrLeaseLost,
		},
		{
			name: "commit with a read's revision, not a lease's",
			run: func(t *testing.T, lc leaseCase) error {
				lc.release(t, "holder")
				states, err := lc.s.Load(t.Context(), []refresh.Account{lc.a})
				if err != nil {
					t.Fatal(err)
				}
				return lc.s.Commit(t.Context(), lc.a, "holder", under(refused, states["main"]))
			},
			want: refresh.ErrLeaseLost,
		},
		{
			name: "commit after the lease was taken over",
			run: func(t *testing.T, lc leaseCase) error {
				lc.takeOver(t)
				return lc.s.Commit(t.Context(), lc.a, "holder", under(refused, lc.held))
			},
			want: refresh.ErrLeaseLost,
		},
		{
			name: "commit after expiry nobody used",
			run: func(t *testing.T, lc leaseCase) error {
				lc.c.Advance(10 * time.Minute)
				return lc.s.Commit(t.Context(), lc.a, "holder", under(ok, lc.held))
			},
		},
		{
			name: "commit twice",
			run: func(t *testing.T, lc leaseCase) error {
				if err := lc.s.Commit(t.Context(), lc.a, "holder", under(ok, lc.held)); err != nil {
					t.Fatal(err)
				}
				return lc.s.Commit(t.Context(), lc.a, "holder", under(refused, lc.held))
			},
			want: refresh.ErrLeaseLost,
		},
		{
			name: "release by a non-holder keeps the lease",
			run: func(t *testing.T, lc leaseCase) error {
				lc.release(t, "other")
				return lc.take(t, "third")
			},
			want: refresh.ErrBusy,
		},
		{
			name: "release frees the lease",
			run: func(t *testing.T, lc leaseCase) error {
				lc.release(t, "holder")
				return lc.take(t, "other")
			},
		},
		{
			name: "release after the lease was taken over keeps the new one",
			run: func(t *testing.T, lc leaseCase) error {
				lc.takeOver(t)
				lc.release(t, "holder")
				return lc.take(t, "third")
			},
			want: refresh.ErrBusy,
		},
		{
			name: "commit after release",
			run: func(t *testing.T, lc leaseCase) error {
				lc.release(t, "holder")
				return lc.s.Commit(t.Context(), lc.a, "holder", under(refused, lc.held))
			},
			want: refresh.ErrLeaseLost,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			s, _ := newStore(t, c)
			a := s.Account("main")
			prior := refresh.State{Secret: a.Secret, Version: "secrets/main/versions/0", Status: refresh.StatusFailing, LastError: "prior"}
			setup, err := leases.Take(t.Context(), s, a, "setup", c.Now().Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Commit(t.Context(), a, "setup", under(prior, setup)); err != nil {
				t.Fatal(err)
			}
			states, err := s.Load(t.Context(), []refresh.Account{a})
			if err != nil {
				t.Fatal(err)
			}
			held, err := leases.Take(t.Context(), s, a, "holder", c.Now().Add(5*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if !stateEqual(held, prior) {
				t.Fatalf("Lease read %+v, want %+v", held, prior)
			}

			err = tt.run(t, leaseCase{s: s, c: c, a: a, held: held, stale: states["main"]})
			if tt.want == nil && err != nil {
				t.Fatalf("got %v, want no error", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			// A refused Commit writes nothing.
			states, err = s.Load(t.Context(), []refresh.Account{a})
			if err != nil {
				t.Fatal(err)
			}
			if got := states["main"]; got.LastError == refused.LastError {
				t.Errorf("a refused Commit wrote %+v", got)
			}
		})
	}
}

func TestReleaseOfBareLeaseLeavesNothing(t *testing.T) {
	t.Parallel()
	c := newClock()
	s, path := newStore(t, c)
	a := s.Account("main")
	leased, err := leases.Take(t.Context(), s, a, "me", c.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Release(t.Context(), a, "me", leased); err != nil {
		t.Fatal(err)
	}
	rawView(t, path, func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketState).Get([]byte("main")); v != nil {
			t.Errorf("record left after releasing a bare lease: %s", v)
		}
		return nil
	})
}

// The state records use the Firestore document's field names, so that a
// person or a script reading either store finds the same fields.
func TestStateFieldNames(t *testing.T) {
	t.Parallel()
	c := newClock()
	s, path := newStore(t, c)
	a := s.Account("main")
	leased, err := leases.Take(t.Context(), s, a, "me", c.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	full := refresh.State{
		Secret: a.Secret, Version: "secrets/main/versions/1", Platform: "threads",
		RefreshedAt: c.Now(), ExpiresAt: c.Now(), Status: refresh.StatusFailing,
		IssuedAt: c.Now(), IssuedFrom: refresh.ClockRefresh, ExpiryFrom: refresh.ClockRefresh,
		DataAccessExpiresAt: c.Now(), Scopes: []string{"threads_basic"},
		LastError: "e", Failures: 1, LastAttemptAt: c.Now(), Rev: leased.Rev,
		Announced: refresh.HealthFailing, Unannounced: refresh.ChangeAdopted,
	}
	if err := s.Commit(t.Context(), a, "me", full); err != nil {
		t.Fatal(err)
	}
	if _, err := leases.Take(t.Context(), s, a, "me", c.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var fields []string
	rawView(t, path, func(tx *bolt.Tx) error {
		var m map[string]any
		if err := json.Unmarshal(tx.Bucket(bucketState).Get([]byte("main")), &m); err != nil {
			return err
		}
		fields = slices.Sorted(maps.Keys(m))
		return nil
	})
	want := []string{"announced", "dataAccessExpiresAt", "expiresAt", "expiryFrom", "failures", "issuedAt", "issuedFrom", "lastAttemptAt", "lastError",
		"leaseExpiresAt", "leaseOwner", "platform", "refreshedAt", "scopes", "secret", "status", "unannounced", "version"}
	if !slices.Equal(fields, want) {
		t.Errorf("stored fields = %v, want %v", fields, want)
	}
}

// Twenty passes leasing one account at once: exactly one gets it, whether
// they share a Store or each open their own (as separate processes do).
func TestLeaseConcurrent(t *testing.T) {
	t.Parallel()
	for _, shared := range []bool{true, false} {
		t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) {
			t.Parallel()
			c := newClock()
			first, path := newStore(t, c)
			const n = 20
			stores := make([]*Store, n)
			for i := range stores {
				stores[i] = first
				if !shared {
					s, err := Open(path, Options{Now: c.Now})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = s.Close() })
					stores[i] = s
				}
			}
			a := first.Account("main")
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					_, errs[i] = leases.Take(t.Context(), stores[i], a, fmt.Sprintf("pass-%d", i), c.Now().Add(time.Minute))
				})
			}
			close(start)
			wg.Wait()

			winners := 0
			for i, err := range errs {
				switch {
				case err == nil:
					winners++
				case !errors.Is(err, refresh.ErrBusy):
					t.Errorf("pass %d: %v, want nil or ErrBusy", i, err)
				}
			}
			if winners != 1 {
				t.Errorf("%d passes got the lease, want exactly 1", winners)
			}
		})
	}
}
