package threads_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/errtext"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
	"github.com/threads-token-refresher/threads-token-refresher/internal/threads"
)

// TestErrorsNeverShowSecrets captures the text of every error from every
// failure path and checks that no token, app secret, code or query string
// is in it, nor in anything the error wraps.
func TestErrorsNeverShowSecrets(t *testing.T) {
	t.Parallel()
	type captured struct {
		name    string
		err     error
		secrets []string
	}
	results := make(chan captured, 256)
	run := func(name string, err error, secrets []string) {
		results <- captured{name, err, secrets}
	}

	t.Run("paths", func(t *testing.T) {
		for _, ep := range endpoints {
			for _, fl := range threadsfake.Failures() {
				if fl == threadsfake.ZeroExpiry && ep.path == threadsfake.PathCode {
					continue // not a failure there: see TestFailureClassification
				}
				t.Run(ep.name+"/"+fl.String(), func(t *testing.T) {
					t.Parallel()
					f := startFake(t)
					c := newClient(t, f, hangTimeout)
					f.FailNext(ep.path, fl, 1)
					err, secrets := ep.call(t.Context(), c, f)
					run(t.Name(), err, secrets)
				})
			}
			t.Run(ep.name+"/refused by the fake", func(t *testing.T) {
				t.Parallel()
				// Tokens expire, and the fake knows another app secret.
				f := threadsfake.Start(t, threadsfake.App(appID, "another-secret"))
				f.SetNow(epoch.Add(70 * 24 * time.Hour))
				c := newClient(t, f, hangTimeout)
				err, secrets := ep.call(t.Context(), c, f)
				run(t.Name(), err, secrets)
			})
			t.Run(ep.name+"/connection refused", func(t *testing.T) {
				t.Parallel()
				f := startFake(t)
				c := newClient(t, f, hangTimeout)
				f.Close()
				err, secrets := ep.call(t.Context(), c, f)
				run(t.Name(), err, secrets)
			})
			t.Run(ep.name+"/caller canceled", func(t *testing.T) {
				t.Parallel()
				f := startFake(t)
				c := newClient(t, f, time.Minute)
				f.FailNext("", threadsfake.Hang, 1)
				ctx, cancel := context.WithCancel(t.Context())
				time.AfterFunc(50*time.Millisecond, cancel)
				err, secrets := ep.call(ctx, c, f)
				run(t.Name(), err, secrets)
			})
			t.Run(ep.name+"/server echoes the request", func(t *testing.T) {
				t.Parallel()
				f := startFake(t)
				echo := echoServer(t)
				c := threads.New(echo, time.Second, nil)
				err, secrets := ep.call(t.Context(), c, f)
				run(t.Name(), err, secrets)
			})
		}
	})
	close(results)

	n := 0
	for r := range results {
		n++
		if r.err == nil {
			t.Errorf("%s: no error", r.name)
			continue
		}
		t.Logf("%s: %v", strings.TrimPrefix(r.name, "TestErrorsNeverShowSecrets/paths/"), r.err)
		for _, text := range errtext.Of(r.err) {
			for _, s := range r.secrets {
				if strings.Contains(text, s) || strings.Contains(text, url.QueryEscape(s)) {
					t.Errorf("%s: error text %q shows a secret", r.name, text)
				}
			}
			for _, param := range []string{"access_token=", "client_secret=", "code="} {
				if strings.Contains(text, param) {
					t.Errorf("%s: error text %q shows the query or form", r.name, text)
				}
			}
		}
	}
	if want := len(endpoints)*(len(threadsfake.Failures())+4) - 1; n != want {
		t.Errorf("captured %d errors, want %d", n, want)
	}
}

// echoServer answers every request with errors that repeat the request:
// the client must scrub Meta's text as well as its own.
func echoServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		all := r.URL.String() + " " + r.PostForm.Encode()
		for _, vs := range r.Form {
			all += " " + strings.Join(vs, " ")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":{"message":%q,"type":%q,"code":190,"fbtrace_id":%q}}`, all, all, all)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestTokenNeverPrinted(t *testing.T) {
	t.Parallel()
	const secret = "THAAverysecrettokenvalue"
	tok := threads.Token{AccessToken: secret, TokenType: "bearer", ExpiresIn: 5183944}
	sl := threads.ShortLived{AccessToken: secret, UserID: userID}
	req := threads.CodeRequest{ClientID: appID, ClientSecret: secret + "s", Code: secret + "c", RedirectURI: redirectURI}

	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	log.Info("token", "token", tok, "short", sl, "request", req)
	log.Info("text", "token", fmt.Sprint(tok))

	texts := []string{logged.String()}
	for _, v := range []any{tok, sl, req, &tok, []threads.Token{tok}} {
		texts = append(texts, fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v), fmt.Sprintf("%s", v))
	}
	for _, text := range texts {
		if strings.Contains(text, secret) {
			t.Errorf("printed value shows the secret: %s", text)
		}
	}
	if !strings.Contains(logged.String(), `"expires_in":5183944`) || !strings.Contains(logged.String(), `"access_token":"[REDACTED]"`) {
		t.Errorf("log line lacks the token's harmless fields: %s", logged.String())
	}
}
