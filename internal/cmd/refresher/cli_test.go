package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/syncbuf"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// testedCommands are the commands of issues 2 and 4.
var testedCommands = []string{"add", "exchange", "login", "token", "run", "serve", "status"}

// noStoreEnv points the local store at a file that must never be created
// by commands that stop before doing anything.
func noStoreEnv(t *testing.T) (map[string]string, string) {
	db := filepath.Join(t.TempDir(), "never", "refresher.db")
	return map[string]string{"REFRESHER_DB": db}, db
}

func assertNotCreated(t *testing.T, db string) {
	t.Helper()
	if _, err := os.Stat(filepath.Dir(db)); err == nil {
		t.Errorf("%s was created by a command that should have done nothing", filepath.Dir(db))
	}
}

func TestHelpPrintsUsageWithExample(t *testing.T) {
	t.Parallel()
	vars, db := noStoreEnv(t)
	for _, name := range testedCommands {
		for _, flag := range []string{"-h", "--help"} {
			r := execute(t, call{}, vars, name, flag)
			if r.code != 0 || r.stderr != "" {
				t.Errorf("refresher %s %s: want exit 0 and nothing on stderr, got %v", name, flag, r)
				continue
			}
			if !strings.HasPrefix(r.stdout, "Usage: refresher "+name) {
				t.Errorf("refresher %s %s: usage does not start with the command line:\n%s", name, flag, r.stdout)
			}
			_, example, ok := strings.Cut(r.stdout, "\nExample:\n")
			if !ok || !strings.Contains(example, "refresher "+name) {
				t.Errorf("refresher %s %s: no example running the command:\n%s", name, flag, r.stdout)
			}
		}
	}

	for _, flag := range []string{"-h", "--help", "help"} {
		r := execute(t, call{}, vars, flag)
		if r.code != 0 {
			t.Errorf("refresher %s: %v", flag, r)
		}
		for _, name := range testedCommands {
			if !strings.Contains(r.stdout, "  "+name+" ") {
				t.Errorf("refresher %s does not list %s:\n%s", flag, name, r.stdout)
			}
		}
	}
	if r := execute(t, call{}, vars); r.code != 2 || !strings.Contains(r.stderr, "Usage: refresher COMMAND") {
		t.Errorf("refresher without a command: want usage on stderr and exit 2, got %v", r)
	}
	assertNotCreated(t, db)
}

func TestUnknownFlagsAndCommands(t *testing.T) {
	t.Parallel()
	vars, db := noStoreEnv(t)
	for _, name := range testedCommands {
		r := execute(t, call{}, vars, name, "--no-such-flag", "main")
		if r.code != 2 || r.stdout != "" {
			t.Errorf("refresher %s --no-such-flag: want exit 2 and no output, got %v", name, r)
		}
		if line := wantOneLine(t, "refresher "+name+" --no-such-flag", r.stderr); !strings.Contains(line, "no-such-flag") {
			t.Errorf("refresher %s: the line does not name the flag: %q", name, line)
		}
	}
	r := execute(t, call{}, vars, "refersh")
	if r.code != 2 {
		t.Errorf("unknown command: want exit 2, got %v", r)
	}
	if line := wantOneLine(t, "unknown command", r.stderr); !strings.Contains(line, "refersh") {
		t.Errorf("the line does not name the unknown command: %q", line)
	}
	assertNotCreated(t, db)
}

// TestWrongArguments covers missing and extra arguments and missing input
// that the commands refuse before touching anything.
func TestWrongArguments(t *testing.T) {
	t.Parallel()
	vars, db := noStoreEnv(t)
	app := map[string]string{"THREADS_APP_ID": "1234", "THREADS_APP_SECRET": "app-secret-for-arguments"}
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		stdin string
		want  string // in the one line
	}{
		{"add without account", []string{"add"}, nil, "", "missing ACCOUNT"},
		{"add with a bad account name", []string{"add", "a/b"}, nil, "", `"a/b"`},
		{"add with two accounts", []string{"add", "main", "other"}, nil, "", "takes one ACCOUNT, and got 2 arguments"},
		{"add with an unreadable token file", []string{"add", "--token-file", "/nonexistent/token", "main"}, nil, "", "--token-file"},
		{"add with empty input", []string{"add", "main"}, nil, "", "no long-lived token"},
		{"add with blank input", []string{"add", "main"}, nil, " \n\t\n", "no long-lived token"},
		{"add with two words", []string{"add", "main"}, nil, "abc def\n", "a space at byte 4"},
		// The token rule Meta's answers meet (payload.CheckToken), so that
		// what is stored reads back: printable ASCII, no blank, no quote.
		{"add with two lines", []string{"add", "main"}, nil, "THAAabc\nTHAAdef\n", "control character"},
		{"add with a tab", []string{"add", "main"}, nil, "THAAabc\tdef\n", "control character"},
		{"add with a control character", []string{"add", "main"}, nil, "THAAabc\x1bdef\n", "control character"},
		{"add with a letter that is not ASCII", []string{"add", "main"}, nil, "THAAabcé\n", "not ASCII"},
		{"add with a quote", []string{"add", "main"}, nil, "\"THAAabc\"\n", "quote"},
		{"add with a backtick", []string{"add", "main"}, nil, "THAA`abc\n", "backtick"},
		{"add with JSON", []string{"add", "main"}, nil, "{THAAabc}\n", "starts with '{'"},
		{"exchange with a space", []string{"exchange", "main"}, app, "THAA abc\n", "a space"},
		{"exchange without app secret", []string{"exchange", "main"}, nil, "short\n", "THREADS_APP_SECRET"},
		{"exchange with empty input", []string{"exchange", "main"}, app, "", "no short-lived token"},
		{"token without account", []string{"token"}, nil, "", "missing ACCOUNT"},
		{"token with two accounts", []string{"token", "a", "b"}, nil, "", "takes one ACCOUNT, and got 2 arguments"},
		{"run with an argument", []string{"run", "main"}, nil, "", `"main"`},
		{"status with an argument", []string{"status", "main"}, nil, "", `"main"`},
		{"serve with an argument", []string{"serve", "main"}, nil, "", `"main"`},
		{"login without app ID", []string{"login", "--redirect-uri", "https://example.com/cb", "main"},
			map[string]string{"THREADS_APP_SECRET": "app-secret-for-arguments"}, "", "THREADS_APP_ID"},
		{"login without redirect URI", []string{"login", "main"}, app, "", "--redirect-uri"},
		{"login with a redirect URI that is no URL", []string{"login", "--redirect-uri", "example.com/cb", "main"}, app, "", "--redirect-uri"},
		{"login with no scope", []string{"login", "--redirect-uri", "https://example.com/cb", "--scope", " , ", "main"}, app, "", "--scope"},
		{"login without app secret", []string{"login", "--redirect-uri", "https://example.com/cb", "main"},
			map[string]string{"THREADS_APP_ID": "1234"}, "", "THREADS_APP_SECRET"},
	}
	for _, tt := range tests {
		v := map[string]string{}
		for k, x := range vars {
			v[k] = x
		}
		for k, x := range tt.env {
			v[k] = x
		}
		r := execute(t, call{stdin: strings.NewReader(tt.stdin)}, v, tt.args...)
		if r.code != 2 || r.stdout != "" {
			t.Errorf("%s: want exit 2 and nothing on stdout, got %v", tt.name, r)
			continue
		}
		line := wantOneLine(t, tt.name, r.stderr)
		if !strings.HasPrefix(line, "refresher "+tt.args[0]+": ") || !strings.Contains(line, tt.want) {
			t.Errorf("%s: want a line from refresher %s with %q, got %q", tt.name, tt.args[0], tt.want, line)
		}
		if strings.Contains(r.stderr, "app-secret-for-arguments") {
			t.Errorf("%s: the app secret was printed: %q", tt.name, r.stderr)
		}
	}
	assertNotCreated(t, db)
}

// TestTokenAsArgumentIsRefused: a token given where only the account goes
// ends up in shell history; it is refused without being echoed.
func TestTokenAsArgumentIsRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		tok := w.longLived(w.newUser("main"), 0)
		for _, cmd := range []string{"add", "exchange"} {
			r := w.runCall(call{stdin: strings.NewReader(""), env: map[string]string{"THREADS_APP_SECRET": w.th.AppSecret()}}, cmd, "main", tok)
			if r.code != 2 {
				t.Errorf("refresher %s main TOKEN: want exit 2, got %v", cmd, r)
			}
			wantOneLine(t, cmd, r.stderr)
		}
		// A token pasted where the account name goes is refused, not echoed.
		for _, cmd := range []string{"add", "token"} {
			r := w.runCall(call{stdin: strings.NewReader("")}, cmd, tok)
			if r.code != 2 || !strings.Contains(r.stderr, "looks like a pasted token") {
				t.Errorf("refresher %s TOKEN: want exit 2 saying it looks like a token, got %v", cmd, r)
			}
		}
		if vs := w.versions("main"); len(vs) != 0 {
			t.Errorf("a version was stored: %v", vs)
		}
		if n := w.th.TotalCalls(); n != 0 {
			t.Errorf("Threads was called %d times", n)
		}
	})
}

// TestBadConfigurationIsRefusedFirst: every command refuses a bad setting
// with exit 2 and one line naming the variable, before it reads or writes
// any store or calls Threads.
func TestBadConfigurationIsRefusedFirst(t *testing.T) {
	bad := []struct {
		store    storeKind
		variable string
		value    string
	}{
		{local, "REFRESH_AFTER", "1h"},
		{local, "REFRESH_AFTER", "a day"},
		{local, "REFRESH_AFTER", "2000h"}, // longer than a token lives
		{local, "INSPECTOR_ACCOUNT", "a/b"},
		{local, "KEEP_VERSIONS", "0"},
		{local, "CONCURRENCY", "-1"},
		{local, "THREADS_TIMEOUT", "soon"},
		{local, "THREADS_TIMEOUT", "10ms"},
		{local, "PASS_TIMEOUT", "5s"}, // every due account would be skipped on every pass
		{local, "CONCURRENCY", "99999999999999999999"},
		{local, "THREADS_API_BASE_URL", "http://10.0.0.5:8080"}, // tokens in clear text
		{local, "LOG_LEVEL", "loud"},
		{local, "THREADS_API_BASE_URL", "graph.threads.net"},
		{local, "STORE", "cloud"},
		{local, "THREADS_SECRETS", "projects/p/secrets/main"},
		{local, "TOKEN_CHANGES_TOPIC", "projects/p/topics/token-changes"}, // the local store publishes nothing
		{google, "TOKEN_CHANGES_TOPIC", "token-changes"},
		{google, "REFRESH_AFTER", "23h59m"},
		{google, "REFRESH_AFTER", "1105h"}, // under 14 days left at the refresh
		{google, "INSPECTOR_ACCOUNT", "other"},
		{google, "KEEP_VERSIONS", "0"},
		{google, "KEEP_VERSIONS", "99999999999999999999"},
		{google, "PASS_TIMEOUT", "30s"},
		{google, "TOKENS_COLLECTION", "__state__"},
		{google, "THREADS_SECRETS", "main,main"},
		{google, "GOOGLE_CLOUD_PROJECT", ""},
	}
	for _, store := range []storeKind{local, google} {
		t.Run(string(store), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, store)
			if store == google {
				w.createSecret("main") // so that add would have somewhere to go
			}
			short := w.shortLived(w.newUser("main"), 0)
			appSecret := w.th.AppSecret()
			invocations := [][]string{
				{"add", "main"},
				{"exchange", "main"},
				{"login", "--redirect-uri", "https://example.com/cb", "main"},
				{"token", "main"},
				{"run"},
				{"status"},
				{"status", "--json"},
				{"serve"},
			}
			for _, b := range bad {
				if b.store != store {
					continue
				}
				overrides := map[string]string{
					b.variable:           b.value,
					"THREADS_APP_ID":     w.th.AppID(),
					"THREADS_APP_SECRET": appSecret,
					"PORT":               "1", // never reached
				}
				if b.variable == "GOOGLE_CLOUD_PROJECT" {
					overrides["STORE"] = "google"
				}
				for _, args := range invocations {
					r := w.runCall(call{stdin: strings.NewReader(short + "\n"), env: overrides}, args...)
					name := b.variable + "=" + b.value + " refresher " + strings.Join(args, " ")
					if r.code != 2 || r.stdout != "" {
						t.Errorf("%s: want exit 2 and nothing on stdout, got %v", name, r)
						continue
					}
					if line := wantOneLine(t, name, r.stderr); !strings.Contains(line, b.variable) {
						t.Errorf("%s: the line does not name %s: %q", name, b.variable, line)
					}
				}
			}
			if n := w.th.TotalCalls(); n != 0 {
				t.Errorf("Threads was called %d times", n)
			}
			switch store {
			case local:
				assertNotCreated(t, filepath.Dir(w.db))
			case google:
				if calls := w.sm.CallCounts(); len(calls) != 0 {
					t.Errorf("Secret Manager was called: %v", calls)
				}
			}
		})
	}
}

// TestPanicEndsTheCommandWithoutItsValue: a command that panics exits 1
// with one "panic" log line and one line for people, never the panic
// value's text (it may hold a token), also for a worker's panic that the
// engine raised again.
func TestPanicEndsTheCommandWithoutItsValue(t *testing.T) {
	t.Parallel()
	const secret = "THAAtokeninapanic"
	for _, v := range []any{
		errors.New("refreshing " + secret),
		&refresh.Panic{Value: "worker saw " + secret, Stack: []byte("goroutine 7 [running]:\nworker()")},
	} {
		var stderr syncbuf.Buffer
		code := func() (code int) {
			defer recoverPanic(&env{stderr: &stderr}, "run", &code)
			panic(v)
		}()
		out := stderr.String()
		if code != exitFailure || strings.Contains(out, secret) {
			t.Errorf("panic(%T): exit %d, want 1 without the value:\n%s", v, code, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], `"severity":"ERROR","message":"panic"`) ||
			!strings.HasPrefix(lines[1], "refresher run: internal error: ") {
			t.Errorf("panic(%T): want a panic log line and one line for people:\n%s", v, out)
		}
	}
	// A worker's panic is reported with the worker's stack.
	var stderr syncbuf.Buffer
	func() (code int) {
		defer recoverPanic(&env{stderr: &stderr}, "run", &code)
		panic(&refresh.Panic{Value: 1, Stack: []byte("goroutine 7 [running]:\nworker()")})
	}()
	if !strings.Contains(stderr.String(), `worker()`) {
		t.Errorf("the worker's stack is not in the log:\n%s", stderr.String())
	}
}

// TestReadOnlyCommandsNeverCreateTheDatabase: status and token only read.
// On a mistyped REFRESHER_DB they say there is no database there, exit 2,
// and leave nothing behind, rather than create an empty database and
// report "no account yet".
func TestReadOnlyCommandsNeverCreateTheDatabase(t *testing.T) {
	t.Parallel()
	w := newWorld(t, local)
	typo := filepath.Join(t.TempDir(), "cofnig", "refresher.db")
	for _, args := range [][]string{{"status"}, {"status", "--json"}, {"status", "--warn-within", "336h"}, {"token", "main"}} {
		r := w.runCall(call{env: map[string]string{"REFRESHER_DB": typo}}, args...)
		want := "no refresher database at " + typo + "; check REFRESHER_DB, or add an account first"
		if r.code != 2 || r.stdout != "" || !strings.Contains(wantOneLine(t, strings.Join(args, " "), r.stderr), want) {
			t.Errorf("refresher %s on a missing database: %v; want exit 2 and %q", strings.Join(args, " "), r, want)
		}
		assertNotCreated(t, typo)
	}
}

// TestREFRESHER_DBThatIsNotADatabase: pointed at another file, every
// command says that file is not a refresher database (exit 2, naming the
// variable), touches nothing, and never advises a chmod of it.
func TestREFRESHER_DBThatIsNotADatabase(t *testing.T) {
	t.Parallel()
	w := newWorld(t, local)
	passwd := filepath.Join(t.TempDir(), "passwd")
	content := "root:x:0:0:root:/root:/bin/bash\n"
	if err := os.WriteFile(passwd, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	tok := w.th.IssueLongLived("1789", "alice", time.Now())
	for _, args := range [][]string{{"status"}, {"token", "main"}, {"run"}, {"add", "main"}} {
		r := w.runCall(call{stdin: strings.NewReader(tok), env: map[string]string{"REFRESHER_DB": passwd}}, args...)
		line := wantOneLine(t, strings.Join(args, " "), r.stderr)
		if r.code != 2 || !strings.Contains(line, "REFRESHER_DB is "+passwd+", which is not a refresher database") || strings.Contains(line, "chmod") {
			t.Errorf("refresher %s with REFRESHER_DB=%s: %v; want exit 2 saying it is not a refresher database", strings.Join(args, " "), passwd, r)
		}
	}
	if b, err := os.ReadFile(passwd); err != nil || string(b) != content {
		t.Errorf("%s was changed: %q %v", passwd, b, err)
	}
	if fi, err := os.Stat(passwd); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("the mode of %s changed: %v", passwd, err)
	}
	if n := w.th.Calls(threadsfake.PathMe); n != 0 {
		t.Errorf("/me was called %d times with a database that cannot be used", n)
	}
}
