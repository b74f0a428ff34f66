package refresh_test

import (
	"context"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// TestStatusDueAt: the status view's DueAt (what the status page shows as
// the next refresh) is the instant the pass's own rule makes the token
// due: a pass a second before it leaves the token alone, a pass at it
// refreshes it. Both with the default RefreshAfter and with a token whose
// life ends before RefreshAfter would make it due.
func TestStatusDueAt(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name         string
		refreshAfter time.Duration
		expiresIn    time.Duration // of the tokens Meta issues; 0 for its 60 days
		age          time.Duration // of the seeded token, which the first pass refreshes
	}{
		{name: "RefreshAfter", refreshAfter: 7 * 24 * time.Hour, age: 30 * 24 * time.Hour},
		{name: "DueMargin", refreshAfter: refresh.MaxRefreshAfter, expiresIn: 20 * 24 * time.Hour, age: 50 * 24 * time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var opts []threadsfake.Option
			if tt.expiresIn > 0 {
				opts = append(opts, threadsfake.ExpiresIn(int64(tt.expiresIn/time.Second)))
			}
			h := newHarness(t, func(e *refresh.Engine) { e.RefreshAfter = tt.refreshAfter }, opts...)
			h.seed("main", tt.age)
			if r, _ := h.pass().Find("main"); r.Result != refresh.ResultRefreshed {
				t.Fatalf("first pass: %s, want refreshed", r.Result)
			}
			rep, err := h.Engine.Status(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			r, _ := rep.Find("main")
			if r.DueAt.IsZero() || !r.DueAt.After(h.Clock.Now()) {
				t.Fatalf("status DueAt %v, want a time after now (%v)", r.DueAt, h.Clock.Now())
			}
			if tt.expiresIn > 0 && !r.DueAt.Before(h.Clock.Now().Add(tt.refreshAfter)) {
				t.Errorf("status DueAt %v: not before RefreshAfter although the token's life ends first", r.DueAt)
			}
			h.Clock.Set(r.DueAt.Add(-time.Second))
			if got, _ := h.pass().Find("main"); got.Result != refresh.ResultFresh {
				t.Errorf("a second before DueAt %v: %s, want fresh", r.DueAt, got.Result)
			}
			h.Clock.Set(r.DueAt)
			if got, _ := h.pass().Find("main"); got.Result != refresh.ResultRefreshed {
				t.Errorf("at DueAt %v: %s, want refreshed", r.DueAt, got.Result)
			}
		})
	}
}
