package main

import (
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// wantStored checks that the account's newest (and only) version is the
// payload `add` writes for the token and user.
func wantStored(t *testing.T, w *world, account, token string, u user) {
	t.Helper()
	wantStoredFor(t, w, account, "", token, u)
}

// wantStoredFor is wantStored for a platform other than Threads, whose
// payload names it ("" for Threads).
func wantStoredFor(t *testing.T, w *world, account, platform, token string, u user) {
	t.Helper()
	vs := w.versions(account)
	if len(vs) != 1 {
		t.Fatalf("%s has %d versions, want 1", account, len(vs))
	}
	got := w.newest(account)
	want := map[string]any{"access_token": token, "user_id": u.id, "username": u.name}
	if platform != "" {
		want["platform"] = platform
	}
	if len(got) != len(want) {
		t.Errorf("stored payload has fields %v, want exactly %v", keys(got), keys(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("stored %s = %v, want %v", k, got[k], v)
		}
	}
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func wantNothingStored(t *testing.T, w *world, account string) {
	t.Helper()
	if vs := w.versions(account); len(vs) != 0 {
		t.Errorf("%s has %d versions, want none", account, len(vs))
	}
}

func TestAdd(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		if w.kind == google {
			w.terraform("main") // as Terraform does
			w.terraform("other")
		}

		// From standard input, as `refresher add main < token.txt`.
		u := w.newUser("main")
		tok := w.longLived(u, 0)
		r := w.runIn(tok+"\n", "add", "main")
		if r.code != 0 {
			t.Fatalf("add from stdin: %v", r)
		}
		if !strings.Contains(r.stdout, "@"+u.name) {
			t.Errorf("add does not say whose token it stored:\n%s", r.stdout)
		}
		wantStored(t, w, "main", tok, u)
		if n := w.th.Calls(threadsfake.PathMe); n != 1 {
			t.Errorf("add called /v1.0/me %d times, want 1", n)
		}

		// From a file.
		u2 := w.newUser("other")
		tok2 := w.longLived(u2, 0)
		file := filepath.Join(t.TempDir(), "token.txt")
		if err := os.WriteFile(file, []byte(tok2+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r = w.run("add", "--token-file", file, "other")
		if r.code != 0 {
			t.Fatalf("add --token-file: %v", r)
		}
		wantStored(t, w, "other", tok2, u2)
		if w.kind == google && !strings.Contains(r.stdout, "not in THREADS_SECRETS") {
			t.Errorf("add of an account the function does not list gives no warning:\n%s", r.stdout)
		}

		// The token command gives it back, and the next pass adopts it.
		if r := w.run("token", "main"); r.stdout != tok+"\n" {
			t.Errorf("token main after add: %v", r)
		}
		w.env["THREADS_SECRETS"] = "main,other"
		r = w.run("run")
		rep := parseReport(t, r.stdout)
		if r.code != 0 || resultOf(t, rep, "main") != "rolled_forward" || resultOf(t, rep, "other") != "rolled_forward" {
			t.Errorf("the pass after add did not adopt both tokens: %v", r)
		}
	})
}

func TestAddLocalCreatesPrivateDatabase(t *testing.T) {
	t.Parallel()
	w := newWorld(t, local)
	tok := w.longLived(w.newUser("main"), 0)
	if r := w.runIn(tok, "add", "main"); r.code != 0 {
		t.Fatalf("add: %v", r)
	}
	fi, err := os.Stat(w.db)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("database mode %#o, want 0600", m)
	}
	for dir := filepath.Dir(w.db); dir != filepath.Dir(filepath.Dir(filepath.Dir(w.db))); dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o700 {
			t.Errorf("directory %s mode %#o, want 0700", dir, m)
		}
	}
	// A pass keeps it private.
	if r := w.run("run"); r.code != 0 {
		t.Fatalf("run: %v", r)
	}
	if fi, err := os.Stat(w.db); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("after run: %v, %v", fi.Mode(), err)
	}
}

func TestAddGoogleSecretMustExistUnlessCreate(t *testing.T) {
	t.Parallel()
	w := newWorld(t, google)
	u := w.newUser("main")
	tok := w.longLived(u, 0)

	r := w.runIn(tok, "add", "main")
	if r.code != 1 {
		t.Errorf("add to a missing secret: want exit 1, got %v", r)
	}
	line := wantOneLine(t, "add to a missing secret", r.stderr)
	for _, want := range []string{"main", "--create", "does not exist"} {
		if !strings.Contains(line, want) {
			t.Errorf("the line does not say %q: %q", want, line)
		}
	}
	if w.sm.HasSecret(w.secretName("main")) {
		t.Error("the secret was created without --create")
	}

	r = w.runIn(tok, "add", "--create", "main")
	if r.code != 0 {
		t.Fatalf("add --create: %v", r)
	}
	wantStored(t, w, "main", tok, u)
	if got := w.sm.Labels(w.secretName("main"))["managed-by"]; got != "threads-token-refresher" {
		t.Errorf("label managed-by = %q, want threads-token-refresher", got)
	}

	// --create on an existing secret adds a version to it.
	tok2 := w.longLived(u, 0)
	if r := w.runIn(tok2, "add", "--create", "main"); r.code != 0 {
		t.Fatalf("add --create to an existing secret: %v", r)
	}
	if got := w.newestToken("main"); got != tok2 || len(w.versions("main")) != 2 {
		t.Errorf("the second add did not store a second version")
	}
}

// TestAddRefusedToken: a token Threads refuses gives one line naming the
// account and Meta's message, exit 1, and nothing stored.
func TestAddRefusedToken(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		w.terraform("main")
		expired := w.longLived(w.newUser("main"), 61*24*time.Hour)
		revoked := w.longLived(w.newUser("main"), time.Hour)
		w.th.Revoke(revoked)
		tests := []struct {
			name, token, message string
		}{
			{"expired", expired, "Session has expired"},
			{"revoked", revoked, "session has been invalidated"},
			{"unknown", "THAAnotatokenthefakeeverissued", "Cannot parse access token"},
		}
		for _, tt := range tests {
			wantAccountFailure(t, tt.name+" token", w.runIn(tt.token+"\n", "add", "main"), tt.message)
		}
		wantNothingStored(t, w, "main")
	})
}

func TestExchange(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		w.terraform("main")
		w.terraform("other")
		appSecret := w.th.AppSecret()

		// App secret from THREADS_APP_SECRET.
		u := w.newUser("main")
		short := w.shortLived(u, 10*time.Minute)
		r := w.runCall(call{stdin: strings.NewReader(short + "\n"), env: map[string]string{"THREADS_APP_SECRET": appSecret}}, "exchange", "main")
		if r.code != 0 {
			t.Fatalf("exchange: %v", r)
		}
		long := w.newestToken("main")
		wantStored(t, w, "main", long, u)
		if info, ok := w.th.Info(long); !ok || !info.LongLived || info.UserID != u.id {
			t.Errorf("the stored token is not a long-lived token of the user: %+v, %v", info, ok)
		}

		// App secret from a file, short-lived token from a file.
		u2 := w.newUser("other")
		short2 := w.shortLived(u2, 0)
		dir := t.TempDir()
		secretFile, tokenFile := filepath.Join(dir, "app-secret"), filepath.Join(dir, "short")
		if err := os.WriteFile(secretFile, []byte(appSecret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(tokenFile, []byte(short2), 0o600); err != nil {
			t.Fatal(err)
		}
		r = w.runCall(call{env: map[string]string{"THREADS_APP_SECRET": unset}},
			"exchange", "--app-secret-file", secretFile, "--token-file", tokenFile, "other")
		if r.code != 0 {
			t.Fatalf("exchange --app-secret-file: %v", r)
		}
		long2 := w.newestToken("other")
		if info, ok := w.th.Info(long2); !ok || !info.LongLived || info.UserID != u2.id {
			t.Errorf("the stored token is not a long-lived token of the user: %+v, %v", info, ok)
		}
	})
}

func TestExchangeFailures(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		w.terraform("main")
		u := w.newUser("main")
		wrongSecret := "0123456789abcdef0123456789abcdef"
		w.forbid(wrongSecret)
		tests := []struct {
			name      string
			short     string
			appSecret string
			message   string
		}{
			{"wrong app secret", w.shortLived(u, 0), wrongSecret, "Error validating client secret"},
			{"expired short-lived token", w.shortLived(u, 2*time.Hour), w.th.AppSecret(), "Session has expired"},
			{"long-lived token given", w.longLived(u, 0), w.th.AppSecret(), "Cannot parse access token"},
		}
		for _, tt := range tests {
			r := w.runCall(call{stdin: strings.NewReader(tt.short), env: map[string]string{"THREADS_APP_SECRET": tt.appSecret}}, "exchange", "main")
			wantAccountFailure(t, tt.name, r, tt.message)
		}
		wantNothingStored(t, w, "main")
		if n := w.th.Calls(threadsfake.PathMe); n != 0 {
			t.Errorf("/v1.0/me called %d times after failed exchanges", n)
		}
	})
}

// authorizeWatcher receives login's standard error and hands over the
// authorize URL as soon as its line is complete: login then waits for the
// pasted answer on standard input.
type authorizeWatcher struct {
	mu    sync.Mutex
	buf   strings.Builder
	found chan string
	once  sync.Once
}

func newAuthorizeWatcher() *authorizeWatcher {
	return &authorizeWatcher{found: make(chan string, 1)}
}

func (a *authorizeWatcher) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.buf.Write(p)
	text := a.buf.String()
	i := strings.Index(text, "/oauth/authorize?")
	if i < 0 {
		return len(p), nil
	}
	start := strings.LastIndex(text[:i], "\n") + 1
	end := strings.Index(text[i:], "\n")
	if end < 0 {
		return len(p), nil // the rest of the line is still to come
	}
	line := strings.TrimSpace(text[start : i+end])
	a.once.Do(func() { a.found <- line })
	return len(p), nil
}

// login runs `refresher login` in the background, lets answer compute what
// to paste from the authorize URL, and returns the result. answer returns
// "" to paste nothing but end of input.
func (w *world) login(t *testing.T, args []string, env map[string]string, answer func(authorize *url.URL) string) (result, *url.URL) {
	t.Helper()
	stdinR, stdinW := io.Pipe()
	watcher := newAuthorizeWatcher()
	done := make(chan result, 1)
	go func() {
		r := w.runCall(call{stdin: stdinR, env: env, stderr: watcher}, append([]string{"login"}, args...)...)
		stdinR.Close()
		done <- r
	}()
	var authorize *url.URL
	select {
	case line := <-watcher.found:
		u, err := url.Parse(line)
		if err != nil {
			stdinW.Close()
			t.Fatalf("the authorize URL does not parse: %v", err)
		}
		authorize = u
		go func() {
			if s := answer(u); s != "" {
				io.WriteString(stdinW, s+"\n")
			}
			stdinW.Close()
		}()
	case r := <-done:
		stdinW.Close()
		return r, nil
	case <-time.After(30 * time.Second):
		stdinW.Close()
		t.Fatal("login printed no authorize URL within 30s")
	}
	select {
	case r := <-done:
		return r, authorize
	case <-time.After(30 * time.Second):
		t.Fatal("login did not end within 30s of the answer")
	}
	return result{}, nil
}

func TestLogin(t *testing.T) {
	const redirect = "https://example.com/threads/callback"
	eachStore(t, func(t *testing.T, w *world) {
		w.terraform("main")
		w.terraform("second")
		w.terraform("third")
		env := map[string]string{"THREADS_APP_ID": w.th.AppID(), "THREADS_APP_SECRET": w.th.AppSecret()}
		u := w.newUser("main")

		tests := []struct {
			name    string
			account string
			flags   []string
			scope   string
			paste   func(code, state string) string
		}{
			{"redirected URL with #_", "main", nil, "threads_basic", func(code, state string) string {
				return redirect + "?code=" + url.QueryEscape(code) + "&state=" + state + "#_"
			}},
			{"bare code with #_", "second", []string{"--scope", "threads_basic,threads_content_publish"},
				"threads_basic,threads_content_publish", func(code, state string) string {
					return code + "#_"
				}},
			{"redirected URL, state first", "third", nil, "threads_basic", func(code, state string) string {
				return "  " + redirect + "?state=" + state + "&code=" + url.QueryEscape(code) + "#_  "
			}},
		}
		for _, tt := range tests {
			var code string
			args := append(append([]string{"--redirect-uri", redirect}, tt.flags...), tt.account)
			r, authorize := w.login(t, args, env, func(a *url.URL) string {
				code = w.th.IssueCode(w.th.AppID(), redirect, u.id, u.name)
				w.forbid(code)
				return tt.paste(code, a.Query().Get("state"))
			})
			if r.code != 0 {
				t.Errorf("%s: %v", tt.name, r)
				continue
			}
			if authorize.Scheme != "https" || authorize.Host != "threads.net" || authorize.Path != "/oauth/authorize" {
				t.Errorf("%s: authorize URL %s is not https://threads.net/oauth/authorize", tt.name, authorize.Redacted())
			}
			q := authorize.Query()
			for k, want := range map[string]string{
				"client_id": w.th.AppID(), "redirect_uri": redirect, "scope": tt.scope, "response_type": "code",
			} {
				if got := q.Get(k); got != want {
					t.Errorf("%s: authorize URL %s = %q, want %q", tt.name, k, got, want)
				}
			}
			if len(q.Get("state")) < 16 {
				t.Errorf("%s: state %q is too short to stop forgery", tt.name, q.Get("state"))
			}
			tok := w.newestToken(tt.account)
			info, ok := w.th.Info(tok)
			if !ok || !info.LongLived || info.UserID != u.id {
				t.Errorf("%s: the stored token is not a long-lived token of the user: %+v", tt.name, info)
			}
			wantStored(t, w, tt.account, tok, u)
		}

		// Each login asks with its own state.
		var states []string
		for range 2 {
			_, a := w.login(t, []string{"--redirect-uri", redirect, "main"}, env, func(*url.URL) string { return "" })
			states = append(states, a.Query().Get("state"))
		}
		if states[0] == states[1] {
			t.Errorf("two logins used the same state %q", states[0])
		}
	})
}

func TestLoginRefusals(t *testing.T) {
	const redirect = "https://example.com/cb"
	eachStore(t, func(t *testing.T, w *world) {
		w.terraform("main")
		env := map[string]string{"THREADS_APP_ID": w.th.AppID(), "THREADS_APP_SECRET": w.th.AppSecret()}
		u := w.newUser("main")
		tests := []struct {
			name    string
			paste   func(code, state string) string
			exit    int
			message string
		}{
			{"wrong state", func(code, state string) string {
				return redirect + "?code=" + code + "&state=0123456789abcdef0123456789abcdef#_"
			}, 2, "state does not match"},
			{"no state", func(code, state string) string {
				return redirect + "?code=" + code + "#_"
			}, 2, "state does not match"},
			{"refused authorization", func(code, state string) string {
				return redirect + "?error=access_denied&error_description=Permissions+error&state=" + state + "#_"
			}, 2, "access_denied"},
			{"nothing pasted", func(code, state string) string { return "" }, 2, "nothing pasted"},
			{"code for another redirect URI", func(code, state string) string {
				other := w.th.IssueCode(w.th.AppID(), "https://elsewhere.example/cb", u.id, u.name)
				w.forbid(other)
				return other + "#_"
			}, 1, "redirect_uri"},
		}
		for _, tt := range tests {
			r, _ := w.login(t, []string{"--redirect-uri", redirect, "main"}, env, func(a *url.URL) string {
				code := w.th.IssueCode(w.th.AppID(), redirect, u.id, u.name)
				w.forbid(code)
				return tt.paste(code, a.Query().Get("state"))
			})
			if r.code != tt.exit {
				t.Errorf("%s: want exit %d, got %v", tt.name, tt.exit, r)
			}
			if line := lastLine(r.stderr); !strings.HasPrefix(line, "refresher login: ") || !strings.Contains(line, tt.message) {
				t.Errorf("%s: want a last line saying %q, got %q", tt.name, tt.message, line)
			}
		}
		wantNothingStored(t, w, "main")
		if n := w.th.Calls(threadsfake.PathExchange); n != 0 {
			t.Errorf("a refused login exchanged a token %d times", n)
		}

		// A wrong app secret fails the code exchange, with Meta's message.
		wrong := "fedcba9876543210fedcba9876543210"
		w.forbid(wrong)
		r, _ := w.login(t, []string{"--redirect-uri", redirect, "main"},
			map[string]string{"THREADS_APP_ID": w.th.AppID(), "THREADS_APP_SECRET": wrong},
			func(a *url.URL) string {
				code := w.th.IssueCode(w.th.AppID(), redirect, u.id, u.name)
				w.forbid(code)
				return redirect + "?code=" + code + "&state=" + a.Query().Get("state") + "#_"
			})
		if line := lastLine(r.stderr); r.code != 1 || !strings.Contains(line, "account main") || !strings.Contains(line, "Error validating client secret") {
			t.Errorf("wrong app secret: want exit 1 and Meta's message, got %v", r)
		}
		wantNothingStored(t, w, "main")
	})
}

// TestLoginGoogleMissingSecret: without the secret and --create, login
// stops before sending anyone to the browser.
func TestLoginGoogleMissingSecret(t *testing.T) {
	t.Parallel()
	w := newWorld(t, google)
	env := map[string]string{"THREADS_APP_ID": w.th.AppID(), "THREADS_APP_SECRET": w.th.AppSecret()}
	r, authorize := w.login(t, []string{"--redirect-uri", "https://example.com/cb", "main"}, env, func(*url.URL) string { return "" })
	if authorize != nil {
		t.Error("login printed the authorize URL although the secret does not exist")
	}
	if line := wantOneLine(t, "login to a missing secret", r.stderr); r.code != 1 || !strings.Contains(line, "--create") {
		t.Errorf("want exit 1 and a line pointing at --create, got %v", r)
	}

	// Nor does exchange spend the short-lived token.
	short := w.shortLived(w.newUser("main"), 0)
	r = w.runCall(call{stdin: strings.NewReader(short), env: env}, "exchange", "main")
	if line := wantOneLine(t, "exchange to a missing secret", r.stderr); r.code != 1 || !strings.Contains(line, "--create") {
		t.Errorf("exchange to a missing secret: want exit 1 and a line pointing at --create, got %v", r)
	}
	if n := w.th.TotalCalls(); n != 0 {
		t.Errorf("Threads was called %d times for a secret that does not exist", n)
	}

	// With --create it goes through, and labels the secret.
	u := w.newUser("main")
	r, _ = w.login(t, []string{"--redirect-uri", "https://example.com/cb", "--create", "main"}, env, func(a *url.URL) string {
		code := w.th.IssueCode(w.th.AppID(), "https://example.com/cb", u.id, u.name)
		w.forbid(code)
		return "https://example.com/cb?code=" + code + "&state=" + a.Query().Get("state") + "#_"
	})
	if r.code != 0 {
		t.Fatalf("login --create: %v", r)
	}
	if got := w.sm.Labels(w.secretName("main"))["managed-by"]; got != "threads-token-refresher" {
		t.Errorf("label managed-by = %q", got)
	}
	wantStored(t, w, "main", w.newestToken("main"), u)
}

// wantAccountFailure asserts a failure of account main: exit 1, nothing on
// stdout, and one line naming the account and saying message.
func wantAccountFailure(t *testing.T, what string, r result, message string) {
	t.Helper()
	if r.code != 1 || r.stdout != "" {
		t.Errorf("%s: want exit 1 and nothing on stdout, got %v", what, r)
	}
	line := wantOneLine(t, what, r.stderr)
	if !strings.Contains(line, "account main") || !strings.Contains(line, message) {
		t.Errorf("%s: the line should name the account and say %q: %q", what, message, line)
	}
}
