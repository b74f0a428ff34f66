package main

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/statestore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/leases"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// TestFlagsAfterTheAccount: flags may follow the account, as people type
// them (`refresher add main --platform instagram`); "--" ends the flags.
func TestFlagsAfterTheAccount(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		w.terraform("shop")
		tok := w.issue(w.ig, true, w.newUser("shop"), 0)
		if r := w.runIn(tok, "add", "shop", "--platform", "instagram"); r.code != 0 {
			t.Fatalf("add shop --platform instagram: %v", r)
		}
		if got := w.newest("shop")["platform"]; got != "instagram" {
			t.Errorf("the token was stored for platform %v, want instagram", got)
		}
		if n := w.ig.Calls(threadsfake.PathInstagramMe); n != 1 {
			t.Errorf("Instagram's /me was called %d times, want 1", n)
		}
		if r := w.run("status", "--json"); r.code != 0 {
			t.Errorf("status --json: %v", r)
		}
		// A flag's value after the account is read as the flag's.
		r := w.runIn("", "add", "shop", "--platform", "myspace")
		if line := wantOneLine(t, "add shop --platform myspace", r.stderr); r.code != 2 || !strings.Contains(line, `--platform "myspace"`) {
			t.Errorf("add shop --platform myspace: %v, want exit 2 naming the flag", r)
		}
		// After "--", everything is an argument.
		r = w.runIn(tok, "add", "--", "shop", "--platform", "instagram")
		if r.code != 2 || !strings.Contains(r.stderr, "takes one ACCOUNT, and got 3 arguments") {
			t.Errorf("add -- shop --platform instagram: %v, want three arguments refused", r)
		}
	})
}

// TestTokenArgumentsAreNeverEchoed: a token typed where an argument goes,
// before or after the account, is refused without being printed.
func TestTokenArgumentsAreNeverEchoed(t *testing.T) {
	t.Parallel()
	w := newWorld(t, local)
	tok := w.longLived(w.newUser("main"), 0)
	appToken := "1234567890123456|" + strings.Repeat("s3cr3t", 6)
	w.forbid(appToken)
	for _, args := range [][]string{
		{"add", "main", tok},
		{"add", tok, "main"},
		{"add", "--create", tok},
		{"add", tok},
		{"add", appToken},
		{"token", tok},
		{"exchange", "main", "--platform", "instagram", tok},
		{"run", tok},
		{"status", tok, "--json"},
		{tok},
		{"add", "--platform", tok, "main"},
		{"add", "--platform=" + tok, "main"},
	} {
		r := w.runIn("", args...)
		if r.code != 2 {
			t.Errorf("refresher with a token among %d arguments: exit %d, want 2", len(args), r.code)
		}
		wantOneLine(t, "a token among the arguments", r.stderr)
	}
	if n := w.th.TotalCalls(); n != 0 {
		t.Errorf("Threads was called %d times", n)
	}
	// The world's check at the end searches every output for the tokens.
}

// TestLongAccountNames: the commands take account names up to Secret
// Manager's 255 characters, as THREADS_SECRETS does; a longer one, or one
// shaped like a token, is refused without being echoed.
func TestLongAccountNames(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		for _, name := range []string{
			strings.Repeat("a", 100),
			"customer-" + strings.Repeat("acme-", 40) + "main", // 213
			strings.Repeat("x", 255),
		} {
			tok := w.longLived(w.newUser("long"), 0)
			if r := w.runIn(tok, "add", "--create", name); r.code != 0 {
				t.Errorf("add with a %d-character name: %v", len(name), r)
				continue
			}
			r := w.runCall(call{env: map[string]string{"THREADS_SECRETS": name}}, "token", name)
			if r.code != 0 || strings.TrimSpace(r.stdout) != tok {
				t.Errorf("token with a %d-character name: exit %d", len(name), r.code)
			}
		}
		for _, name := range []string{strings.Repeat("x", 256), "THAA" + strings.Repeat("b", 120), strings.Repeat("aB3", 40)} {
			r := w.runIn("", "add", name)
			if r.code != 2 || strings.Contains(r.stderr, name) || !strings.Contains(r.stderr, "looks like a pasted token") {
				t.Errorf("add with a %d-character token-like name: %v, want exit 2 without the name", len(name), r)
			}
		}
	})
}

// TestVersionAndHelpCommand: `refresher --version` and `refresher version`
// print the module's version and the Go version; `refresher help COMMAND`
// prints that command's help, as `refresher COMMAND -h` does.
func TestVersionAndHelpCommand(t *testing.T) {
	t.Parallel()
	vars, db := noStoreEnv(t)
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		r := execute(t, call{}, vars, args...)
		if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, "refresher ") || !strings.Contains(r.stdout, runtime.Version()) {
			t.Errorf("refresher %s: %v, want the version and %s on stdout", args[0], r, runtime.Version())
		}
	}
	for _, name := range append([]string{"version", "bundle"}, testedCommands...) {
		help := execute(t, call{}, vars, "help", name)
		flag := execute(t, call{}, vars, name, "-h")
		if help.code != 0 || help.stdout != flag.stdout || !strings.HasPrefix(help.stdout, "Usage: refresher "+name) {
			t.Errorf("refresher help %s: %v; want exit 0 and what `refresher %s -h` prints", name, help, name)
		}
	}
	if r := execute(t, call{}, vars, "help", "refersh"); r.code != 2 || !strings.Contains(r.stderr, `unknown command "refersh"`) {
		t.Errorf("refresher help refersh: %v, want exit 2 naming the unknown command", r)
	}
	assertNotCreated(t, db)
}

// stateStore opens the world's state store, as another process would.
func (w *world) stateStore() (refresh.StateStore, refresh.Account) {
	w.t.Helper()
	switch w.kind {
	case local:
		s := w.openStore(nil)
		return s, s.Account("main")
	default:
		s, err := statestore.New(context.Background(), w.project, "", "threads_tokens")
		if err != nil {
			w.t.Fatal(err)
		}
		w.t.Cleanup(func() { s.Close() })
		return s, refresh.Account{ID: "main", Secret: w.secretName("main")}
	}
}

// TestStatusShowsAHeldLease: an account another pass holds (one that died
// holds it for up to 45 minutes) is busy in status, with the pass and the
// end of its lease, in the table and in JSON; its stored status still
// counts for --warn-within. An expired lease is not shown.
func TestStatusShowsAHeldLease(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		broken, _ := w.seed("main", 3*day)
		w.th.Revoke(broken)
		if r := w.run("run"); r.code != 1 {
			t.Fatalf("run: %v", r)
		}
		s, a := w.stateStore()
		const owner = "crashed-host/4242/0123456789ab"
		until := time.Now().Add(45 * time.Minute).UTC().Truncate(time.Second)
		if _, err := leases.Take(context.Background(), s, a, owner, until); err != nil {
			t.Fatal(err)
		}

		r := w.run("status", "--json")
		rep := parseReport(t, r.stdout)
		got := rep.Accounts[0]
		if r.code != 0 || got.Result != "busy" || got.LeaseOwner != owner || got.LeaseExpiresAt != until.Format(time.RFC3339) {
			t.Errorf("status --json with a held lease: %+v, want busy held by %s until %s", got, owner, until.Format(time.RFC3339))
		}
		if got.RefreshedAt == "" || got.Platform != "threads" || !strings.Contains(got.Error, "session invalidated") || *rep.Failed != 1 {
			t.Errorf("status --json of a busy account lost its stored state: %s", r.stdout)
		}

		r = w.run("status")
		lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
		if r.code != 0 || len(lines) < 3 || !strings.Contains(lines[1], " busy ") {
			t.Fatalf("status with a held lease: %v", r)
		}
		note := "main is busy: pass " + owner + " holds it until " + until.Format("2006-01-02 15:04Z") + " (in 4"
		if !strings.HasPrefix(lines[2], note) {
			t.Errorf("the note below the table is %q, want it to start %q", lines[2], note)
		}
		// Busy or not, main needs a new login.
		if r := w.run("status", "--warn-within", "0s"); r.code != 3 || !strings.Contains(r.stderr, "main (needs_reauth") {
			t.Errorf("status --warn-within of a busy account that needs a new login: %v, want exit 3", r)
		}

		// A lease that has ended is not shown.
		w.expireLeaseIn(s, a)
		if got := parseReport(t, w.run("status", "--json").stdout).Accounts[0]; got.Result != "needs_reauth" || got.LeaseOwner != "" {
			t.Errorf("status after the lease ended: %+v, want needs_reauth and no lease", got)
		}
	})
}

// expireLeaseIn replaces the lease on a with one that has already ended.
func (w *world) expireLeaseIn(s refresh.StateStore, a refresh.Account) {
	w.t.Helper()
	states, err := s.Load(context.Background(), []refresh.Account{a})
	if err != nil {
		w.t.Fatal(err)
	}
	// The same owner may lease again: it sets the end in the past.
	if _, err := s.Lease(context.Background(), a, states[a.ID].Held.Owner, time.Now().Add(-time.Minute), states[a.ID]); err != nil {
		w.t.Fatal(err)
	}
}

// TestFailureLinesNameTheFix: run's closing line points to `refresher
// status`, and names the command that brings an account that needs a new
// login back.
func TestFailureLinesNameTheFix(t *testing.T) {
	t.Parallel()
	w := newWorld(t, local)
	tok, _ := w.seedInstagram("shop", 3*day)
	w.ig.Revoke(tok)
	r := w.run("run")
	line := lastLine(r.stderr)
	for _, want := range []string{
		"refresher run: 1 of 1 accounts failed or need a new login; `refresher status` shows each one's last error",
		"shop needs a new login: `refresher login --platform instagram --redirect-uri URI shop`, or `refresher add --platform instagram shop < long-lived-token.txt`",
	} {
		if r.code != 1 || !strings.Contains(line, want) {
			t.Errorf("run with an account that needs a new login: closing line %q, want it to hold %q", line, want)
		}
	}
}
