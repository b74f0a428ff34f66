package refresh_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/leases"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// heard is one Notifier call, with what the stores held at that moment.
type heard struct {
	change refresh.Change
	// recorded is the version the state recorded, newest the secret's
	// newest version, both read while the Notifier was being told.
	recorded, newest string
}

// listener is a Notifier (the engine's own interface) that records each
// change and checks the stores at the moment it is told. notify_test.go in
// internal/notify runs the engine with the real Pub/Sub publisher.
type listener struct {
	h    *harness
	fail error
	// block makes TokenChanged wait for its context to end.
	block bool

	mu    sync.Mutex
	heard []heard
}

func (l *listener) Announce(ctx context.Context, c refresh.Change) error {
	// Read straight from the store: the harness's helpers are for the
	// test's goroutine, and this runs in an account worker.
	a := l.h.account(c.Account)
	states, err := l.h.Store.Load(ctx, []refresh.Account{a})
	if err != nil {
		return err
	}
	cur, _, err := refresh.Current(ctx, l.h.Store, a)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.heard = append(l.heard, heard{change: c, recorded: states[c.Account].Version, newest: cur.Name})
	l.mu.Unlock()
	if l.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return l.fail
}

func (l *listener) take() []heard {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.heard
	l.heard = nil
	return h
}

func newListening(t *testing.T, configure func(*refresh.Engine)) (*harness, *listener) {
	l := &listener{}
	h := newHarness(t, func(e *refresh.Engine) {
		e.Notifier = l
		if configure != nil {
			configure(e)
		}
	})
	l.h = h
	return h, l
}

// TestNotifierHearsOfEachNewCurrentToken: a refresh and an adoption are
// each told once, after the new version is stored (and before the state
// write that records it as told: the state records it once the pass has
// ended); a fresh pass, a failure, a version that cannot be adopted and a
// busy account tell no new token (health events: health_test.go).
func TestNotifierHearsOfEachNewCurrentToken(t *testing.T) {
	t.Parallel()
	h, l := newListening(t, nil)
	h.seed("due", 72*time.Hour)
	h.seed("added", time.Hour) // added by hand, not due: adopted
	dead, _ := h.seed("dead", 72*time.Hour)
	h.TH.Revoke(dead)
	_, dv := h.seed("byhand", 72*time.Hour) // adopted, then refreshed at once
	// A payload no refresher takes is never adopted, so never announced.
	h.AddVersion("odd", time.Hour, []byte(`{"platform":"myspace","access_token":"MSsecrettoken"}`))
	h.seen["MSsecrettoken"] = true

	check := func(pass string, want map[string]refresh.ChangeEvent) {
		t.Helper()
		got := map[string]refresh.ChangeEvent{}
		for _, c := range l.take() {
			if !c.change.Event.TokenChange() {
				continue
			}
			if _, twice := got[c.change.Account]; twice {
				t.Errorf("%s: %s told twice", pass, c.change.Account)
			}
			got[c.change.Account] = c.change.Event
			a := h.account(c.change.Account)
			if c.change.Secret != a.Secret || c.change.Version == "" {
				t.Errorf("%s: change %+v does not name the secret %s and a version", pass, c.change, a.Secret)
			}
			// Never before the store; recorded by the pass's end.
			if c.newest != c.change.Version {
				t.Errorf("%s: told of %s while the secret's newest was %q", pass, c.change.Version, c.newest)
			}
			if st, _ := h.state(c.change.Account); st.Version != c.change.Version || st.Unannounced != "" {
				t.Errorf("%s: told of %s; after the pass the state records %q (untold %q)", pass, c.change.Version, st.Version, st.Unannounced)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: told %v, want %v", pass, got, want)
		}
		for a, ev := range want {
			if got[a] != ev {
				t.Errorf("%s: %s told %q, want %q", pass, a, got[a], ev)
			}
		}
	}

	// The first pass adopts every account's version (the state knows none
	// yet). dead's stays current, as its refresh is refused: adopted.
	h.pass()
	check("first pass", map[string]refresh.ChangeEvent{
		"due": refresh.ChangeRefreshed, "added": refresh.ChangeAdopted, "byhand": refresh.ChangeRefreshed,
		"dead": refresh.ChangeAdopted,
	})
	h.pass()
	check("second pass, dead still refused", nil)
	if _, cur := h.currentToken("byhand"); cur.Number != dv.Number+1 {
		t.Errorf("byhand: newest version %d, want the refresh's", cur.Number)
	}

	h.Clock.Advance(time.Hour)
	h.pass()
	check("fresh pass", nil)

	// A person logs in again for dead: the new version is adopted, though
	// its refresh fails (Threads is down), since it is the current token.
	h.Clock.Advance(time.Hour)
	h.seed("dead", 48*time.Hour)
	h.TH.FailNext(threadsfake.PathRefresh, threadsfake.Transient, 3) // every attempt
	if r := result(t, h.pass(), "dead"); r.Result != refresh.ResultFailed {
		t.Fatalf("dead after a new login with Threads down: %+v, want failed", r)
	}
	check("after a new login", map[string]refresh.ChangeEvent{"dead": refresh.ChangeAdopted})

	// Busy: another pass holds the lease; nothing is told for it.
	h.Clock.Advance(25 * time.Hour)
	if _, err := leases.Take(context.Background(), h.Store, h.account("due"), "another-pass", h.Clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	rep := h.pass()
	if r := result(t, rep, "due"); r.Result != refresh.ResultBusy {
		t.Fatalf("due: %+v, want busy", r)
	}
	check("day two", map[string]refresh.ChangeEvent{"added": refresh.ChangeRefreshed, "byhand": refresh.ChangeRefreshed, "dead": refresh.ChangeRefreshed})
}

// TestNotifierFailureChangesNothing: a notifier that fails, or does not
// answer, leaves the token stored and recorded, the account refreshed, and
// the pass going; it is logged at WARNING with the account, never ERROR.
// What was not told stays untold in the state, and the next pass tells
// it, once.
func TestNotifierFailureChangesNothing(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		setup func(*listener)
	}{
		{"fails", func(l *listener) { l.fail = errors.New("topic gone") }},
		{"hangs", func(l *listener) { l.block = true }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const bound = 300 * time.Millisecond
			h, l := newListening(t, func(e *refresh.Engine) { e.NotifyTimeout = bound })
			tt.setup(l)
			for _, id := range []string{"one", "two"} {
				h.seed(id, 72*time.Hour)
			}
			start := time.Now()
			done := make(chan refresh.Report, 1)
			go func() { done <- h.pass() }()
			var rep refresh.Report
			select {
			case rep = <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("the pass has not ended after 10s with a notifier bounded to %v", bound)
			}
			if took := time.Since(start); took > 2*bound+2*time.Second {
				t.Errorf("the pass took %v with a notifier bounded to %v", took, bound)
			}
			for _, id := range []string{"one", "two"} {
				if r := result(t, rep, id); r.Result != refresh.ResultRefreshed {
					t.Errorf("%s: %+v, want refreshed", id, r)
				}
				st, _ := h.state(id)
				if _, cur := h.currentToken(id); st.Version != cur.Name || cur.Number != 2 {
					t.Errorf("%s: state records %s, newest is %s; want the refresh stored and recorded", id, st.Version, cur.Name)
				}
				if st.Unannounced != refresh.ChangeRefreshed {
					t.Errorf("%s: the state's untold change is %q, want refreshed", id, st.Unannounced)
				}
			}
			if n := len(l.take()); n != 2 {
				t.Errorf("the notifier was called %d times, want 2", n)
			}
			logs := h.Logs.String()
			for _, id := range []string{"one", "two"} {
				if !strings.Contains(logs, `"severity":"WARNING","message":"token change not published; consumers reading latest still get the new token","account":"`+id+`"`) {
					t.Errorf("no WARNING naming %s:\n%s", id, logs)
				}
			}
			if strings.Contains(logs, `"severity":"ERROR"`) {
				t.Errorf("a failed publish logged an ERROR:\n%s", logs)
			}

			// The notifier works again: the next pass tells each account's
			// refresh, though the accounts are fresh, and the one after
			// tells nothing.
			l.fail, l.block = nil, false
			h.Clock.Advance(time.Hour)
			rep = h.pass()
			got := l.take()
			for _, id := range []string{"one", "two"} {
				if r := result(t, rep, id); r.Result != refresh.ResultFresh {
					t.Errorf("%s, next pass: %+v, want fresh", id, r)
				}
				if st, _ := h.state(id); st.Unannounced != "" {
					t.Errorf("%s: still untold after the notifier answered: %q", id, st.Unannounced)
				}
			}
			if len(got) != 2 || got[0].change.Event != refresh.ChangeRefreshed || got[1].change.Event != refresh.ChangeRefreshed {
				t.Errorf("the next pass told %+v, want each refresh once", got)
			}
			h.Clock.Advance(time.Hour)
			h.pass()
			if got := l.take(); len(got) != 0 {
				t.Errorf("a third pass told %+v, want nothing", got)
			}
			h.assertNoTokenLeak("one", "two")
		})
	}
}

// lostCommit fails the next Commit of a refreshed state, after the new
// version was stored.
type lostCommit struct {
	refresh.StateStore
	once sync.Once
}

func (s *lostCommit) Commit(ctx context.Context, a refresh.Account, owner string, st refresh.State) error {
	lose := false
	if strings.HasSuffix(st.Version, "/versions/2") {
		s.once.Do(func() { lose = true })
	}
	if lose {
		return errors.New("state store unreachable")
	}
	return s.StateStore.Commit(ctx, a, owner, st)
}

// TestNotifierNamesOnlyStoredVersions: a refresh whose state write is lost
// is told by that pass, after the new version is stored and before the
// write that failed; the next pass adopts the version and tells it again
// (at least once: a consumer reads latest twice), and the one after tells
// nothing. No message names a version that is not stored.
func TestNotifierNamesOnlyStoredVersions(t *testing.T) {
	t.Parallel()
	h, l := newListening(t, func(e *refresh.Engine) { e.States = &lostCommit{StateStore: e.States} })
	h.seed("main", 72*time.Hour)
	if r := result(t, h.pass(), "main"); r.Result != refresh.ResultRefreshed {
		t.Fatalf("%+v, want refreshed (the token is stored)", r)
	}
	got := l.take()
	if len(got) != 1 || got[0].change.Event != refresh.ChangeRefreshed || got[0].newest != got[0].change.Version {
		t.Errorf("told %+v, want the refresh of the stored version", got)
	}
	if st, _ := h.state("main"); st.Version == got[0].change.Version {
		t.Fatalf("the state records %s: the commit was not lost", st.Version)
	}
	h.Clock.Advance(time.Hour)
	if r := result(t, h.pass(), "main"); r.Result != refresh.ResultRolledForward {
		t.Fatalf("next pass: %+v, want rolled_forward", r)
	}
	again := l.take()
	if len(again) != 1 || again[0].change.Event != refresh.ChangeAdopted || again[0].change.Version != got[0].change.Version {
		t.Errorf("next pass told %+v, want one adoption of the same version", again)
	}
	h.Clock.Advance(time.Hour)
	h.pass()
	if got := l.take(); len(got) != 0 {
		t.Errorf("a third pass told %+v, want nothing", got)
	}
}
