package threads_test

import (
	"bytes"
	"context"
	"errors"
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

const (
	appID       = "1234567890123456"
	appSecret   = "0123456789abcdef0123456789abcdef"
	redirectURI = "https://example.com/threads/callback"
	// userID is beyond 2^53: decoding it through float64 would change it.
	userID = "17841412345678901"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// startFake starts a fake whose clock is fixed at epoch.
func startFake(t *testing.T, opts ...threadsfake.Option) *threadsfake.Server {
	t.Helper()
	f := threadsfake.Start(t, append([]threadsfake.Option{threadsfake.App(appID, appSecret)}, opts...)...)
	f.SetNow(epoch)
	return f
}

// newClient returns a client of f with its own connections, closed with the
// test. The base URL has a trailing slash, which the client must tolerate.
func newClient(t *testing.T, f *threadsfake.Server, timeout time.Duration) *threads.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return threads.New(f.URL()+"/", timeout, &http.Client{Transport: tr})
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	f := startFake(t, threadsfake.ExpiresIn(5000000))
	c := newClient(t, f, 5*time.Second)
	old := f.IssueLongLived(userID, "alice", epoch.Add(-48*time.Hour))

	got, err := c.Refresh(t.Context(), old)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if got.AccessToken == "" || got.AccessToken == old {
		t.Errorf("Refresh returned the old or an empty token")
	}
	if !f.Valid(got.AccessToken) {
		t.Errorf("the fake does not accept the refreshed token")
	}
	if got.TokenType != "bearer" || got.ExpiresIn != 5000000 {
		t.Errorf("Refresh = type %q, expires_in %d; want bearer, 5000000 (the value answered)", got.TokenType, got.ExpiresIn)
	}
	if info, _ := f.Info(got.AccessToken); !info.ExpiresAt.Equal(epoch.Add(threadsfake.LongLivedLifetime)) || info.UserID != userID {
		t.Errorf("refreshed token info = %+v", info)
	}
	if n := f.Calls(threadsfake.PathRefresh); n != 1 {
		t.Errorf("refresh endpoint called %d times, want 1", n)
	}
}

func TestRefreshRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		setup    func(f *threadsfake.Server) string
		reauth   bool
		text     string
		tooYoung int
	}{
		{
			name:     "younger than 24 hours",
			setup:    func(f *threadsfake.Server) string { return f.IssueLongLived(userID, "a", epoch.Add(-23*time.Hour)) },
			text:     "unsupported request (code 100)",
			tooYoung: 1,
		},
		{
			name:   "expired",
			setup:  func(f *threadsfake.Server) string { return f.IssueLongLived(userID, "a", epoch.Add(-61*24*time.Hour)) },
			reauth: true,
			text:   "Threads: token expired (code 190/463): Error validating access token: Session has expired on Saturday, 28-Feb-26 04:00:00 PST.",
		},
		{
			name: "revoked",
			setup: func(f *threadsfake.Server) string {
				tok := f.IssueLongLived(userID, "a", epoch.Add(-48*time.Hour))
				f.Revoke(tok)
				return tok
			},
			reauth: true,
			text:   "session invalidated (password changed or security reset) (code 190/460)",
		},
		{
			name:   "unknown",
			setup:  func(*threadsfake.Server) string { return "THAAnotatoken" },
			reauth: true,
			text:   "token invalid (code 190): Invalid OAuth access token",
		},
		{
			name:   "short-lived",
			setup:  func(f *threadsfake.Server) string { return f.IssueShortLived(userID, "a", epoch) },
			reauth: true,
			text:   "(code 190)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := startFake(t)
			c := newClient(t, f, 5*time.Second)
			_, err := c.Refresh(t.Context(), tt.setup(f))
			if err == nil {
				t.Fatal("Refresh succeeded")
			}
			if got := errors.Is(err, threads.ErrNeedsReauth); got != tt.reauth {
				t.Errorf("errors.Is(%v, ErrNeedsReauth) = %v, want %v", err, got, tt.reauth)
			}
			if errors.Is(err, threads.ErrTransient) || errors.Is(err, threads.ErrBadAnswer) {
				t.Errorf("error %v is transient or a bad answer", err)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not contain %q", err, tt.text)
			}
			if got := f.TooYoungRefreshes(); got != tt.tooYoung {
				t.Errorf("TooYoungRefreshes = %d, want %d", got, tt.tooYoung)
			}
		})
	}
}

func TestRefreshRetiresOldTokenWhenTold(t *testing.T) {
	t.Parallel()
	f := startFake(t, threadsfake.RetireOnRefresh())
	c := newClient(t, f, 5*time.Second)
	old := f.IssueLongLived(userID, "a", epoch.Add(-48*time.Hour))
	f.Advance(0)
	fresh, err := c.Refresh(t.Context(), old)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if f.Valid(old) || !f.Valid(fresh.AccessToken) {
		t.Errorf("after refresh: old valid %v, new valid %v; want false, true", f.Valid(old), f.Valid(fresh.AccessToken))
	}
	if _, err := c.Me(t.Context(), old); !errors.Is(err, threads.ErrNeedsReauth) {
		t.Errorf("Me with the replaced token: %v, want ErrNeedsReauth", err)
	}
}

func TestExchange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		secret  string
		setup   func(f *threadsfake.Server) string
		wantErr bool
		reauth  bool
		code    int
	}{
		{name: "ok", secret: appSecret, setup: func(f *threadsfake.Server) string { return f.IssueShortLived(userID, "a", epoch) }},
		{name: "wrong secret", secret: "wrong", wantErr: true, code: 101,
			setup: func(f *threadsfake.Server) string { return f.IssueShortLived(userID, "a", epoch) }},
		{name: "expired short-lived", secret: appSecret, wantErr: true, reauth: true, code: 190,
			setup: func(f *threadsfake.Server) string { return f.IssueShortLived(userID, "a", epoch.Add(-61*time.Minute)) }},
		{name: "long-lived given", secret: appSecret, wantErr: true, reauth: true, code: 190,
			setup: func(f *threadsfake.Server) string { return f.IssueLongLived(userID, "a", epoch) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := startFake(t)
			c := newClient(t, f, 5*time.Second)
			got, err := c.Exchange(t.Context(), tt.secret, tt.setup(f))
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Exchange: %v", err)
				}
				info, ok := f.Info(got.AccessToken)
				if !ok || !info.LongLived || !f.Valid(got.AccessToken) || got.ExpiresIn != threadsfake.DefaultExpiresIn {
					t.Errorf("Exchange = %v, fake info %+v: want a valid long-lived token", got, info)
				}
				return
			}
			var apiErr *threads.APIError
			if !errors.As(err, &apiErr) || apiErr.Code != tt.code {
				t.Fatalf("Exchange error %v, want an APIError with code %d", err, tt.code)
			}
			if errors.Is(err, threads.ErrNeedsReauth) != tt.reauth || errors.Is(err, threads.ErrTransient) {
				t.Errorf("error %v: reauth %v, want %v; transient %v, want false", err,
					errors.Is(err, threads.ErrNeedsReauth), tt.reauth, errors.Is(err, threads.ErrTransient))
			}
		})
	}
}

func TestExchangeCode(t *testing.T) {
	t.Parallel()
	for _, asString := range []bool{false, true} {
		t.Run(fmt.Sprintf("user_id as string %v", asString), func(t *testing.T) {
			t.Parallel()
			var opts []threadsfake.Option
			if asString {
				opts = append(opts, threadsfake.UserIDAsString())
			}
			f := startFake(t, opts...)
			c := newClient(t, f, 5*time.Second)
			code := f.IssueCode(appID, redirectURI, userID, "alice")
			req := threads.CodeRequest{ClientID: appID, ClientSecret: appSecret, Code: code + "#_", RedirectURI: redirectURI}
			got, err := c.ExchangeCode(t.Context(), req)
			if err != nil {
				t.Fatalf("ExchangeCode: %v", err)
			}
			if got.UserID != userID {
				t.Errorf("UserID = %q, want %q (every digit kept)", got.UserID, userID)
			}
			if info, ok := f.Info(got.AccessToken); !ok || info.LongLived || !f.Valid(got.AccessToken) {
				t.Errorf("ExchangeCode returned a token the fake does not know as short-lived and valid")
			}
			if _, err := c.ExchangeCode(t.Context(), req); err == nil {
				t.Error("a code was accepted twice")
			}
		})
	}

	refusals := []struct {
		name string
		req  func(code string) threads.CodeRequest
		code int
	}{
		{"wrong redirect", func(code string) threads.CodeRequest {
			return threads.CodeRequest{ClientID: appID, ClientSecret: appSecret, Code: code, RedirectURI: redirectURI + "x"}
		}, 100},
		{"wrong secret", func(code string) threads.CodeRequest {
			return threads.CodeRequest{ClientID: appID, ClientSecret: "nope", Code: code, RedirectURI: redirectURI}
		}, 101},
		{"wrong app", func(code string) threads.CodeRequest {
			return threads.CodeRequest{ClientID: "42", ClientSecret: appSecret, Code: code, RedirectURI: redirectURI}
		}, 400},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := startFake(t)
			c := newClient(t, f, 5*time.Second)
			_, err := c.ExchangeCode(t.Context(), tt.req(f.IssueCode(appID, redirectURI, userID, "alice")))
			var apiErr *threads.APIError
			if !errors.As(err, &apiErr) || apiErr.Code != tt.code {
				t.Fatalf("ExchangeCode error %v, want an APIError with code %d", err, tt.code)
			}
			if errors.Is(err, threads.ErrNeedsReauth) || errors.Is(err, threads.ErrTransient) {
				t.Errorf("error %v is classified as reauth or transient", err)
			}
		})
	}

	t.Run("expired code", func(t *testing.T) {
		t.Parallel()
		f := startFake(t)
		c := newClient(t, f, 5*time.Second)
		code := f.IssueCode(appID, redirectURI, userID, "alice")
		f.Advance(61 * time.Minute)
		_, err := c.ExchangeCode(t.Context(), threads.CodeRequest{ClientID: appID, ClientSecret: appSecret, Code: code, RedirectURI: redirectURI})
		if err == nil || !strings.Contains(err.Error(), "expired") {
			t.Errorf("ExchangeCode of an expired code: %v", err)
		}
	})
}

func TestMe(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	c := newClient(t, f, 5*time.Second)
	for _, tok := range []string{
		f.IssueLongLived(userID, "alice", epoch.Add(-time.Hour)),
		f.IssueShortLived(userID, "alice", epoch),
	} {
		u, err := c.Me(t.Context(), tok)
		if err != nil {
			t.Fatalf("Me: %v", err)
		}
		if u != (threads.User{ID: userID, Username: "alice"}) {
			t.Errorf("Me = %+v", u)
		}
	}
	tok := f.IssueLongLived(userID, "alice", epoch)
	f.Revoke(tok)
	_, err := c.Me(t.Context(), tok)
	if !errors.Is(err, threads.ErrNeedsReauth) || !strings.Contains(err.Error(), "code 190/460") {
		t.Errorf("Me with a revoked token: %v, want ErrNeedsReauth with code 190/460", err)
	}
}

// class is how an error must be classified.
type class int

const (
	success class = iota
	reauth
	transient
	badAnswer
	neither
)

func (c class) String() string {
	return [...]string{"success", "reauth", "transient", "bad answer", "neither"}[c]
}

func classOf(err error) []class {
	if err == nil {
		return []class{success}
	}
	var got []class
	if errors.Is(err, threads.ErrNeedsReauth) {
		got = append(got, reauth)
	}
	if errors.Is(err, threads.ErrTransient) {
		got = append(got, transient)
	}
	if errors.Is(err, threads.ErrBadAnswer) {
		got = append(got, badAnswer)
	}
	if len(got) == 0 {
		got = append(got, neither)
	}
	return got
}

// endpoint makes one call with credentials fresh from the fake; it returns
// the error and the secrets it sent.
type endpoint struct {
	name string
	path string
	call func(ctx context.Context, c *threads.Client, f *threadsfake.Server) (error, []string)
}

var endpoints = []endpoint{
	{"refresh", threadsfake.PathRefresh, func(ctx context.Context, c *threads.Client, f *threadsfake.Server) (error, []string) {
		tok := f.IssueLongLived(userID, "a", epoch.Add(-48*time.Hour))
		_, err := c.Refresh(ctx, tok)
		return err, []string{tok}
	}},
	{"exchange", threadsfake.PathExchange, func(ctx context.Context, c *threads.Client, f *threadsfake.Server) (error, []string) {
		tok := f.IssueShortLived(userID, "a", epoch)
		_, err := c.Exchange(ctx, appSecret, tok)
		return err, []string{tok, appSecret}
	}},
	{"code", threadsfake.PathCode, func(ctx context.Context, c *threads.Client, f *threadsfake.Server) (error, []string) {
		code := f.IssueCode(appID, redirectURI, userID, "a")
		_, err := c.ExchangeCode(ctx, threads.CodeRequest{ClientID: appID, ClientSecret: appSecret, Code: code, RedirectURI: redirectURI})
		return err, []string{code, appSecret}
	}},
	{"me", threadsfake.PathMe, func(ctx context.Context, c *threads.Client, f *threadsfake.Server) (error, []string) {
		tok := f.IssueLongLived(userID, "a", epoch)
		_, err := c.Me(ctx, tok)
		return err, []string{tok}
	}},
}

// failureClass is the classification every injected failure must get.
var failureClass = map[threadsfake.Failure]class{
	threadsfake.HTML5xx:      transient,
	threadsfake.Transient:    transient,
	threadsfake.RateLimited:  transient,
	threadsfake.Expired:      reauth,
	threadsfake.Revoked:      reauth,
	threadsfake.InvalidToken: reauth,
	threadsfake.FlatError:    neither,
	threadsfake.EmptyToken:   badAnswer,
	threadsfake.NonJSON200:   badAnswer,
	threadsfake.ZeroExpiry:   badAnswer,
	threadsfake.Hang:         transient,
	threadsfake.Reset:        transient,
	threadsfake.Unsupported:  neither,
}

// hangTimeout is the per-request timeout used where the fake may hang.
const hangTimeout = 300 * time.Millisecond

func TestFailureClassification(t *testing.T) {
	t.Parallel()
	for _, ep := range endpoints {
		for _, fl := range threadsfake.Failures() {
			want, ok := failureClass[fl]
			if !ok {
				t.Fatalf("no expected class for %v", fl)
			}
			if fl == threadsfake.ZeroExpiry && ep.path == threadsfake.PathCode {
				// The code exchange answers no expires_in at all.
				continue
			}
			t.Run(ep.name+"/"+fl.String(), func(t *testing.T) {
				t.Parallel()
				f := startFake(t)
				c := newClient(t, f, hangTimeout)
				f.FailNext(ep.path, fl, 1)
				err, _ := ep.call(t.Context(), c, f)
				if got := classOf(err); len(got) != 1 || got[0] != want {
					t.Errorf("error %v classified %v, want exactly %v", err, got, want)
				}
				if n := f.Calls(ep.path); n != 1 {
					t.Errorf("%d requests for one call, want 1", n)
				}
				// The failure is used up: the next call succeeds.
				if err, _ := ep.call(t.Context(), c, f); err != nil {
					t.Errorf("call after the failure: %v", err)
				}
			})
		}
	}
}

func TestAPIErrorText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fl   threadsfake.Failure
		want string
	}{
		{threadsfake.HTML5xx, "Threads: HTTP 502 with a non-JSON body"},
		{threadsfake.Transient, "Threads: temporary Threads error (code 2): An unexpected error has occurred. Please retry your request later."},
		{threadsfake.RateLimited, "Threads: rate limited (code 4): (#4) Application request limit reached"},
		{threadsfake.Revoked, "Threads: session invalidated (password changed or security reset) (code 190/460): Error validating access token: The session has been invalidated"},
		{threadsfake.InvalidToken, "Threads: token invalid (code 190): Invalid OAuth access token - Cannot parse access token"},
		{threadsfake.FlatError, "Threads: OAuthException (code 400): Invalid platform app"},
		{threadsfake.Unsupported, "Threads: unsupported request (code 100/33): Unsupported get request."},
	}
	for _, tt := range tests {
		t.Run(tt.fl.String(), func(t *testing.T) {
			t.Parallel()
			f := startFake(t)
			c := newClient(t, f, 5*time.Second)
			f.FailNext("", tt.fl, 1)
			_, err := c.Me(t.Context(), f.IssueLongLived(userID, "a", epoch))
			var apiErr *threads.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("Me error %v is not an APIError", err)
			}
			if !strings.HasPrefix(apiErr.Error(), tt.want) {
				t.Errorf("error text\n%q\nwant prefix\n%q", apiErr.Error(), tt.want)
			}
			if !strings.HasPrefix(err.Error(), "reading Threads user: ") {
				t.Errorf("error %q lacks the call's prefix", err)
			}
		})
	}
}

func TestAPIErrorIs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  threads.APIError
		want class
		text string
	}{
		{threads.APIError{HTTPStatus: 400, Code: 190, Subcode: 463}, reauth, "token expired (code 190/463)"},
		{threads.APIError{HTTPStatus: 401, Code: 190, Subcode: 467}, reauth, "token invalid (code 190/467)"},
		{threads.APIError{HTTPStatus: 400, Code: 190, Subcode: 458}, reauth, "app removed by the user"},
		{threads.APIError{HTTPStatus: 400, Code: 190, Subcode: 459}, reauth, "user checkpointed"},
		{threads.APIError{HTTPStatus: 400, Code: 190, Subcode: 493}, reauth, "user inactive for 90 days"},
		{threads.APIError{HTTPStatus: 400, Code: 102}, reauth, "session key invalid (code 102)"},
		// A token error wins over signs of a temporary failure.
		{threads.APIError{HTTPStatus: 500, Code: 190, Transient: true}, reauth, "token invalid (code 190)"},
		{threads.APIError{HTTPStatus: 400, Code: 1}, transient, "temporary Threads error (code 1)"},
		{threads.APIError{HTTPStatus: 400, Code: 17}, transient, "rate limited (code 17)"},
		{threads.APIError{HTTPStatus: 400, Code: 32}, transient, "rate limited"},
		{threads.APIError{HTTPStatus: 400, Code: 613}, transient, "rate limited"},
		{threads.APIError{HTTPStatus: 429}, transient, "Threads: HTTP 429"},
		{threads.APIError{HTTPStatus: 503, Type: "OAuthException", Code: 400}, transient, "OAuthException (code 400)"},
		{threads.APIError{HTTPStatus: 400, Code: 9999, Transient: true}, transient, "error (code 9999)"},
		{threads.APIError{HTTPStatus: 403, Code: 10}, neither, "permission missing (code 10)"},
		{threads.APIError{HTTPStatus: 403, Code: 250}, neither, "permission missing (code 250)"},
		{threads.APIError{HTTPStatus: 400, Code: 100, Subcode: 33}, neither, "unsupported request (code 100/33)"},
	}
	for _, tt := range tests {
		tt.err.Platform = threads.Platform.Name // as the Threads client sets it
		err := fmt.Errorf("wrapped: %w", &tt.err)
		if got := classOf(err); len(got) != 1 || got[0] != tt.want {
			t.Errorf("%+v classified %v, want %v", tt.err, got, tt.want)
		}
		if !strings.Contains(err.Error(), tt.text) {
			t.Errorf("%q does not contain %q", err, tt.text)
		}
	}
}

func TestCallerContextEnds(t *testing.T) {
	t.Parallel()
	t.Run("canceled", func(t *testing.T) {
		t.Parallel()
		f := startFake(t)
		c := newClient(t, f, time.Minute)
		f.FailNext("", threadsfake.Hang, 1)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := c.Refresh(ctx, f.IssueLongLived(userID, "a", epoch.Add(-48*time.Hour)))
		if !errors.Is(err, context.Canceled) || !errors.Is(err, threads.ErrTransient) {
			t.Errorf("error %v: want context.Canceled and ErrTransient", err)
		}
	})
	t.Run("caller deadline", func(t *testing.T) {
		t.Parallel()
		f := startFake(t)
		c := newClient(t, f, time.Minute)
		f.FailNext("", threadsfake.Hang, 1)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := c.Refresh(ctx, f.IssueLongLived(userID, "a", epoch.Add(-48*time.Hour)))
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, threads.ErrTransient) {
			t.Errorf("error %v: want context.DeadlineExceeded and ErrTransient", err)
		}
	})
	t.Run("per-request timeout", func(t *testing.T) {
		t.Parallel()
		f := startFake(t)
		c := newClient(t, f, 100*time.Millisecond)
		f.FailNext("", threadsfake.Hang, 1)
		start := time.Now()
		_, err := c.Refresh(t.Context(), f.IssueLongLived(userID, "a", epoch.Add(-48*time.Hour)))
		if !errors.Is(err, threads.ErrTransient) {
			t.Errorf("error %v is not transient", err)
		}
		// The caller's context is fine, and the error must not say otherwise.
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			t.Errorf("error %v claims the caller's context ended", err)
		}
		if want := "no answer within 100ms"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the call took %v with a 100ms timeout", d)
		}
	})
}

// TestResetOnReusedConnection checks that a connection that dies mid-answer
// fails the call with exactly one request, even on a kept-alive connection
// where net/http might resend.
func TestResetOnReusedConnection(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	c := newClient(t, f, 5*time.Second)
	tok := f.IssueLongLived(userID, "a", epoch)
	for i := range 20 {
		if _, err := c.Me(t.Context(), tok); err != nil {
			t.Fatalf("Me #%d: %v", i, err)
		}
		f.FailNext(threadsfake.PathMe, threadsfake.Reset, 1)
		_, err := c.Me(t.Context(), tok)
		if !errors.Is(err, threads.ErrTransient) {
			t.Fatalf("Me after reset #%d: %v, want ErrTransient", i, err)
		}
		if got, want := f.Calls(threadsfake.PathMe), 2*(i+1); got != want {
			t.Fatalf("after %d rounds the fake got %d requests, want %d", i+1, got, want)
		}
	}
}

func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	f := threadsfake.New()
	base := f.URL()
	f.Close()
	c := threads.New(base, time.Second, nil)
	_, err := c.Refresh(t.Context(), "THAAsecret-token-value")
	if !errors.Is(err, threads.ErrTransient) {
		t.Errorf("error %v is not transient", err)
	}
	if err != nil && !strings.Contains(err.Error(), "GET "+base+"/refresh_access_token: ") {
		t.Errorf("error %q does not name the call without its query", err)
	}
}

func TestInvalidBaseURL(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"ftp://graph.threads.net", "graph.threads.net", "https://graph.threads.net/?x=1", "http://[::1"} {
		_, err := threads.New(base, time.Second, nil).Me(t.Context(), "THAAtoken")
		if err == nil || errors.Is(err, threads.ErrTransient) {
			t.Errorf("base %q: error %v, want a permanent error", base, err)
		}
	}
}

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

func TestAuthorizeURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base, wantHost string
	}{
		{"", "threads.net"},
		{"https://threads.com/", "threads.com"},
	}
	for _, tt := range tests {
		raw := threads.AuthorizeURL(tt.base, appID, redirectURI, []string{"threads_basic", "threads_content_publish"}, "st&ate")
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("AuthorizeURL = %q: %v", raw, err)
		}
		if u.Scheme != "https" || u.Host != tt.wantHost || u.Path != "/oauth/authorize" {
			t.Errorf("AuthorizeURL = %q, want https://%s/oauth/authorize", raw, tt.wantHost)
		}
		want := url.Values{
			"client_id":     {appID},
			"redirect_uri":  {redirectURI},
			"scope":         {"threads_basic,threads_content_publish"},
			"response_type": {"code"},
			"state":         {"st&ate"},
		}
		if got := u.Query(); got.Encode() != want.Encode() {
			t.Errorf("query = %v, want %v", got, want)
		}
	}
}
