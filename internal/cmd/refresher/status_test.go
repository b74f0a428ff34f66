package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/statusview"
)

// TestStatusWarnWithin: `refresher status --warn-within D` prints the
// status as usual, then exits 3 when a token dies within D or an account is
// failing or needs_reauth, so that cron can mail a person:
//
//	refresher status --warn-within 336h || mail ...
func TestStatusWarnWithin(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		w.seed("main", 3*day)
		w.terraform("unseen") // listed, never stored (Google); absent (local)
		w.env["THREADS_SECRETS"] = "main"
		if r := w.run("run"); r.code != 0 {
			t.Fatalf("run: %v", r)
		}
		// main's new token has 59d23h left.
		for _, tt := range []struct {
			within string
			code   int
		}{
			{"336h", 0},
			{"1439h", 0},
			{"1440h", 3},
			{"0s", 0},
		} {
			for _, asJSON := range []bool{false, true} {
				args := []string{"status", "--warn-within", tt.within}
				if asJSON {
					args = append(args, "--json")
				}
				r := w.run(args...)
				name := strings.Join(args, " ")
				if r.code != tt.code {
					t.Errorf("%s: exit %d, want %d\n%v", name, r.code, tt.code, r)
				}
				// The status is printed first, whatever the code.
				if asJSON {
					rep := parseReport(t, r.stdout)
					if a := rep.Accounts[0]; a.HoursLeft == nil || *a.HoursLeft != 1439 {
						t.Errorf("%s: hoursLeft %v, want 1439", name, a.HoursLeft)
					}
				} else if !strings.Contains(r.stdout, "ACCOUNT") || !strings.Contains(r.stdout, "59d23h") {
					t.Errorf("%s: no table with the remaining life:\n%s", name, r.stdout)
				}
				switch tt.code {
				case 0:
					if r.stderr != "" {
						t.Errorf("%s: stderr %q, want nothing", name, r.stderr)
					}
				case 3:
					line := wantOneLine(t, name, r.stderr)
					if !strings.HasPrefix(line, "refresher status: 1 of 1 accounts need a person within 1440h0m0s: main (token dies in 59d23h") {
						t.Errorf("%s: the line does not say which account and why: %q", name, line)
					}
				}
			}
		}

		// An account that is failing or needs a new login trips it at any
		// duration; one never seen (no state, no known expiry) does not.
		broken, _ := w.seed("broken", 3*day)
		w.th.Revoke(broken)
		w.env["THREADS_SECRETS"] = "broken,main"
		if r := w.run("run"); r.code != 1 {
			t.Fatalf("run with a revoked token: %v", r)
		}
		r := w.run("status", "--warn-within", "0s")
		if r.code != 3 || !strings.Contains(r.stdout, "needs_reauth") {
			t.Errorf("needs_reauth at 0s: want exit 3 after the table, got %v", r)
		}
		if line := wantOneLine(t, "needs_reauth", r.stderr); !strings.Contains(line, "broken (needs_reauth: log in again with `refresher login --redirect-uri URI broken`, or `refresher add broken < long-lived-token.txt`)") || strings.Contains(line, "main") {
			t.Errorf("the line should name broken only: %q", line)
		}
		if w.kind == google {
			w.env["THREADS_SECRETS"] = "main,unseen"
			if r := w.run("status", "--warn-within", "336h", "--json"); r.code != 0 {
				t.Errorf("an account never seen tripped --warn-within: %v", r)
			}
		}
		// Without the flag, status still exits 0 whatever it shows.
		w.env["THREADS_SECRETS"] = "broken,main"
		if r := w.run("status"); r.code != 0 {
			t.Errorf("status without --warn-within: %v", r)
		}
	})
}

// TestDataAccessExpiryWarns: Meta says the app may read the account's data
// for 5 more days. The pass's account line says hoursLeft <= 120 (what the
// "Token about to die" alert reads), and `status --warn-within 336h` exits
// 3, naming the data-access clock and the fix, a new login.
func TestDataAccessExpiryWarns(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		_, u := w.seed("main", 3*day)
		w.env["THREADS_SECRETS"] = "main"
		until := time.Now().Add(5 * day)
		w.th.SetDataAccess(u.id, until)
		r := w.run("run")
		if r.code != 0 {
			t.Fatalf("run: %v", r)
		}
		line := accountLine(t, r.stderr, "main")
		if n, ok := line["hoursLeft"].(float64); !ok || n > 120 || line["dataAccessExpiresAt"] != until.UTC().Format(time.RFC3339) {
			t.Errorf("account line %v, want hoursLeft <= 120 and the data-access expiry", line)
		}
		r = w.run("status", "--warn-within", "336h")
		if r.code != 3 || !strings.Contains(r.stdout, "(data access)") {
			t.Fatalf("status --warn-within 336h: want exit 3 after a table showing the data-access clock, got %v", r)
		}
		if line := wantOneLine(t, "status", r.stderr); !strings.Contains(line, "main (the app's access to the account's data ends in ") || !strings.Contains(line, "; log in again before then, a refresh does not renew it)") {
			t.Errorf("the line should name the account, the clock and the fix: %q", line)
		}
		r = w.run("status", "--json")
		if a := accountIn(t, parseReport(t, r.stdout), "main"); a.HoursLeft == nil || *a.HoursLeft > 120 || a.DataAccessExpiresAt == "" || a.ExpiryFrom != "meta" {
			t.Errorf("status --json: %+v, want hoursLeft <= 120, the data-access expiry and expiryFrom meta", a)
		}
	})
}

// TestStatusWarnWithinRefusesABadDuration: exit 2, one line naming the
// flag, nothing on stdout, nothing read.
func TestStatusWarnWithinRefusesABadDuration(t *testing.T) {
	t.Parallel()
	vars, db := noStoreEnv(t)
	for _, d := range []string{"2w", "14d", "-1h", ""} {
		r := execute(t, call{}, vars, "status", "--warn-within", d)
		if r.code != 2 || r.stdout != "" {
			t.Errorf("--warn-within %q: want exit 2 and nothing on stdout, got %v", d, r)
		}
		if line := wantOneLine(t, "--warn-within "+d, r.stderr); !strings.Contains(line, "-warn-within") || !strings.Contains(line, "336h") {
			t.Errorf("--warn-within %q: the line should name the flag and give an example: %q", d, line)
		}
	}
	assertNotCreated(t, db)
}

func TestRemainingLife(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	tests := []struct {
		expiresAt, dataAccess string
		status                refresh.Result
		within                time.Duration
		left                  string
		attention             string
	}{
		{at(13*day + 4*time.Hour), "", "ok", 14 * day, "13d4h", "token dies in 13d4h"},
		{at(13*day + 4*time.Hour), "", "ok", 13 * day, "13d4h", ""},
		{at(14 * day), "", "ok", 14 * day, "14d0h", ""}, // dies within: strictly less than
		{at(-2 * time.Hour), "", "ok", 0, "expired 2h0m ago", "token expired 2h0m ago"},
		{at(-30 * time.Second), "", "ok", time.Hour, "expired 30s ago", "token expired 30s ago"},
		{"", "", "unknown", 1000 * day, "-", ""},
		{"", "", "failing", 0, "-", "failing"},
		{at(50 * day), "", "needs_reauth", 0, "50d0h", "needs_reauth: log in again with `refresher login --redirect-uri URI main`, or `refresher add main < long-lived-token.txt`"},
		// The app's access to the user's data ends first: that is the
		// clock, and the fix is a login, not a refresh.
		{at(50 * day), at(5 * day), "ok", 14 * day, "5d0h (data access)",
			"the app's access to the account's data ends in 5d0h; log in again before then, a refresh does not renew it"},
		{at(50 * day), at(-time.Hour), "ok", 0, "data access ended 1h0m ago",
			"the app's access to the account's data ended 1h0m ago; log in again, a refresh does not renew it"},
		{at(3 * day), at(5 * day), "ok", 14 * day, "3d0h", "token dies in 3d0h"},
		{"", at(5 * day), "ok", 14 * day, "5d0h (data access)",
			"the app's access to the account's data ends in 5d0h; log in again before then, a refresh does not renew it"},
	}
	for _, tt := range tests {
		r := refresh.AccountReport{Account: "main", Result: tt.status, ExpiresAt: tt.expiresAt, DataAccessExpiresAt: tt.dataAccess}
		if got := statusview.LifeLeft(r, now); got != tt.left {
			t.Errorf("lifeLeft(expires %q, data access %q) = %q, want %q", tt.expiresAt, tt.dataAccess, got, tt.left)
		}
		if got := needsAttention(r, now, tt.within); got != tt.attention {
			t.Errorf("needsAttention(%s, expires %q, data access %q, within %v) = %q, want %q", tt.status, tt.expiresAt, tt.dataAccess, tt.within, got, tt.attention)
		}
	}
}

// accountLine returns the account's "account processed" line in a log.
func accountLine(t *testing.T, log, account string) map[string]any {
	t.Helper()
	for _, raw := range strings.Split(log, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(raw), &m) == nil && m["message"] == "account processed" && m["account"] == account {
			return m
		}
	}
	t.Fatalf("no account line for %s in:\n%s", account, log)
	return nil
}
