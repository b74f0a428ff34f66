package refresh_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// TestWatch: the pipeline check counts the accounts that no pass has
// refreshed or tried for longer than it allows since they were due (or,
// failing ones, since they were last tried), names the one that waited
// longest and the token that dies first, and leaves accounts without state
// out of the overdue count. It reads the state only.
func TestWatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const grace = 3 * time.Hour

	t.Run("passes running", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.seed("main", 72*time.Hour)
		h.seed("brand", 30*time.Hour)
		h.pass() // refreshes both
		h.Clock.Advance(20 * time.Hour)
		w := h.watch(grace)
		if w.Accounts != 2 || w.Overdue != 0 || w.Unprocessed != 0 || w.OldestOverdue != "" {
			t.Errorf("after a pass: %+v, want 2 accounts, none overdue", w)
		}
		main, _ := h.state("main")
		if left := int(main.ExpiresAt.Sub(h.Clock.Now()) / time.Hour); w.HoursLeft == nil || *w.HoursLeft != left || left < 60*24-22 {
			t.Errorf("first to die: %+v, want %d h left, a refreshed token's life less 20 h", w, left)
		}
	})

	t.Run("passes stopped", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.seed("early", 72*time.Hour)
		h.pass()
		h.Clock.Advance(2 * time.Hour)
		h.seed("late", 72*time.Hour)
		h.pass()
		// No pass after that: early is due 24 h after its refresh, late 2 h
		// after that.
		h.Clock.Advance(24*time.Hour - 2*time.Hour + grace) // early: due for exactly grace
		if w := h.watch(grace); w.Overdue != 0 {
			t.Errorf("due for exactly the allowed wait: %+v, want none overdue yet", w)
		}
		h.Clock.Advance(time.Minute)
		w := h.watch(grace)
		if w.Overdue != 1 || w.OldestOverdue != "early" || w.OverdueHours != 3 {
			t.Errorf("due for longer than allowed: %+v, want early overdue for 3 h", w)
		}
		h.Clock.Advance(10 * 24 * time.Hour)
		w = h.watch(grace)
		if w.Overdue != 2 || w.OldestOverdue != "early" || w.OverdueHours != 10*24+3 {
			t.Errorf("ten days later: %+v, want both overdue, early for %d h", w, 10*24+3)
		}
		early, _ := h.state("early")
		if left := int(early.ExpiresAt.Sub(h.Clock.Now()) / time.Hour); w.FirstToDie != "early" || w.HoursLeft == nil || *w.HoursLeft != left ||
			w.FirstExpiresAt != early.ExpiresAt.UTC().Format(time.RFC3339) {
			t.Errorf("first to die: %+v, want early with %d h left", w, left)
		}
		// The check reads and writes nothing else.
		if n := h.refreshCalls(); n != 2 {
			t.Errorf("%d refresh calls, want the 2 of the passes", n)
		}
	})

	t.Run("failing account tried on every pass", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		tok, _ := h.seed("dead", 72*time.Hour)
		h.TH.Revoke(tok)
		h.pass() // needs_reauth, tried again on every pass
		h.Clock.Advance(grace - time.Minute)
		if w := h.watch(grace); w.Overdue != 0 {
			t.Errorf("needs_reauth, tried %v ago: %+v, want not overdue", grace-time.Minute, w)
		}
		h.pass()
		h.Clock.Advance(grace + time.Hour)
		if w := h.watch(grace); w.Overdue != 1 || w.OldestOverdue != "dead" || w.OverdueHours != 4 {
			t.Errorf("needs_reauth, not tried for 4 h: %+v, want overdue for 4 h", w)
		}
	})

	t.Run("Meta's clocks", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.seed("main", 72*time.Hour)
		h.seed("private", 72*time.Hour)
		until := h.Clock.Now().Add(5 * day)
		h.TH.SetDataAccess("1789private", until)
		h.pass()
		// The private account's token lives 60 days, but the app's access
		// to its data ends in 5: that is the life the watchdog names.
		if w := h.watch(grace); w.FirstToDie != "private" || w.FirstExpiresAt != stamp(until) {
			t.Errorf("%+v, want private first, at its data-access expiry %s", w, stamp(until))
		}
	})

	t.Run("due by remaining life", func(t *testing.T) {
		t.Parallel()
		// Meta answers refreshes with 10 days of life: under DueMargin, so
		// the token is due at 24 h, not at REFRESH_AFTER, and the watchdog
		// counts from then.
		h := newHarness(t, func(e *refresh.Engine) { e.RefreshAfter = 40 * day }, threadsfake.ExpiresIn(10*24*3600))
		h.seed("short", 41*day) // due by age: refreshed now
		h.pass()
		h.Clock.Advance(24*time.Hour + grace + time.Minute)
		if w := h.watch(grace); w.Overdue != 1 || w.OldestOverdue != "short" {
			t.Errorf("a day and the allowed wait after a refresh to 10 days: %+v, want short overdue", w)
		}
	})

	t.Run("accounts without state", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		if _, err := h.Store.CreateSecret(ctx, "new"); err != nil {
			t.Fatal(err)
		}
		h.Clock.Advance(30 * 24 * time.Hour)
		w := h.watch(grace)
		if w.Accounts != 1 || w.Unprocessed != 1 || w.Overdue != 0 || w.HoursLeft != nil || w.FirstToDie != "" {
			t.Errorf("an account no pass recorded: %+v, want it unprocessed, not overdue, no expiry", w)
		}
	})

	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		if _, err := h.Engine.Watch(ctx, 0); !errors.Is(err, refresh.ErrOverdueAfter) {
			t.Errorf("a zero wait: %v, want ErrOverdueAfter", err)
		}
		h.Engine.Accounts = func(context.Context) ([]refresh.Account, error) { return nil, errors.New("unreachable") }
		if _, err := h.Engine.Watch(ctx, grace); err == nil {
			t.Error("accounts that cannot be listed: no error")
		}
	})
}

// watch runs a pipeline check that must succeed.
func (h *harness) watch(overdueAfter time.Duration) refresh.Watch {
	h.t.Helper()
	w, err := h.Engine.Watch(context.Background(), overdueAfter)
	if err != nil {
		h.t.Fatalf("watch: %v", err)
	}
	return w
}
