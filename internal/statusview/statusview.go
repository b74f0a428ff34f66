// Package statusview says an account's state the way people read it: the
// words and commands that `refresher status` prints in its table and that
// the function's status page shows in a browser, from one place, so that
// the two never disagree. It never handles a token beyond reading the
// username kept beside one (Owners).
package statusview

import (
	"fmt"
	"strings"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// LifeLeft is the time until the earlier of the token's expiry and its
// data-access expiry: "13d4h", "4d2h (data access)", "expired 2h0m ago",
// or "-" when neither is known.
func LifeLeft(r refresh.AccountReport, now time.Time) string {
	end, which := r.LifeEnds()
	if end.IsZero() {
		return "-"
	}
	note := ""
	if which == refresh.LifeDataAccess {
		note = " (data access)"
	}
	if d := end.Sub(now); d > 0 {
		return Human(d) + note
	}
	if which == refresh.LifeDataAccess {
		return "data access ended " + Human(now.Sub(end)) + " ago"
	}
	return "expired " + Human(now.Sub(end)) + " ago"
}

// Ago prints a time of the report and how long ago it was, or "-" when it
// is unknown.
func Ago(ts string, now time.Time) string {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return "-"
	}
	return When(ts) + " (" + Human(now.Sub(t)) + " ago)"
}

// When prints a time of the report, or "-" when it is unknown.
func When(ts string) string {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return "-"
	}
	return Minute(t)
}

// Minute prints a time for people, to the minute.
func Minute(t time.Time) string { return t.UTC().Format("2006-01-02 15:04Z") }

// Human prints a duration the way people say it: 3d4h, 5h12m, 40s.
func Human(d time.Duration) string {
	d = d.Round(time.Second)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	hours := d / time.Hour
	d -= hours * time.Hour
	minutes := d / time.Minute
	var b strings.Builder
	switch {
	case days > 0:
		fmt.Fprintf(&b, "%dd%dh", days, hours)
	case hours > 0:
		fmt.Fprintf(&b, "%dh%dm", hours, minutes)
	case minutes > 0:
		fmt.Fprintf(&b, "%dm", minutes)
	default:
		fmt.Fprintf(&b, "%ds", d/time.Second)
	}
	return b.String()
}

// NextRefresh says when a pass next refreshes the account, by the engine's
// due rule as the report carries it (DueAt): "2026-01-02 03:04Z (in
// 3d4h)", "next pass" once due, "every pass" for an account that is
// failing, "after a new login" for one that needs one.
func NextRefresh(r refresh.AccountReport, now time.Time) string {
	switch {
	case r.Stored == refresh.StatusNeedsReauth:
		return "after a new login"
	case r.Stored == refresh.StatusFailing:
		return "every pass, until it works"
	case r.Stored == "":
		return "next pass"
	case !r.DueAt.After(now):
		return "next pass (due since " + Minute(r.DueAt) + ")"
	}
	return Minute(r.DueAt) + " (in " + Human(r.DueAt.Sub(now)) + ")"
}
