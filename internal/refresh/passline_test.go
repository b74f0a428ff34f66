package refresh_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/fakeclock"
)

// slowPlatform is a platform whose refreshes take a fixed time on the
// test's clock: the time a pass spends waiting for Meta.
type slowPlatform struct {
	refresh.Platform
	clock *fakeclock.Clock
	takes time.Duration
}

func (p slowPlatform) Refresh(ctx context.Context, token string) (graph.Token, error) {
	p.clock.Advance(p.takes)
	return p.Platform.Refresh(ctx, token)
}

// TestPassLineGivesItsDuration: the "refresh pass done" line says how long
// the pass took, in seconds, as a JSON number (the dashboard's pass-duration
// chart reads it, README "Logs and alerts"), measured on the engine's clock
// from before the state read to after the last account.
func TestPassLineGivesItsDuration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		due   int
		takes time.Duration
		want  string
	}{
		// Nothing due: no Meta call, and the clock did not move.
		{name: "nothing due", due: 0, takes: 7250 * time.Millisecond, want: "0"},
		// Two refreshes of 7.25 s each, whichever order they ran in.
		{name: "two due", due: 2, takes: 7250 * time.Millisecond, want: "14.5"},
		// Rounded to the millisecond.
		{name: "sub-millisecond", due: 1, takes: 1234567 * time.Microsecond, want: "1.235"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil)
			h.Engine.Platforms[payload.PlatformThreads] = slowPlatform{
				Platform: h.Engine.Platforms[payload.PlatformThreads], clock: h.Clock, takes: tc.takes,
			}
			h.seed("fresh", time.Hour)
			for i := range tc.due {
				h.seed("due-"+string(rune('a'+i)), 48*time.Hour)
			}
			mark := len(h.Logs.String())
			rep := h.pass()
			if rep.Refreshed != tc.due {
				t.Fatalf("refreshed %d, want %d: %+v", rep.Refreshed, tc.due, rep)
			}
			var done []map[string]any
			for _, raw := range strings.Split(strings.TrimSpace(h.Logs.String()[mark:]), "\n") {
				dec := json.NewDecoder(strings.NewReader(raw))
				dec.UseNumber()
				var l map[string]any
				if err := dec.Decode(&l); err != nil {
					t.Fatalf("log line is not JSON: %v: %s", err, raw)
				}
				if l["message"] == "refresh pass done" {
					done = append(done, l)
				}
			}
			if len(done) != 1 {
				t.Fatalf("%d \"refresh pass done\" lines, want 1", len(done))
			}
			if got := done[0]["seconds"]; got != json.Number(tc.want) {
				t.Errorf("seconds = %#v, want the JSON number %s: %v", got, tc.want, done[0])
			}
		})
	}
}
