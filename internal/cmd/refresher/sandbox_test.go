package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/service"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/syncbuf"
)

// sandboxStart is the simulated day the tests' stories begin.
var sandboxStart = time.Date(2027, 1, 4, 15, 30, 0, 0, time.UTC)

// runSandboxCommand runs `refresher ARGS` as a newcomer would, in a
// process environment that points at a real store of theirs, with TMPDIR
// a folder of the test's; it returns the code, the output, and that store.
func runSandboxCommand(t *testing.T, args ...string) (int, string, string, string) {
	t.Helper()
	home := t.TempDir()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	realDB := filepath.Join(home, "refresher.db")
	vars := map[string]string{"REFRESHER_DB": realDB, "GOOGLE_CLOUD_PROJECT": "someones-project", "THREADS_SECRETS": "main"}
	var out syncbuf.Buffer
	began := time.Now()
	code := realMain(t.Context(), args, &env{
		stdin: strings.NewReader(""), stdout: &out, stderr: &out,
		lookup:  func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		service: service.Options{Now: func() time.Time { return sandboxStart }},
	})
	t.Logf("refresher %s took %s", strings.Join(args, " "), time.Since(began).Round(time.Millisecond))
	return code, out.String(), realDB, tmp
}

// The sandbox tells the whole story with the real commands, every line
// labelled, without a token, and leaves nothing behind: not in the
// person's store, not in the temporary folder.
func TestSandbox(t *testing.T) {
	code, out, realDB, tmp := runSandboxCommand(t, "sandbox", "--day", "0")
	if code != exitOK {
		t.Fatalf("refresher sandbox exited %d:\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	label := regexp.MustCompile(`^\[simulation \d{4}-\d\d-\d\d \d\d:\d\d\] `)
	for i, l := range lines {
		if strings.Contains(l, `"severity"`) {
			t.Errorf("line %d is a log line, not the story's: %q", i+1, l)
		}
		if !label.MatchString(l) {
			t.Errorf("line %d is not labelled as the simulation's: %q", i+1, l)
		}
	}
	// The story, in order: what a newcomer is promised to see.
	story := []string{
		"[simulation 2027-01-04 09:00] $ refresher add alice < token.txt",
		"$ refresher add --platform instagram bob < token.txt",
		"carol's token comes from an old spreadsheet",
		"carol: refreshed (", // Meta's clock says two days: refreshed at once
		"Threads is down",
		"alice: failed (",
		"A deployment would also email you",
		`consumers are told: {"schemaVersion":2,"event":"failing","account":"alice"`,
		"Threads is back.",
		"alice: ok again, refreshed",
		`consumers are told: {"schemaVersion":2,"event":"recovered","account":"alice"`,
		"dave: needs_reauth (",
		"dave needs a new login: `refresher login --redirect-uri URI dave`, or `refresher add dave < long-lived-token.txt`",
		`"Token of dave (threads): needs_reauth"`,
		`consumers are told: {"schemaVersion":2,"event":"needs_reauth","account":"dave"`,
		"$ refresher add dave < token.txt",
		"refresher add: account dave holds the token of @dave (user 17841400000000004); the new token is @alice",
		"nothing stored",
		"$ refresher add dave < token.txt",
		"Stored the token of @dave (Threads user 17841400000000004)",
		"Checked: dave is ok with the new token",
		`consumers are told: {"schemaVersion":2,"event":"recovered","account":"dave"`,
		"dave: ok again",
		"[simulation 2027-04-05 09:00] $ refresher status",
		"no Meta app, no token and no network were used",
	}
	rest := out
	for _, want := range story {
		i := strings.Index(rest, want)
		if i < 0 {
			t.Fatalf("the story lacks, at this point, %q; output:\n%s", want, out)
		}
		rest = rest[i+len(want):]
	}
	// The status table ends the story with every account alive.
	table := regexp.MustCompile(`(?m)^\[simulation [^]]+\] (alice|bob|carol|dave) +(threads|instagram) +@\S+ +(\S+) `)
	rows := table.FindAllStringSubmatch(out[strings.LastIndex(out, "$ refresher status"):], -1)
	if len(rows) != 4 {
		t.Fatalf("the final status table has %d account rows, want 4:\n%s", len(rows), out)
	}
	for _, r := range rows {
		if r[3] != "ok" {
			t.Errorf("account %s ends the quarter %s, want ok", r[1], r[3])
		}
	}
	if tok := regexp.MustCompile(`(THAA|IGAA)[A-Za-z0-9]{16,}`).FindString(out); tok != "" {
		t.Errorf("the sandbox printed a token: %.12s…", tok)
	}
	if _, err := os.Stat(realDB); err == nil {
		t.Errorf("the sandbox touched the person's store (REFRESHER_DB %s)", realDB)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the sandbox left %d files in the temporary folder, e.g. %s", len(left), left[0].Name())
	}
}

// With --db the store is kept where asked, for `refresher status`; a path
// that exists is refused, whatever it holds.
func TestSandboxKeepsItsStoreWhenAsked(t *testing.T) {
	db := filepath.Join(t.TempDir(), "sandbox.db")
	code, out, _, _ := runSandboxCommand(t, "sandbox", "--day", "0", "--every", "24h", "--days", "50", "--db", db)
	if code != exitOK {
		t.Fatalf("refresher sandbox --db exited %d:\n%s", code, out)
	}
	if !strings.Contains(out, "REFRESHER_DB="+db+" refresher status") {
		t.Errorf("the sandbox does not say where its store is kept:\n%s", out)
	}
	var status syncbuf.Buffer
	if code := realMain(t.Context(), []string{"status"}, &env{
		stdin: strings.NewReader(""), stdout: &status, stderr: &status,
		lookup: func(k string) (string, bool) {
			if k == "REFRESHER_DB" {
				return db, true
			}
			return "", false
		},
	}); code != exitOK || strings.Count(status.String(), "threads") != 3 {
		t.Errorf("status of the kept store exited %d, want 0 with three Threads accounts:\n%s", code, status.String())
	}

	before, _ := os.ReadFile(db)
	code, out, _, _ = runSandboxCommand(t, "sandbox", "--day", "0", "--db", db)
	if after, _ := os.ReadFile(db); code != exitUsage || string(after) != string(before) {
		t.Errorf("a second sandbox on an existing --db exited %d (want %d), file changed %v:\n%s", code, exitUsage, string(after) != string(before), out)
	}
}

func TestSandboxRefusesFlagsItCannotUse(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--days", "10"},
		{"--every", "7h"},
		{"--every", "30s"},
		{"--day", "-1s"},
		{"extra"},
	} {
		var out syncbuf.Buffer
		code := realMain(t.Context(), append([]string{"sandbox"}, args...), &env{
			stdin: strings.NewReader(""), stdout: &out, stderr: &out,
			lookup: func(string) (string, bool) { return "", false },
		})
		if code != exitUsage || strings.Count(strings.TrimSpace(out.String()), "\n") != 0 {
			t.Errorf("sandbox %v exited %d, want %d with one line: %q", args, code, exitUsage, out.String())
		}
	}
}
