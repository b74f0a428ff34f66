package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// eventsFile points the world at a TOKEN_EVENTS_FILE and returns a reader
// of the events appended since it was last called.
func (w *world) eventsFile() func() []map[string]any {
	w.t.Helper()
	path := filepath.Join(w.t.TempDir(), "token-events.jsonl")
	w.env["TOKEN_EVENTS_FILE"] = path
	read := 0
	return func() []map[string]any {
		w.t.Helper()
		raw, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			w.t.Fatal(err)
		}
		fresh := string(raw[read:])
		read = len(raw)
		w.record("TOKEN_EVENTS_FILE", fresh) // searched for secrets
		var out []map[string]any
		for line := range strings.Lines(fresh) {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				w.t.Fatalf("an events line is not JSON: %v: %s", err, line)
			}
			out = append(out, m)
		}
		return out
	}
}

// eventNames are the events' names, in order.
func eventNames(events []map[string]any) []string {
	var out []string
	for _, e := range events {
		out = append(out, e["event"].(string))
	}
	return out
}

// TestCheckCommand: `refresher check ACCOUNT` asks Meta now and prints the
// HTTP check's answer: exit 0 while the token works (never refreshing it,
// due as it is), 1 when Meta could not be asked, 3 as soon as Meta refuses
// the token (190), which makes the account needs_reauth and tells
// TOKEN_EVENTS_FILE; 2 for a missing or unknown ACCOUNT.
func TestCheckCommand(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		events := w.eventsFile()
		tok, _ := w.seed("main", 3*day)
		r := w.run("check", "main")
		if rep := parseReport(t, r.stdout); r.code != 0 || len(rep.Accounts) != 1 || rep.Accounts[0].Result != "alive" || rep.Accounts[0].Health != "ok" {
			t.Fatalf("check of a working token: %v", r)
		}
		if n := w.th.Calls(threadsfake.PathRefresh); n != 0 {
			t.Errorf("the check refreshed (%d calls)", n)
		}
		if got := eventNames(events()); len(got) != 1 || got[0] != "adopted" {
			t.Errorf("events after the first check %v, want the adoption", got)
		}

		w.th.FailNext(threadsfake.PathMe, threadsfake.Transient, 1)
		if r := w.run("check", "main"); r.code != 1 || !strings.Contains(r.stderr, "main could not be checked") {
			t.Errorf("check with Meta down: %v, want exit 1", r)
		}

		w.th.Revoke(tok)
		r = w.run("check", "main")
		if rep := parseReport(t, r.stdout); r.code != exitWarn || rep.Accounts[0].Result != "needs_reauth" ||
			!strings.Contains(r.stderr, "main needs a new login") || !strings.Contains(r.stderr, "refresher login --redirect-uri URI main") {
			t.Errorf("check of a revoked token: %v, want exit 3 naming the login", r)
		}
		got := events()
		if len(got) != 1 || got[0]["event"] != "needs_reauth" || got[0]["health"] != "needs_reauth" || got[0]["schemaVersion"] != float64(2) {
			t.Errorf("events after the refusal %v, want one needs_reauth", got)
		}
		if rep := parseReport(t, w.run("status", "--json").stdout); accountIn(t, rep, "main").Result != "needs_reauth" {
			t.Errorf("status after the check: %+v", rep)
		}
		if r := w.run("check", "main"); r.code != exitWarn || len(events()) != 0 {
			t.Errorf("a second check: %v, want exit 3 and no new event", r)
		}

		for _, args := range [][]string{{"check"}, {"check", "nobody"}, {"check", "main", "other"}} {
			if r := w.run(args...); r.code != exitUsage {
				t.Errorf("refresher %s: %v, want exit 2", strings.Join(args, " "), r)
			}
		}
	})
}
