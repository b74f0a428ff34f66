package main

import (
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

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
