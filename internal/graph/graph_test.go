package graph_test

// These tests run the client core against the fake in both of its faces,
// Threads and Instagram, so that every platform gets the same
// classification and the same scrubbing. internal/threads and
// internal/instagram test what is their own.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
	"github.com/threads-token-refresher/threads-token-refresher/internal/instagram"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/errtext"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
	"github.com/threads-token-refresher/threads-token-refresher/internal/threads"
)

const (
	appID       = "1234567890123456"
	appSecret   = "0123456789abcdef0123456789abcdef"
	redirectURI = "https://example.com/callback"
	userID      = "17841412345678901"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// platform is one face of the fake and the client that talks to it.
type platform struct {
	name string
	// permission is the permission a refresh needs on the platform.
	permission string
	opts       []threadsfake.Option
	// newClient returns a client of f with its own connections.
	newClient func(f *threadsfake.Server, timeout time.Duration, hc *http.Client) *graph.Client
}

var platforms = []platform{
	{"Threads", "threads_basic", nil, func(f *threadsfake.Server, timeout time.Duration, hc *http.Client) *graph.Client {
		return threads.New(f.URL(), timeout, hc)
	}},
	{"Instagram", "instagram_business_basic", []threadsfake.Option{threadsfake.Instagram()}, func(f *threadsfake.Server, timeout time.Duration, hc *http.Client) *graph.Client {
		return instagram.New(f.URL(), f.OAuthURL(), timeout, hc)
	}},
}

// start starts p's fake, clock fixed at epoch, and a client of it whose
// connections close with the test.
func (p platform) start(t *testing.T, timeout time.Duration, opts ...threadsfake.Option) (*threadsfake.Server, *graph.Client) {
	t.Helper()
	all := append([]threadsfake.Option{threadsfake.App(appID, appSecret)}, p.opts...)
	f := threadsfake.Start(t, append(all, opts...)...)
	f.SetNow(epoch)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return f, p.newClient(f, timeout, &http.Client{Transport: tr})
}

// endpoint makes one call with credentials fresh from the fake; it returns
// the error and the secrets it sent.
type endpoint struct {
	name  string
	path  func(f *threadsfake.Server) string
	doing string // the error prefix, before the platform's name
	call  func(ctx context.Context, c *graph.Client, f *threadsfake.Server) (error, []string)
}

func fixed(path string) func(*threadsfake.Server) string {
	return func(*threadsfake.Server) string { return path }
}

var endpoints = []endpoint{
	{"refresh", fixed(threadsfake.PathRefresh), "refreshing ", func(ctx context.Context, c *graph.Client, f *threadsfake.Server) (error, []string) {
		tok := f.IssueLongLived(userID, "a", epoch.Add(-48*time.Hour))
		_, err := c.Refresh(ctx, tok)
		return err, []string{tok}
	}},
	{"exchange", fixed(threadsfake.PathExchange), "exchanging short-lived ", func(ctx context.Context, c *graph.Client, f *threadsfake.Server) (error, []string) {
		tok := f.IssueShortLived(userID, "a", epoch)
		_, err := c.Exchange(ctx, appSecret, tok)
		return err, []string{tok, appSecret}
	}},
	{"code", fixed(threadsfake.PathCode), "exchanging ", func(ctx context.Context, c *graph.Client, f *threadsfake.Server) (error, []string) {
		code := f.IssueCode(appID, redirectURI, userID, "a")
		_, err := c.ExchangeCode(ctx, graph.CodeRequest{ClientID: appID, ClientSecret: appSecret, Code: code + "#_", RedirectURI: redirectURI})
		return err, []string{code, appSecret}
	}},
	{"me", (*threadsfake.Server).MePath, "reading ", func(ctx context.Context, c *graph.Client, f *threadsfake.Server) (error, []string) {
		tok := f.IssueLongLived(userID, "a", epoch)
		_, err := c.Me(ctx, tok)
		return err, []string{tok}
	}},
}

// class is how an error must be classified.
type class string

const (
	success   class = "success"
	reauth    class = "reauth"
	transient class = "transient"
	badAnswer class = "bad answer"
	neither   class = "neither"
)

func classOf(err error) []class {
	if err == nil {
		return []class{success}
	}
	var got []class
	for _, c := range []struct {
		sentinel error
		class    class
	}{{graph.ErrNeedsReauth, reauth}, {graph.ErrTransient, transient}, {graph.ErrBadAnswer, badAnswer}} {
		if errors.Is(err, c.sentinel) {
			got = append(got, c.class)
		}
	}
	if len(got) == 0 {
		got = append(got, neither)
	}
	return got
}

// failureClass is the classification every injected failure must get, on
// every platform.
var failureClass = map[threadsfake.Failure]class{
	threadsfake.HTML5xx: transient, threadsfake.Transient: transient, threadsfake.RateLimited: transient,
	threadsfake.Expired: reauth, threadsfake.Revoked: reauth, threadsfake.InvalidToken: reauth,
	threadsfake.FlatError: neither, threadsfake.EmptyToken: badAnswer, threadsfake.NonJSON200: badAnswer,
	threadsfake.ZeroExpiry: badAnswer, threadsfake.Hang: transient, threadsfake.Reset: transient,
	threadsfake.Unsupported: neither,
	// A client leaves a missing permission to Refresher.
	threadsfake.PermissionMissing: neither, threadsfake.PermissionDenied: neither,
}

// hangTimeout is the per-request timeout used where the fake may hang.
const hangTimeout = 300 * time.Millisecond

// TestEveryPlatformClassifiesAlike: every endpoint of every platform
// classifies every failure the same way, in one request, with errors that
// name the call and the platform.
func TestEveryPlatformClassifiesAlike(t *testing.T) {
	t.Parallel()
	for _, p := range platforms {
		for _, ep := range endpoints {
			for _, fl := range append(threadsfake.Failures(), threadsfake.PermissionFailures()...) {
				if fl == threadsfake.ZeroExpiry && ep.name == "code" {
					continue // the code exchange answers no expires_in at all
				}
				t.Run(p.name+"/"+ep.name+"/"+fl.String(), func(t *testing.T) {
					t.Parallel()
					f, c := p.start(t, hangTimeout)
					path := ep.path(f)
					f.FailNext(path, fl, 1)
					err, _ := ep.call(t.Context(), c, f)
					if got := classOf(err); len(got) != 1 || got[0] != failureClass[fl] {
						t.Errorf("error %v classified %v, want exactly %v", err, got, failureClass[fl])
					}
					if n := f.Calls(path); n != 1 {
						t.Errorf("%d requests for one call, want 1", n)
					}
					if want := ep.doing + p.name + " "; err == nil || !strings.HasPrefix(err.Error(), want) {
						t.Errorf("error %v does not start with %q", err, want)
					}
					var apiErr *graph.APIError
					if errors.As(err, &apiErr) && !strings.HasPrefix(apiErr.Error(), p.name+": ") {
						t.Errorf("Graph error %q does not start with %q", apiErr, p.name+": ")
					}
					if err, _ := ep.call(t.Context(), c, f); err != nil {
						t.Errorf("call after the failure: %v", err)
					}
				})
			}
		}
	}
}

// TestNoSecretInAnyError captures every error of every platform's
// endpoints, failing or refused, and checks that no token, app secret, code
// or query string is in its text or in anything it wraps.
func TestNoSecretInAnyError(t *testing.T) {
	t.Parallel()
	for _, p := range platforms {
		for _, ep := range endpoints {
			cases := map[string]func(t *testing.T) (error, []string){
				"refused by the fake": func(t *testing.T) (error, []string) {
					// Tokens expire, and the fake knows another app secret.
					f, c := p.start(t, hangTimeout, threadsfake.App(appID, "another-secret"))
					f.SetNow(epoch.Add(70 * 24 * time.Hour))
					return ep.call(t.Context(), c, f)
				},
				"connection refused": func(t *testing.T) (error, []string) {
					f, c := p.start(t, hangTimeout)
					f.Close()
					return ep.call(t.Context(), c, f)
				},
			}
			for _, fl := range append(threadsfake.Failures(), threadsfake.PermissionFailures()...) {
				cases[fl.String()] = func(t *testing.T) (error, []string) {
					f, c := p.start(t, hangTimeout)
					f.FailNext(ep.path(f), fl, 1)
					return ep.call(t.Context(), c, f)
				}
			}
			for name, run := range cases {
				t.Run(p.name+"/"+ep.name+"/"+name, func(t *testing.T) {
					t.Parallel()
					err, secrets := run(t)
					if err == nil {
						if name != threadsfake.ZeroExpiry.String() || ep.name != "code" {
							t.Error("no error")
						}
						return
					}
					for _, text := range errtext.Of(err) {
						for _, s := range secrets {
							if strings.Contains(text, s) || strings.Contains(text, url.QueryEscape(s)) {
								t.Errorf("error text %q shows a secret", text)
							}
						}
						for _, param := range []string{"access_token=", "client_secret=", "code="} {
							if strings.Contains(text, param) {
								t.Errorf("error text %q shows the query or form", text)
							}
						}
					}
				})
			}
		}
	}
}
