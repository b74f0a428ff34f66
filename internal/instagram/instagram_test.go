package instagram_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
	"github.com/threads-token-refresher/threads-token-refresher/internal/instagram"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

const (
	appID       = "9876543210987654"
	appSecret   = "fedcba9876543210fedcba9876543210"
	redirectURI = "https://example.com/instagram/callback"
	// userID is beyond 2^53: decoding it through float64 would change it.
	userID = "17841400123456789"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// start starts the fake's Instagram face, clock fixed at epoch, and a client
// of both its hosts.
func start(t *testing.T, opts ...threadsfake.Option) (*threadsfake.Server, *graph.Client) {
	t.Helper()
	f := threadsfake.Start(t, append([]threadsfake.Option{threadsfake.Instagram(), threadsfake.App(appID, appSecret)}, opts...)...)
	f.SetNow(epoch)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return f, instagram.New(f.URL()+"/", f.OAuthURL()+"/", 5*time.Second, &http.Client{Transport: tr})
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	f, c := start(t, threadsfake.ExpiresIn(5000000))
	old := f.IssueLongLived(userID, "shop", epoch.Add(-25*time.Hour))
	got, err := c.Refresh(t.Context(), old)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if !strings.HasPrefix(got.AccessToken, "IGAA") || got.AccessToken == old || !f.Valid(got.AccessToken) {
		t.Error("Refresh did not return a new valid Instagram token")
	}
	if got.TokenType != "bearer" || got.ExpiresIn != 5000000 {
		t.Errorf("Refresh = type %q, expires_in %d; want bearer, 5000000 (the value answered)", got.TokenType, got.ExpiresIn)
	}
	if n := f.Calls(threadsfake.PathRefresh); n != 1 {
		t.Errorf("refresh endpoint called %d times, want 1", n)
	}
}

// TestErrorsNameInstagram: a refusal reads as Instagram's, with Meta's
// message, and is classified as on every platform.
func TestErrorsNameInstagram(t *testing.T) {
	t.Parallel()
	f, c := start(t)
	expired := f.IssueLongLived(userID, "shop", epoch.Add(-61*24*time.Hour))
	_, err := c.Refresh(t.Context(), expired)
	want := "refreshing Instagram token: Instagram: token expired (code 190/463): Error validating access token: Session has expired on"
	if !errors.Is(err, graph.ErrNeedsReauth) || err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Refresh of an expired token: %v\nwant ErrNeedsReauth and the prefix %q", err, want)
	}

	young := f.IssueLongLived(userID, "shop", epoch.Add(-time.Hour))
	_, err = c.Refresh(t.Context(), young)
	var apiErr *graph.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 100 || apiErr.Platform != "Instagram" || errors.Is(err, graph.ErrNeedsReauth) {
		t.Errorf("Refresh of a token younger than 24 hours: %v, want an Instagram code 100 refusal", err)
	}
	if f.TooYoungRefreshes() != 1 {
		t.Errorf("TooYoungRefreshes = %d, want 1", f.TooYoungRefreshes())
	}
}

func TestExchange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret string
		age    time.Duration
		code   int // 0: success
	}{
		{"ok", appSecret, 30 * time.Minute, 0},
		{"wrong app secret", "wrong", 0, 101},
		{"expired short-lived token", appSecret, 61 * time.Minute, 190},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, c := start(t)
			got, err := c.Exchange(t.Context(), tt.secret, f.IssueShortLived(userID, "shop", epoch.Add(-tt.age)))
			if tt.code == 0 {
				if info, ok := f.Info(got.AccessToken); err != nil || !ok || !info.LongLived || got.ExpiresIn != threadsfake.DefaultExpiresIn {
					t.Errorf("Exchange = %v, %v: want a valid long-lived token", got, err)
				}
				return
			}
			var apiErr *graph.APIError
			if !errors.As(err, &apiErr) || apiErr.Code != tt.code || !strings.HasPrefix(err.Error(), "exchanging short-lived Instagram token: ") {
				t.Errorf("Exchange error %v, want an Instagram APIError with code %d", err, tt.code)
			}
		})
	}
}

// TestExchangeCode: the code goes to the OAuth host, without its "#_";
// both answer shapes and both user_id encodings give every digit.
func TestExchangeCode(t *testing.T) {
	t.Parallel()
	for _, flat := range []bool{false, true} {
		for _, asString := range []bool{false, true} {
			t.Run(fmt.Sprintf("flat %v, user_id as string %v", flat, asString), func(t *testing.T) {
				t.Parallel()
				var opts []threadsfake.Option
				if flat {
					opts = append(opts, threadsfake.FlatCodeAnswer())
				}
				if asString {
					opts = append(opts, threadsfake.UserIDAsString())
				}
				f, c := start(t, opts...)
				code := f.IssueCode(appID, redirectURI, userID, "shop")
				req := graph.CodeRequest{ClientID: appID, ClientSecret: appSecret, Code: code + "#_", RedirectURI: redirectURI}
				got, err := c.ExchangeCode(t.Context(), req)
				if err != nil {
					t.Fatalf("ExchangeCode: %v", err)
				}
				if got.UserID != userID {
					t.Errorf("UserID = %q, want %q", got.UserID, userID)
				}
				if info, ok := f.Info(got.AccessToken); !ok || info.LongLived || !f.Valid(got.AccessToken) {
					t.Error("ExchangeCode returned a token the fake does not know as short-lived and valid")
				}
				_, err = c.ExchangeCode(t.Context(), req)
				var apiErr *graph.APIError
				if !errors.As(err, &apiErr) || apiErr.Code != 400 || !strings.Contains(err.Error(), "has been used") {
					t.Errorf("a second use of the code: %v, want the OAuth host's flat refusal", err)
				}
			})
		}
	}

	t.Run("the Graph host does not exchange codes", func(t *testing.T) {
		t.Parallel()
		f, _ := start(t)
		c := instagram.New(f.URL(), f.URL(), time.Second, nil)
		code := f.IssueCode(appID, redirectURI, userID, "shop")
		_, err := c.ExchangeCode(t.Context(), graph.CodeRequest{ClientID: appID, ClientSecret: appSecret, Code: code, RedirectURI: redirectURI})
		if err == nil {
			t.Error("a code exchanged on the Graph host: the fake does not tell the hosts apart")
		}
	})

	t.Run("wrong app secret", func(t *testing.T) {
		t.Parallel()
		f, c := start(t)
		code := f.IssueCode(appID, redirectURI, userID, "shop")
		_, err := c.ExchangeCode(t.Context(), graph.CodeRequest{ClientID: appID, ClientSecret: "wrong-secret", Code: code, RedirectURI: redirectURI})
		if err == nil || errors.Is(err, graph.ErrTransient) || !strings.Contains(err.Error(), "Error validating client secret") {
			t.Errorf("ExchangeCode with a wrong app secret: %v", err)
		}
	})
}

func TestMe(t *testing.T) {
	t.Parallel()
	f, c := start(t)
	tok := f.IssueLongLived(userID, "shop", epoch)
	u, err := c.Me(t.Context(), tok)
	if err != nil || u != (graph.User{ID: userID, Username: "shop"}) {
		t.Errorf("Me = %+v, %v; want the professional account's user_id (not the app-scoped id) and username", u, err)
	}
	if n := f.Calls(threadsfake.PathInstagramMe); n != 1 {
		t.Errorf("GET %s called %d times, want 1", threadsfake.PathInstagramMe, n)
	}
	f.Revoke(tok)
	if _, err := c.Me(t.Context(), tok); !errors.Is(err, graph.ErrNeedsReauth) {
		t.Errorf("Me with a revoked token: %v, want ErrNeedsReauth", err)
	}
}

// TestHostsAreSeparate: the Graph host and the OAuth host are configured,
// and fail, on their own.
func TestHostsAreSeparate(t *testing.T) {
	t.Parallel()
	f := threadsfake.Start(t, threadsfake.Instagram())
	c := instagram.New(f.URL(), "api.instagram.com", time.Second, nil)
	if _, err := c.Me(t.Context(), f.IssueLongLived(userID, "shop", time.Time{})); err != nil {
		t.Errorf("Me with a valid Graph host: %v", err)
	}
	_, err := c.ExchangeCode(t.Context(), graph.CodeRequest{ClientID: appID, ClientSecret: appSecret, Code: "c", RedirectURI: redirectURI})
	if err == nil || errors.Is(err, graph.ErrTransient) || !strings.Contains(err.Error(), "invalid Instagram OAuth base URL") {
		t.Errorf("ExchangeCode with an invalid OAuth host: %v, want a permanent error naming it", err)
	}
	if f.Calls(threadsfake.PathCode) != 0 {
		t.Error("a code went to the Graph host")
	}
}

func TestAuthorizeURL(t *testing.T) {
	t.Parallel()
	raw := instagram.AuthorizeURL("", appID, redirectURI, []string{"instagram_business_basic", "instagram_business_content_publish"}, "st&ate")
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("AuthorizeURL = %q: %v", raw, err)
	}
	if u.Scheme != "https" || u.Host != "www.instagram.com" || u.Path != "/oauth/authorize" {
		t.Errorf("AuthorizeURL = %q, want https://www.instagram.com/oauth/authorize", raw)
	}
	want := url.Values{
		"client_id":     {appID},
		"redirect_uri":  {redirectURI},
		"scope":         {"instagram_business_basic,instagram_business_content_publish"},
		"response_type": {"code"},
		"state":         {"st&ate"},
	}
	if got := u.Query(); got.Encode() != want.Encode() {
		t.Errorf("query = %v, want %v", got, want)
	}
}
