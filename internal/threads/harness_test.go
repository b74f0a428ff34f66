package threads_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
	"github.com/threads-token-refresher/threads-token-refresher/internal/threads"
)

// The tests run the Threads client against the fake (internal/testing/
// threadsfake) as Meta documents it: the endpoints and their answers
// (endpoints_test.go), how every failure is classified
// (classification_test.go), what the transport does when the network or
// the caller gives up (transport_test.go), and that no secret is ever
// printed (scrub_test.go). This file holds what they share.

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

// hangTimeout is the per-request timeout used where the fake may hang.
const hangTimeout = 300 * time.Millisecond
