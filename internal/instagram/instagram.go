// Package instagram is the Instagram API with Instagram Login: the hosts,
// grant types and /me call of the token endpoints that keep an Instagram
// professional account's long-lived token alive, served by the Graph API
// client core in internal/graph.
//
// Instagram's long-lived tokens follow the rules of Threads': 60 days of
// life, refreshable once 24 hours old, dead if missed. Two things differ:
// the authorization code is exchanged on api.instagram.com rather than on
// the Graph host, and its answer comes either flat or, as Meta documents it
// now, as {"data":[{...}]}; the client reads both.
package instagram

import (
	"net/http"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
)

const (
	// DefaultBaseURL is the Graph API host that serves the refresh and
	// exchange endpoints and /me.
	DefaultBaseURL = "https://graph.instagram.com"
	// DefaultOAuthBaseURL is the host that exchanges authorization codes.
	DefaultOAuthBaseURL = "https://api.instagram.com"
	// DefaultAuthorizeBase is the host of the browser authorization dialog.
	DefaultAuthorizeBase = "https://www.instagram.com"
	// Permission is the permission a refresh needs, and login's default
	// scope.
	Permission = "instagram_business_basic"
	// MePath is the /me call. The token endpoints take no version; /me
	// does. v26.0 is the newest Graph API version in Meta's changelog
	// (introduced 29 July 2026) and the one the Instagram "Me" reference
	// shows; a version stays usable for at least two years (Meta's Platform
	// Versioning guide).
	MePath = "/v26.0/me"
)

// Platform is Instagram as the Graph client core sees it.
var Platform = graph.Platform{
	Name:          "Instagram",
	BaseURL:       DefaultBaseURL,
	OAuthBaseURL:  DefaultOAuthBaseURL,
	AuthorizeBase: DefaultAuthorizeBase,
	RefreshGrant:  "ig_refresh_token",
	ExchangeGrant: "ig_exchange_token",
	MePath:        MePath,
	// user_id is the professional account's ID; the answer also carries
	// the app-scoped "id".
	MeFields:   "user_id,username",
	MeIDField:  "user_id",
	Permission: Permission,
	// No DebugTokenPath: the Instagram Platform reference lists no token
	// inspection on graph.instagram.com, and Graph's debug_token (on
	// graph.facebook.com) wants an app access token or a Facebook app
	// developer's token, which an Instagram Login deployment does not hold.
	// Instagram's clocks are the answers' expires_in, or estimates.
}

// New returns a client for Instagram's Graph API at baseURL and its code
// exchange at oauthBaseURL ("" means DefaultBaseURL and DefaultOAuthBaseURL;
// trailing slashes are ignored). timeout bounds each request; zero or less
// means graph.DefaultTimeout. hc nil means a shared client with connection
// reuse. An invalid URL makes every call to that host fail with a permanent
// error.
func New(baseURL, oauthBaseURL string, timeout time.Duration, hc *http.Client) *graph.Client {
	return graph.New(Platform, graph.Options{BaseURL: baseURL, OAuthBaseURL: oauthBaseURL, Timeout: timeout, HTTPClient: hc})
}

// AuthorizeURL returns the address of the browser dialog where a person
// grants scopes to the app; Instagram then redirects to redirectURI with a
// code and state. base "" means DefaultAuthorizeBase.
func AuthorizeURL(base, appID, redirectURI string, scopes []string, state string) string {
	return Platform.AuthorizeURL(base, appID, redirectURI, scopes, state)
}
