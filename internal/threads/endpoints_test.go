package threads_test

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
	"github.com/threads-token-refresher/threads-token-refresher/internal/threads"
)

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
	if info, _ := f.Info(got.AccessToken); !info.ExpiresAt.Equal(epoch.Add(5000000*time.Second)) || info.UserID != userID {
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
