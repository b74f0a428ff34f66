// Package threads is the Meta Threads platform: the hosts, grant types and
// /me call of its token endpoints, served by the Graph API client core in
// internal/graph.
//
// Every call sends one HTTP request bounded by the client's per-request
// timeout and never retries: the caller decides, using errors.Is with
// ErrTransient, ErrNeedsReauth and ErrBadAnswer. Tokens, app secrets and
// authorization codes travel in query strings and form bodies, so no error
// returned by this package contains them or the query string that carried
// them.
package threads

import (
	"net/http"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
)

const (
	// DefaultBaseURL is the Graph API host that serves the token endpoints.
	DefaultBaseURL = "https://graph.threads.net"
	// DefaultAuthorizeBase is the host of the browser authorization dialog.
	DefaultAuthorizeBase = "https://threads.net"
	// Permission is the permission a refresh needs, and login's default
	// scope.
	Permission = "threads_basic"
)

// Platform is Threads as the Graph client core sees it: token endpoints
// without a version, the authorization code exchanged on the Graph host
// itself, /v1.0/me answering {"id","username"}, and /v1.0/debug_token
// telling a token's clocks.
var Platform = graph.Platform{
	Name:          "Threads",
	BaseURL:       DefaultBaseURL,
	AuthorizeBase: DefaultAuthorizeBase,
	RefreshGrant:  "th_refresh_token",
	ExchangeGrant: "th_exchange_token",
	MePath:        "/v1.0/me",
	MeFields:      "id,username",
	MeIDField:     "id",
	Permission:    Permission,
	// Meta's "Debug Access Token" page: the inspecting token must be a
	// Threads tester's of the same app.
	DebugTokenPath: "/v1.0/debug_token",
}

// The Graph client core's types, under the names this package has always
// given them.
type (
	// Client calls the Threads token endpoints. It is safe for concurrent
	// use.
	Client = graph.Client
	// Token is a long-lived access token as Threads issued it.
	Token = graph.Token
	// ShortLived is the short-lived token an authorization code is
	// exchanged for.
	ShortLived = graph.ShortLived
	// User is the Threads user a token belongs to.
	User = graph.User
	// CodeRequest is what exchanging an authorization code needs.
	CodeRequest = graph.CodeRequest
	// APIError is an error answer of the Graph API.
	APIError = graph.APIError
)

// Sentinel errors for errors.Is; see the graph package.
var (
	ErrNeedsReauth = graph.ErrNeedsReauth
	ErrTransient   = graph.ErrTransient
	ErrBadAnswer   = graph.ErrBadAnswer
)

// New returns a client for the Threads Graph API at baseURL ("" means
// DefaultBaseURL; a trailing slash is ignored). timeout bounds each
// request, from sending it to reading the whole answer; zero or less means
// DefaultTimeout. hc nil means a shared client with connection reuse. An
// invalid baseURL makes every call fail with a permanent error.
func New(baseURL string, timeout time.Duration, hc *http.Client) *Client {
	return graph.New(Platform, graph.Options{BaseURL: baseURL, Timeout: timeout, HTTPClient: hc})
}

// AuthorizeURL returns the address of the browser dialog where a person
// grants scopes to the app; Threads then redirects to redirectURI with a
// code and state. base "" means DefaultAuthorizeBase.
func AuthorizeURL(base string, appID, redirectURI string, scopes []string, state string) string {
	return Platform.AuthorizeURL(base, appID, redirectURI, scopes, state)
}
