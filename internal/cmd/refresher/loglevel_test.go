package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestRunAtLogLevelError: `refresher run` with LOG_LEVEL=error, as the
// README's cron line has it, still writes the lines the alerts read (each
// account's line, "refresh pass done") on standard error, with their own
// severities, and drops the rest. Standard output is the pass JSON alone.
func TestRunAtLogLevelError(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		w.seed("due", 3*day)
		dead, _ := w.seed("dead", 3*day)
		w.th.Revoke(dead)
		w.env["THREADS_SECRETS"] = "dead,due"

		r := w.runCall(call{env: map[string]string{"LOG_LEVEL": "error"}}, "run")
		if r.code != 1 {
			t.Fatalf("run: exit %d, want 1 (dead needs a new login): %v", r.code, r)
		}
		parseReport(t, r.stdout) // the JSON alone
		var got []string
		for _, l := range jsonLogs(t, r.stderr) {
			line := fmt.Sprint(l["severity"], " ", l["message"])
			if a, ok := l["account"]; ok {
				line += fmt.Sprint(" ", a)
			}
			got = append(got, line)
		}
		want := "ERROR account processed dead; INFO account processed due; INFO refresh pass done"
		if strings.Join(got, "; ") != want {
			t.Errorf("stderr at LOG_LEVEL=error:\n%s\nwant exactly: %s", strings.Join(got, "\n"), want)
		}
	})
}
