package statusview_test

import (
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/statusview"
)

// TestNextRefresh: what the status page says of the next refresh follows
// the report's DueAt and stored status. (The fix it shows is the engine's,
// AccountReport.Fix.)
func TestNextRefresh(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	stamp := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	tests := []struct {
		name string
		r    refresh.AccountReport
		next string
	}{
		{"no state", refresh.AccountReport{Result: refresh.ResultUnknown}, "next pass"},
		{"ok, not due", refresh.AccountReport{Stored: refresh.StatusOK, DueAt: now.Add(26 * time.Hour), ExpiresAt: stamp(40 * 24 * time.Hour)},
			"2026-03-02 14:00Z (in 1d2h)"},
		{"ok, due", refresh.AccountReport{Stored: refresh.StatusOK, DueAt: now.Add(-time.Hour), ExpiresAt: stamp(40 * 24 * time.Hour)},
			"next pass (due since 2026-03-01 11:00Z)"},
		{"failing", refresh.AccountReport{Stored: refresh.StatusFailing, DueAt: now.Add(-time.Hour)}, "every pass, until it works"},
		{"needs_reauth", refresh.AccountReport{Stored: refresh.StatusNeedsReauth, DueAt: now.Add(-time.Hour)}, "after a new login"},
		{"data access ends soon", refresh.AccountReport{Stored: refresh.StatusOK, DueAt: now.Add(time.Hour),
			ExpiresAt: stamp(40 * 24 * time.Hour), DataAccessExpiresAt: stamp(5 * 24 * time.Hour)}, "2026-03-01 13:00Z (in 1h0m)"},
		{"data access ends later", refresh.AccountReport{Stored: refresh.StatusOK, DueAt: now.Add(time.Hour),
			ExpiresAt: stamp(40 * 24 * time.Hour), DataAccessExpiresAt: stamp(30 * 24 * time.Hour)}, "2026-03-01 13:00Z (in 1h0m)"},
	}
	for _, tt := range tests {
		tt.r.Account = "main"
		if got := statusview.NextRefresh(tt.r, now); got != tt.next {
			t.Errorf("%s: NextRefresh = %q, want %q", tt.name, got, tt.next)
		}
	}
}
