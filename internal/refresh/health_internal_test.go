package refresh

import (
	"testing"
	"time"
)

// TestHealthEvent: each change of health is one event, named after the
// new health, except a return to ok from failing or needs_reauth
// (recovered) and from expiring (told by the token change that ends it);
// no change, no event. Nothing told yet counts as ok.
func TestHealthEvent(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		from, to Health
		want     ChangeEvent
	}{
		{HealthOK, HealthOK, ""},
		{"", HealthOK, ""},
		{"", HealthFailing, ChangeFailing},
		{HealthOK, HealthFailing, ChangeFailing},
		{HealthFailing, HealthFailing, ""},
		{HealthOK, HealthNeedsReauth, ChangeNeedsReauth},
		{HealthFailing, HealthNeedsReauth, ChangeNeedsReauth},
		{HealthNeedsReauth, HealthNeedsReauth, ""},
		{HealthNeedsReauth, HealthFailing, ChangeFailing},
		{HealthNeedsReauth, HealthOK, ChangeRecovered},
		{HealthFailing, HealthOK, ChangeRecovered},
		{HealthOK, HealthExpiring, ChangeExpiring},
		{HealthFailing, HealthExpiring, ChangeExpiring},
		{HealthExpiring, HealthExpiring, ""},
		{HealthExpiring, HealthOK, ""},
		{HealthExpiring, HealthNeedsReauth, ChangeNeedsReauth},
		{HealthOK, "", ""},
	} {
		from := tt.from
		if got := healthEvent(told(State{Announced: from}), tt.to); got != tt.want {
			t.Errorf("from %q to %q: %q, want %q", tt.from, tt.to, got, tt.want)
		}
	}
}

// TestHealthOf: needs_reauth and failing come from the stored status,
// whatever the clocks; expiring when the earlier clock is under the
// threshold (strictly), passed or not; nothing without state.
func TestHealthOf(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	const within = 336 * time.Hour
	for _, tt := range []struct {
		status Status
		end    time.Time
		want   Health
	}{
		{"", now, ""},
		{StatusNeedsReauth, now.Add(time.Hour), HealthNeedsReauth},
		{StatusFailing, now.Add(time.Hour), HealthFailing},
		{StatusOK, now.Add(within), HealthOK},
		{StatusOK, now.Add(within - time.Second), HealthExpiring},
		{StatusOK, now.Add(-time.Hour), HealthExpiring},
		{StatusOK, time.Time{}, HealthOK},
	} {
		if got := healthOf(tt.status, tt.end, now, within); got != tt.want {
			t.Errorf("%q ending %v: %q, want %q", tt.status, tt.end, got, tt.want)
		}
	}
}
