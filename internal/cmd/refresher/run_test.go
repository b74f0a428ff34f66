package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/leases"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

const day = 24 * time.Hour

func TestToken(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		tok, _ := w.seed("main", time.Hour)
		r := w.run("token", "main")
		if r.code != 0 || r.stdout != tok+"\n" || r.stderr != "" {
			t.Errorf("token main: want exactly the token and a newline on stdout, nothing else; got exit %d, stdout %d bytes, stderr %q",
				r.code, len(r.stdout), r.stderr)
		}
		if n := w.th.TotalCalls(); n != 0 {
			t.Errorf("token called Threads %d times", n)
		}

		// After a refresh it gives the new token.
		_, _ = w.seed("old", 3*day)
		w.env["THREADS_SECRETS"] = "main,old"
		if r := w.run("run"); r.code != 0 {
			t.Fatalf("run: %v", r)
		}
		newTok := w.newestToken("old")
		if r := w.run("token", "old"); r.stdout != newTok+"\n" || !w.th.Valid(strings.TrimSpace(r.stdout)) {
			t.Errorf("token old after a refresh does not print the refreshed token (exit %d)", r.code)
		}

		// An account without a token.
		for _, account := range []string{"nobody"} {
			r := w.run("token", account)
			if r.code == 0 || r.stdout != "" {
				t.Errorf("token %s: want a failure and nothing on stdout, got %v", account, r)
			}
			line := wantOneLine(t, "token "+account, r.stderr)
			if !strings.Contains(line, account) || !strings.Contains(line, "refresher add") {
				t.Errorf("token %s: the line should name the account and say how to add one: %q", account, line)
			}
		}
	})
}

func TestTokenDisabledNewestVersion(t *testing.T) {
	t.Parallel()
	w := newWorld(t, google)
	tok, _ := w.seed("main", time.Hour)
	name := w.sm.AddVersion(w.secretName("main"), []byte(`{"access_token":"THAAdisabledversiontoken"}`), time.Time{})
	w.forbid("THAAdisabledversiontoken")
	w.sm.SetVersionState(name, secretmanagerpb.SecretVersion_DISABLED)
	if r := w.run("token", "main"); r.code != 0 || r.stdout != tok+"\n" {
		t.Errorf("token with a disabled newest version: want the newest enabled token, got exit %d", r.code)
	}
}

func TestRun(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		dueTok, _ := w.seed("due", 3*day)
		_, _ = w.seed("recent", 2*time.Hour)
		w.env["THREADS_SECRETS"] = "due,recent"

		r := w.run("run")
		if r.code != 0 {
			t.Fatalf("run: %v", r)
		}
		rep := parseReport(t, r.stdout)
		if got := resultOf(t, rep, "due"); got != "refreshed" {
			t.Errorf("due: %s, want refreshed", got)
		}
		if got := resultOf(t, rep, "recent"); got != "rolled_forward" {
			t.Errorf("recent: %s, want rolled_forward", got)
		}
		if *rep.Refreshed != 1 || *rep.Failed != 0 {
			t.Errorf("refreshed %d, failed %d; want 1 and 0", *rep.Refreshed, *rep.Failed)
		}
		if n := w.th.Calls(threadsfake.PathRefresh); n != 1 {
			t.Errorf("%d refresh calls, want 1", n)
		}
		vs := w.versions("due")
		if len(vs) != 2 {
			t.Fatalf("due has %d versions, want 2", len(vs))
		}
		newTok := w.newestToken("due")
		if newTok == dueTok || !w.th.Valid(newTok) {
			t.Error("the new version does not hold a new, valid token")
		}
		logs := jsonLogs(t, r.stderr)
		perAccount := map[string]bool{}
		for _, l := range logs {
			if a, ok := l["account"].(string); ok && l["result"] != nil {
				perAccount[a] = true
			}
		}
		if !perAccount["due"] || !perAccount["recent"] {
			t.Errorf("no log line per account on stderr:\n%s", r.stderr)
		}

		// The second pass does nothing.
		r = w.run("run")
		rep = parseReport(t, r.stdout)
		if r.code != 0 || resultOf(t, rep, "due") != "fresh" || resultOf(t, rep, "recent") != "fresh" {
			t.Errorf("second pass: %v", r)
		}
		if n := w.th.Calls(threadsfake.PathRefresh); n != 1 {
			t.Errorf("the second pass called Threads")
		}
	})
}

// TestRunExitCode: run exits 1 exactly when an account failed or needs a
// new login, and prints the pass JSON either way.
func TestRunExitCode(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, w *world)
		env    map[string]string
		result string
		exit   int
	}{
		{"refreshed", func(t *testing.T, w *world) { w.seed("main", 3*day) }, nil, "refreshed", 0},
		{"fresh", func(t *testing.T, w *world) {
			w.seed("main", time.Hour)
			if r := w.run("run"); r.code != 0 {
				t.Fatal(r)
			}
		}, nil, "fresh", 0},
		{"needs_reauth", func(t *testing.T, w *world) {
			tok, _ := w.seed("main", 3*day)
			w.th.Revoke(tok)
		}, nil, "needs_reauth", 1},
		{"failed after transient errors", func(t *testing.T, w *world) {
			w.seed("main", 3*day)
			w.th.FailNext(threadsfake.PathRefresh, threadsfake.Transient, 3)
		}, nil, "failed", 1},
		{"failed on a broken payload", func(t *testing.T, w *world) {
			w.storeVersion("main", []byte(`{"user_id":"1"}`), time.Now().Add(-3*day))
		}, nil, "failed", 1},
	}
	for _, store := range []storeKind{local, google} {
		for _, tt := range tests {
			t.Run(string(store)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				w := newWorld(t, store)
				tt.setup(t, w)
				r := w.runCall(call{env: tt.env}, "run")
				rep := parseReport(t, r.stdout)
				if got := resultOf(t, rep, "main"); got != tt.result {
					t.Errorf("result %s, want %s (error %q)", got, tt.result, errorOf(rep, "main"))
				}
				if r.code != tt.exit {
					t.Errorf("exit %d, want %d", r.code, tt.exit)
				}
				if tt.exit == 1 {
					if line := lastLine(r.stderr); !strings.HasPrefix(line, "refresher run: 1 of 1 accounts") {
						t.Errorf("no closing line for people on stderr: %q", line)
					}
				}
			})
		}
	}
	// Busy: another pass holds the lease.
	t.Run("local/busy", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, local)
		w.seed("main", 3*day)
		s := w.openStore(nil)
		if _, err := leases.Take(context.Background(), s, s.Account("main"), "another-pass", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		r := w.run("run")
		if got := resultOf(t, parseReport(t, r.stdout), "main"); got != "busy" || r.code != 0 {
			t.Errorf("busy: result %s, exit %d; want busy and 0", got, r.code)
		}
		if n := w.th.Calls(threadsfake.PathRefresh); n != 0 {
			t.Errorf("a busy account was refreshed")
		}
	})
}

func TestRunWithoutAccounts(t *testing.T) {
	t.Parallel()
	w := newWorld(t, local)
	r := w.run("run")
	if r.code != 0 {
		t.Fatalf("run without accounts: %v", r)
	}
	if rep := parseReport(t, r.stdout); len(rep.Accounts) != 0 {
		t.Errorf("accounts in an empty store: %v", rep.Accounts)
	}
	if !strings.Contains(r.stderr, "refresher add") || !strings.Contains(r.stderr, "refresher login") {
		t.Errorf("run does not say how to add an account:\n%s", r.stderr)
	}
	r = w.run("status")
	if r.code != 0 || !strings.Contains(r.stdout, "refresher add") {
		t.Errorf("status does not say how to add an account: %v", r)
	}
}

func TestStatus(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		w.seed("main", 3*day)
		broken, _ := w.seed("broken", 3*day)
		w.th.Revoke(broken)
		w.terraform("unseen") // listed, never stored (Google); absent (local)
		w.env["THREADS_SECRETS"] = "broken,main"
		if r := w.run("run"); r.code != 1 {
			t.Fatalf("run: want exit 1 for the revoked token, got %v", r)
		}
		calls := w.th.TotalCalls()

		r := w.run("status")
		if r.code != 0 {
			t.Fatalf("status with a failing account: want exit 0, got %v", r)
		}
		if strings.Contains(r.stdout, "\x1b[") {
			t.Errorf("colour codes when stdout is not a terminal:\n%q", r.stdout)
		}
		lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
		if len(lines) != 4 {
			t.Fatalf("want a header, two rows and a note, got:\n%s", r.stdout)
		}
		// Below the table, the command that brings broken back.
		if want := "broken needs a new login: `refresher login --redirect-uri URI broken`, or `refresher add broken < long-lived-token.txt`"; lines[3] != want {
			t.Errorf("the note below the table is %q, want %q", lines[3], want)
		}
		lines = lines[:3]
		header := strings.Fields(strings.NewReplacer("LAST ERROR", "LAST_ERROR", "DATA ACCESS", "DATA_ACCESS").Replace(lines[0]))
		want := []string{"ACCOUNT", "PLATFORM", "USER", "STATUS", "REFRESHED", "EXPIRES", "DATA_ACCESS", "LEFT", "LAST_ERROR"}
		if strings.Join(header, " ") != strings.Join(want, " ") {
			t.Errorf("header %q, want columns %v", lines[0], want)
		}
		row := map[string]string{}
		for _, l := range lines[1:] {
			row[strings.Fields(l)[0]] = l
		}
		// Meta's expiry (debug_token), and the app's access to the
		// account's data, which ends 90 days after the login.
		for _, want := range []string{" threads ", "@user_main", " ok ", " ago)", "Z (meta) ", "Z  59d23h "} {
			if !strings.Contains(row["main"], want) {
				t.Errorf("main's row lacks %q: %q", want, row["main"])
			}
		}
		for _, want := range []string{"@user_broken", " needs_reauth ", "session invalidated"} {
			if !strings.Contains(row["broken"], want) {
				t.Errorf("broken's row lacks %q: %q", want, row["broken"])
			}
		}

		r = w.run("status", "--json")
		if r.code != 0 {
			t.Fatalf("status --json: %v", r)
		}
		rep := parseReport(t, r.stdout)
		if resultOf(t, rep, "main") != "ok" || resultOf(t, rep, "broken") != "needs_reauth" || *rep.Failed != 1 {
			t.Errorf("status --json: %s", r.stdout)
		}
		if !strings.Contains(errorOf(rep, "broken"), "session invalidated") {
			t.Errorf("status --json does not give broken's last error: %s", r.stdout)
		}
		if n := w.th.TotalCalls(); n != calls {
			t.Errorf("status called Threads")
		}

		// An account listed but never seen.
		w.env["THREADS_SECRETS"] = "main,unseen"
		r = w.run("status", "--json")
		if got := resultOf(t, parseReport(t, r.stdout), "unseen"); r.code != 0 || got != "unknown" {
			t.Errorf("unseen account: exit %d, result %s; want 0 and unknown", r.code, got)
		}
	})
}

// TestStatusUnreadableState: status fails, with one line, when it cannot
// read the state.
func TestStatusUnreadableState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open.db")
	if err := os.WriteFile(open, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, db, want string
		code           int
	}{
		// Another file: REFRESHER_DB is wrong, as any bad setting is.
		{"not a database", garbage, garbage + ", which is not a refresher database", 2},
		{"readable by others", open, "chmod 600", 1},
		{"a directory", dir, "directory", 1},
	} {
		for _, args := range [][]string{{"status"}, {"status", "--json"}, {"run"}} {
			r := execute(t, call{}, map[string]string{"REFRESHER_DB": tt.db}, args...)
			name := tt.name + ": refresher " + strings.Join(args, " ")
			if r.code != tt.code || r.stdout != "" {
				t.Errorf("%s: want exit %d and nothing on stdout, got %v", name, tt.code, r)
			}
			if line := wantOneLine(t, name, r.stderr); !strings.Contains(line, tt.want) {
				t.Errorf("%s: the line does not say %q: %q", name, tt.want, line)
			}
		}
	}
}
