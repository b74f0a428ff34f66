package graph

import (
	"net/url"
	"strings"
)

// Platform is one Meta platform as the token endpoints see it: its hosts,
// its grant types, its /me call and the permission a refresh needs. Every
// platform shares the Graph API's shapes and error codes, so one Client
// serves each of them; a platform is data, not code.
type Platform struct {
	// Name names the platform in errors and messages: "Threads".
	Name string
	// BaseURL is the Graph API root that serves the token endpoints and
	// /me, used when a Client is given none.
	BaseURL string
	// OAuthBaseURL is the root of the authorization code exchange when it
	// is not the Graph API root (Instagram's api.instagram.com); empty
	// means the Graph API root.
	OAuthBaseURL string
	// AuthorizeBase is the host of the browser authorization dialog.
	AuthorizeBase string
	// RefreshGrant and ExchangeGrant are the grant_type values of the
	// refresh and the short-to-long-lived exchange.
	RefreshGrant  string
	ExchangeGrant string
	// MePath is the path of the /me call, version included; MeFields the
	// fields it asks for; MeIDField the field of the answer that holds the
	// user's ID.
	MePath    string
	MeFields  string
	MeIDField string
	// Permission is the permission a refresh needs: a refusal for a
	// missing permission names it, and login asks for it by default.
	Permission string
	// DebugTokenPath is the path of the platform's token inspection
	// (debug_token), version included; empty for a platform that documents
	// none, whose Inspect is then ErrCannotInspect without a request.
	DebugTokenPath string
}

// AuthorizeURL returns the address of the browser dialog where a person
// grants scopes to the app; the platform then redirects to redirectURI with
// a code and state. base "" means the platform's AuthorizeBase.
func (p Platform) AuthorizeURL(base, appID, redirectURI string, scopes []string, state string) string {
	if base == "" {
		base = p.AuthorizeBase
	}
	q := url.Values{
		"client_id":     {appID},
		"redirect_uri":  {redirectURI},
		"scope":         {strings.Join(scopes, ",")},
		"response_type": {"code"},
		"state":         {state},
	}
	return strings.TrimRight(base, "/") + "/oauth/authorize?" + q.Encode()
}
