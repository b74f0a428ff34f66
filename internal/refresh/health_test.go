package refresh_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/leases"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// events are the changes told, in order.
func events(hs []heard) []refresh.ChangeEvent {
	var out []refresh.ChangeEvent
	for _, h := range hs {
		out = append(out, h.change.Event)
	}
	return out
}

func wantTold(t *testing.T, what string, got []heard, want ...refresh.ChangeEvent) []heard {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: told %v, want %v", what, events(got), want)
	}
	for i := range want {
		if got[i].change.Event != want[i] {
			t.Fatalf("%s: told %v, want %v", what, events(got), want)
		}
	}
	return got
}

// TestHealthChangesCarryWhatConsumersNeed: each message carries the
// account's health after the change and its hours left; a token change
// names the version (and only a token change does); failing and
// needs_reauth carry the last error, needs_reauth and expiring the command
// that fixes it, for the account's platform; none holds a token.
func TestHealthChangesCarryWhatConsumersNeed(t *testing.T) {
	t.Parallel()
	h, l := newListening(t, nil)
	h.seed("main", 72*time.Hour)
	h.pass()
	c := wantTold(t, "first pass", l.take(), refresh.ChangeRefreshed)[0].change
	if c.Health != refresh.HealthOK || c.Version == "" || c.HoursLeft == nil || *c.HoursLeft < 1400 || c.Error != "" || c.Fix != "" ||
		c.Platform != "threads" || !c.At.Equal(h.Clock.Now()) {
		t.Errorf("refreshed: %+v", c)
	}

	h.Clock.Advance(25 * time.Hour)
	h.TH.FailNext(threadsfake.PathRefresh, threadsfake.Transient, 3)
	h.pass()
	c = wantTold(t, "a failed refresh", l.take(), refresh.ChangeFailing)[0].change
	if c.Health != refresh.HealthFailing || c.Version != "" || c.Error == "" || c.Fix != "" || c.HoursLeft == nil {
		t.Errorf("failing: %+v", c)
	}

	tok, _ := h.currentToken("main")
	h.TH.Revoke(tok)
	h.Clock.Advance(time.Hour)
	h.pass()
	c = wantTold(t, "a refusal", l.take(), refresh.ChangeNeedsReauth)[0].change
	if c.Health != refresh.HealthNeedsReauth || c.Version != "" || !strings.Contains(c.Error, "code 190") ||
		c.Fix != "`refresher login --redirect-uri URI main`, or `refresher add main < long-lived-token.txt`" {
		t.Errorf("needs_reauth: %+v", c)
	}
	h.assertNoTokenLeak("main")
}

// TestToldOnceAtTheCostOfOneWrite: an account that turns expiring while it
// is fresh (its data access runs out, no pass due) is worked on once to
// tell it: a lease, a version list and the write that records it told; no
// payload read, no call to Meta. Being expiring, it is then looked at on
// every pass (a lease, a version list, the lease given back), so that a
// relink is adopted at once, without a further event or write. An account
// that is fresh and told costs nothing.
func TestToldOnceAtTheCostOfOneWrite(t *testing.T) {
	t.Parallel()
	h, l := newListening(t, func(e *refresh.Engine) {
		e.RefreshAfter = 480 * time.Hour
		e.WarnWithin = 30 * 24 * time.Hour
	})
	h.seed("main", 24*time.Hour)
	h.seed("calm", 24*time.Hour)
	h.TH.SetDataAccess("1789main", h.Clock.Now().Add(40*24*time.Hour))
	h.pass()
	wantTold(t, "first pass", l.take(), refresh.ChangeAdopted, refresh.ChangeAdopted)
	h.Engine.Secrets = tracedSecrets{SecretStore: h.Engine.Secrets, log: h.Logger}
	h.Engine.States = tracedStates{StateStore: h.Engine.States, log: h.Logger}

	mark := 0
	ops := func(what string, want map[string]int) {
		t.Helper()
		got := map[string]int{}
		out := h.Logs.String()
		lines := out[mark:]
		mark = len(out)
		for line := range strings.Lines(lines) {
			if strings.Contains(line, `"message":"traced store call"`) {
				for _, op := range []string{"versions", "access", "add", "destroy", "lease", "commit", "release"} {
					if strings.Contains(line, `"op":"`+op+`"`) {
						got[op]++
						if !strings.Contains(line, `"account":"main"`) {
							t.Errorf("%s: a call for another account than main: %s", what, line)
						}
					}
				}
			}
		}
		for op, n := range want {
			if got[op] != n {
				t.Errorf("%s: %d %s calls, want %d (%v)", what, got[op], op, n, got)
			}
		}
		for op, n := range got {
			if want[op] == 0 && n > 0 {
				t.Errorf("%s: %d %s calls, want none (%v)", what, n, op, got)
			}
		}
	}
	mark = len(h.Logs.String())
	h.Clock.Advance(10 * 24 * time.Hour) // 30 days left
	h.pass()
	ops("at the threshold", nil)
	wantTold(t, "at the threshold", l.take())

	calls := h.TH.TotalCalls()
	h.Clock.Advance(time.Hour)
	rep := h.pass()
	if r := result(t, rep, "main"); r.Result != refresh.ResultFresh || r.Health != refresh.HealthExpiring {
		t.Errorf("main: %+v, want fresh and expiring", r)
	}
	ops("the crossing", map[string]int{"lease": 1, "versions": 1, "commit": 1})
	wantTold(t, "the crossing", l.take(), refresh.ChangeExpiring)
	if st, _ := h.state("main"); st.Announced != refresh.HealthExpiring {
		t.Errorf("the state records %q told", st.Announced)
	}
	for range 3 {
		h.Clock.Advance(time.Hour)
		h.pass()
		ops("a pass after", map[string]int{"lease": 1, "versions": 1, "release": 1})
		wantTold(t, "a pass after", l.take())
	}
	if n := h.TH.TotalCalls() - calls; n != 0 {
		t.Errorf("%d calls to Meta, want none", n)
	}
}

// TestNoNotifierNoVisit: without a Notifier nothing is told, so an account
// whose health changes while it is fresh costs nothing for it; its token
// changes stay untold, for a notifier configured later, which tells them
// once.
func TestNoNotifierNoVisit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.seed("main", 72*time.Hour)
	h.pass()
	st, _ := h.state("main")
	if st.Unannounced != refresh.ChangeRefreshed || st.Announced != "" {
		t.Fatalf("without a notifier the state records %q untold and %q told", st.Unannounced, st.Announced)
	}
	h.Clock.Advance(time.Hour)
	if r := result(t, h.pass(), "main"); r.Result != refresh.ResultFresh || r.LastAttemptAt.After(h.Clock.Now().Add(-time.Hour)) {
		t.Errorf("main was worked on: %+v", r)
	}
	l := &listener{h: h}
	h.Engine.Notifier = l
	h.Clock.Advance(time.Hour)
	h.pass()
	got := wantTold(t, "with a notifier", l.take(), refresh.ChangeRefreshed)
	if _, cur := h.currentToken("main"); got[0].change.Version != cur.Name {
		t.Errorf("told %s, the current version is %s", got[0].change.Version, cur.Name)
	}
	h.Clock.Advance(time.Hour)
	h.pass()
	wantTold(t, "the pass after", l.take())
}

// TestCheck: a check answers from Meta now, under the account's lease: it
// adopts a new version, finds the token alive, and never refreshes, even a
// due token; a 190 from /me makes the account needs_reauth at once, told
// at once; a check of an account already needs_reauth asks Meta nothing
// and tells nothing again; an answer that says nothing of the token fails
// the check and changes nothing; a leased account is busy; an unknown one
// is an error. A check leaves the time of the last attempt alone, so that
// the watchdog still sees passes.
func TestCheck(t *testing.T) {
	t.Parallel()
	h, l := newListening(t, nil)
	h.seed("main", 72*time.Hour) // due
	check := func(what string, want refresh.Result, health refresh.Health) refresh.AccountReport {
		t.Helper()
		rep, err := h.Engine.Check(context.Background(), "main")
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(rep.Accounts) != 1 {
			t.Fatalf("%s: %+v, want one account", what, rep)
		}
		r := rep.Accounts[0]
		h.errs = append(h.errs, r.Error)
		if r.Result != want || r.Health != health {
			t.Fatalf("%s: %+v, want %s and %s", what, r, want, health)
		}
		return r
	}

	r := check("first check", refresh.ResultAlive, refresh.HealthOK)
	if r.HoursLeft == nil || r.Version == "" || h.refreshCalls() != 0 {
		t.Errorf("first check: %+v, %d refresh calls; want the adopted version, its life, no refresh", r, h.refreshCalls())
	}
	wantTold(t, "first check", l.take(), refresh.ChangeAdopted)
	st, _ := h.state("main")
	if !st.LastAttemptAt.IsZero() || st.Status != refresh.StatusOK || st.ExpiryFrom != refresh.ClockMeta {
		t.Errorf("after the first check the state is %+v; want ok, Meta's clocks, no attempt", st)
	}
	if n := h.TH.Calls(threadsfake.PathMe); n != 1 {
		t.Errorf("%d calls to /me, want 1", n)
	}
	check("again", refresh.ResultAlive, refresh.HealthOK)
	wantTold(t, "again", l.take())

	h.TH.FailNext(threadsfake.PathMe, threadsfake.Transient, 1)
	r = check("Meta down", refresh.ResultFailed, refresh.HealthOK)
	if !strings.Contains(r.Error, "the check could not be made") {
		t.Errorf("Meta down: error %q", r.Error)
	}
	wantTold(t, "Meta down", l.take())

	if _, err := leases.Take(context.Background(), h.Store, h.account("main"), "a-pass", h.Clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	check("leased", refresh.ResultBusy, refresh.HealthOK)
	h.Clock.Advance(2 * time.Minute)

	tok, _ := h.currentToken("main")
	h.TH.Revoke(tok)
	r = check("revoked", refresh.ResultNeedsReauth, refresh.HealthNeedsReauth)
	if !strings.Contains(r.Error, "code 190") || r.Fix == "" {
		t.Errorf("revoked: %+v, want Meta's 190 and the fix", r)
	}
	wantTold(t, "revoked", l.take(), refresh.ChangeNeedsReauth)
	calls := h.TH.TotalCalls()
	check("revoked, again", refresh.ResultNeedsReauth, refresh.HealthNeedsReauth)
	wantTold(t, "revoked, again", l.take())
	if h.TH.TotalCalls() != calls || h.refreshCalls() != 0 {
		t.Errorf("a check of an account that needs a login called Meta, or something refreshed")
	}
	if st, _ := h.state("main"); !st.LastAttemptAt.IsZero() {
		t.Errorf("a check recorded an attempt at %v", st.LastAttemptAt)
	}

	if _, err := h.Engine.Check(context.Background(), "nobody"); !errors.Is(err, refresh.ErrUnknownAccount) {
		t.Errorf("check of an unknown account: %v", err)
	}
	h.assertNoTokenLeak("main")
}

// TestCheckOfARevokedDataGrant: once the app's access to the user's data
// has ended, /me refuses the token with a permission error: the check
// makes the account needs_reauth, as a pass's refresh would.
func TestCheckOfARevokedDataGrant(t *testing.T) {
	t.Parallel()
	h, l := newListening(t, nil)
	h.seed("main", time.Hour)
	h.pass()
	wantTold(t, "first pass", l.take(), refresh.ChangeAdopted)
	h.TH.SetDataAccess("1789main", h.Clock.Now().Add(time.Hour))
	h.Clock.Advance(2 * time.Hour)
	rep, err := h.Engine.Check(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	if r := result(t, rep, "main"); r.Result != refresh.ResultNeedsReauth || !strings.Contains(r.Error, "permission") {
		t.Errorf("%+v, want needs_reauth naming the permission", r)
	}
	wantTold(t, "the check", l.take(), refresh.ChangeNeedsReauth)
}

// TestUntoldHealthIsToldNextPass: a change of health whose publish fails
// stays untold in the state, and the next pass tells it, though the
// account is fresh by then; once.
func TestUntoldHealthIsToldNextPass(t *testing.T) {
	t.Parallel()
	h, l := newListening(t, nil)
	h.seed("main", 72*time.Hour)
	h.pass()
	h.Clock.Advance(25 * time.Hour)
	h.TH.FailNext(threadsfake.PathRefresh, threadsfake.Transient, 3)
	h.pass()
	wantTold(t, "before", l.take(), refresh.ChangeRefreshed, refresh.ChangeFailing)

	l.fail = errors.New("topic gone")
	h.Clock.Advance(time.Hour)
	h.pass() // refreshed, recovered: neither published
	wantTold(t, "with the notifier down", l.take(), refresh.ChangeRefreshed, refresh.ChangeRecovered)
	if st, _ := h.state("main"); st.Announced != refresh.HealthFailing || st.Unannounced != refresh.ChangeRefreshed {
		t.Errorf("the state records %q told, %q untold; want failing and refreshed", st.Announced, st.Unannounced)
	}
	if !strings.Contains(h.Logs.String(), `"severity":"WARNING","message":"health change not published; the next pass publishes it again","account":"main"`) {
		t.Errorf("no WARNING for the health change:\n%s", h.Logs.String())
	}

	l.fail = nil
	h.Clock.Advance(time.Hour)
	if r := result(t, h.pass(), "main"); r.Result != refresh.ResultFresh {
		t.Errorf("next pass: %+v, want fresh", r)
	}
	wantTold(t, "next pass", l.take(), refresh.ChangeRefreshed, refresh.ChangeRecovered)
	h.Clock.Advance(time.Hour)
	h.pass()
	wantTold(t, "the pass after", l.take())
}
