package notify_test

// Scripted sequences of passes on the fake clock, told to both sinks: the
// Pub/Sub emulator's topic and a TOKEN_EVENTS_FILE. Each checks the
// events a consumer receives: one per change of health, never one per
// pass; and, as every test of this package, that no message holds a token
// (the rig searches its log, where received() copies every message).

import (
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/notify"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// hourly runs n passes an hour apart (the first one hour on), each after
// before (nil: nothing), and checks each account's result.
func (w *world) hourly(n int, before func(), result refresh.Result) {
	w.t.Helper()
	for i := range n {
		w.Clock.Advance(time.Hour)
		if before != nil {
			before()
		}
		if r, _ := w.pass().Find("main"); r.Result != result {
			w.t.Fatalf("pass %d of %d: %+v, want %s", i+1, n, r, result)
		}
	}
}

// wantHealth checks the one health event of msgs.
func wantHealth(t *testing.T, m notify.Message, event, health string, withFix, withError bool) {
	t.Helper()
	if m.Event != event || m.Health != health || m.Version != "" || (m.Fix != "") != withFix || (m.Error != "") != withError || m.HoursLeft == nil {
		t.Errorf("message %+v, want %s with health %s, no version, hoursLeft, fix %v, error %v", m, event, health, withFix, withError)
	}
	if withFix && !strings.Contains(m.Fix, "refresher login --redirect-uri URI main") {
		t.Errorf("fix %q does not give the login", m.Fix)
	}
}

// TestFailingThenRecovered: a refresh that fails on 24 hourly passes is
// one failing event; the refresh that works is refreshed, then recovered.
func TestFailingThenRecovered(t *testing.T) {
	t.Parallel()
	eachSink(t, func(t *testing.T, kind string) {
		w := newWorldOf(t, kind)
		w.Seed("main", 72*time.Hour)
		w.pass()
		w.wantEvents("first pass", w.received(), "refreshed")

		w.Clock.Advance(24 * time.Hour) // due
		fail := func() { w.TH.FailNext(threadsfake.PathRefresh, threadsfake.Transient, 3) }
		w.hourly(24, fail, refresh.ResultFailed)
		got := w.wantEvents("24 failing passes", w.received(), "failing")
		wantHealth(t, got[0], "failing", "failing", false, true)

		w.hourly(1, nil, refresh.ResultRefreshed)
		got = w.wantEvents("the refresh that works", w.received(), "refreshed", "recovered")
		wantHealth(t, got[1], "recovered", "ok", false, false)
		w.wantOne("the refresh that works", got[:1], "main", "refreshed")

		w.hourly(23, nil, refresh.ResultFresh)
		w.wantEvents("a day of fresh passes", w.received())
	})
}

// TestNeedsReauthRelinkRecovered: Meta refuses the token: one
// needs_reauth, which 24 more passes do not repeat; a person relinks (a
// new version of the same secret): adopted, then recovered.
func TestNeedsReauthRelinkRecovered(t *testing.T) {
	t.Parallel()
	eachSink(t, func(t *testing.T, kind string) {
		w := newWorldOf(t, kind)
		w.Seed("main", 72*time.Hour)
		w.pass()
		w.wantEvents("first pass", w.received(), "refreshed")
		w.TH.Revoke(w.tokenOf("main"))

		w.Clock.Advance(24 * time.Hour) // due: Meta refuses it
		w.hourly(1, nil, refresh.ResultNeedsReauth)
		got := w.wantEvents("the refusal", w.received(), "needs_reauth")
		wantHealth(t, got[0], "needs_reauth", "needs_reauth", true, true)
		w.hourly(24, nil, refresh.ResultNeedsReauth)
		w.wantEvents("24 more passes", w.received())

		w.Seed("main", time.Hour) // the relink's new version
		w.hourly(1, nil, refresh.ResultRolledForward)
		got = w.wantEvents("the relink", w.received(), "adopted", "recovered")
		w.wantOne("the relink", got[:1], "main", "adopted")
		wantHealth(t, got[1], "recovered", "ok", false, false)
		w.hourly(21, nil, refresh.ResultFresh) // until the new token is due
		w.wantEvents("the day after the relink", w.received())
	})
}

// TestExpiringWhenDataAccessRunsOut: the app's access to the user's data
// runs out while the account is fresh (not due, and more than the 14 days
// that make a pass look at it every time): one expiring, on the first
// pass after it crosses the threshold, though the account is fresh; none
// on the passes after. A relink renews it, and the next pass adopts it
// (an expiring account is looked at on every pass): adopted with health
// ok, and no recovered (expiring is not a failure).
func TestExpiringWhenDataAccessRunsOut(t *testing.T) {
	t.Parallel()
	eachSink(t, func(t *testing.T, kind string) {
		w := newWorldOf(t, kind)
		w.Engine.RefreshAfter = 240 * time.Hour
		w.Engine.WarnWithin = 20 * 24 * time.Hour
		w.Seed("main", 72*time.Hour) // not due for 10 days
		w.TH.SetDataAccess("1789main", w.Clock.Now().Add(25*24*time.Hour))
		w.pass()
		w.wantEvents("first pass", w.received(), "adopted")

		// Five days less an hour: 20 days and an hour left.
		w.hourly(5*24-1, nil, refresh.ResultFresh)
		w.wantEvents("fresh passes", w.received())
		w.hourly(1, nil, refresh.ResultFresh) // 20 days left: not under
		w.wantEvents("at the threshold", w.received())
		w.hourly(1, nil, refresh.ResultFresh)
		got := w.wantEvents("the pass after the crossing", w.received(), "expiring")
		wantHealth(t, got[0], "expiring", "expiring", true, false)
		if h := *got[0].HoursLeft; h != 20*24-1 {
			t.Errorf("hoursLeft %d, want %d", h, 20*24-1)
		}
		w.hourly(24, nil, refresh.ResultFresh)
		w.wantEvents("a day after", w.received())

		w.Seed("main", time.Hour) // a new login renews data access
		if until := w.TH.DataAccess("1789main"); until.Sub(w.Clock.Now()) < 80*24*time.Hour {
			t.Fatalf("the new login's data access ends %v", until)
		}
		w.hourly(1, nil, refresh.ResultRolledForward)
		got = w.wantEvents("the relink", w.received(), "adopted")
		w.wantOne("the relink", got, "main", "adopted")
		w.hourly(21, nil, refresh.ResultFresh)
		w.wantEvents("the day after the relink", w.received())
	})
}

// TestExpiringWhenTheTokenClockRuns: Meta issues tokens that live 14.5
// days, so a token refreshed at once falls under the 14-day threshold 12
// hours later, before it may be refreshed again (24 hours): one expiring,
// on the first pass past the crossing, though the account is fresh; then
// the refresh at 24 hours tells health ok with the new token.
func TestExpiringWhenTheTokenClockRuns(t *testing.T) {
	t.Parallel()
	const life = 14*24*3600 + 12*3600
	eachSink(t, func(t *testing.T, kind string) {
		w := newWorldOf(t, kind, threadsfake.ExpiresIn(life))
		w.Seed("main", 72*time.Hour)
		w.pass()
		w.wantEvents("first pass", w.received(), "refreshed")

		w.hourly(12, nil, refresh.ResultFresh) // 14 days left exactly
		w.wantEvents("the first half day", w.received())
		w.hourly(1, nil, refresh.ResultFresh)
		got := w.wantEvents("the pass after the crossing", w.received(), "expiring")
		wantHealth(t, got[0], "expiring", "expiring", true, false)
		// The token may be refreshed once 24 hours old, counted from the
		// second after its issue time.
		w.hourly(11, nil, refresh.ResultFresh)
		w.wantEvents("until the token may be refreshed", w.received())
		w.hourly(1, nil, refresh.ResultRefreshed)
		w.wantOne("the refresh", w.received(), "main", "refreshed")
	})
}
