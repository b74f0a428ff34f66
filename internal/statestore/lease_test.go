package statestore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/leases"
)

// Leases: Lease, Commit and Release as single conditional writes.

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

// leaseRecorded records st for the account, then leases it to owner until
// a minute after t0.
func (e env) leaseRecorded(t *testing.T, id, owner string, st refresh.State) refresh.State {
	t.Helper()
	e.lease(t, id, owner, t0.Add(time.Minute))
	e.commit(t, id, owner, st)
	return e.lease(t, id, owner, t0.Add(time.Minute))
}

func TestCommitWithLostLeaseWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	before := fullState("main")
	held := e.leaseRecorded(t, "main", "pass-1", before)
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
	if after := e.doc(t, "main"); !reflect.DeepEqual(after, stored) {
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
	if after := e.doc(t, id); !reflect.DeepEqual(after, before) {
		t.Errorf("Release %s changed the document from %v to %v", what, before, after)
	}
}

func TestRelease(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	st := fullState("main")
	held := e.leaseRecorded(t, "main", "pass-1", st)

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
