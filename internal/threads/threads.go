// Package threads is a client for the Meta Threads Graph API endpoints that
// issue, exchange, refresh and check access tokens.
//
// Every call sends one HTTP request bounded by the client's per-request
// timeout and never retries: the caller decides, using errors.Is with
// ErrTransient, ErrNeedsReauth and ErrBadAnswer. Tokens, app secrets and
// authorization codes travel in query strings and form bodies, so no error
// returned by this package contains them or the query string that carried
// them.
package threads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	// DefaultBaseURL is the Graph API host that serves the token endpoints.
	DefaultBaseURL = "https://graph.threads.net"
	// DefaultAuthorizeBase is the host of the browser authorization dialog.
	DefaultAuthorizeBase = "https://threads.net"
	// DefaultTimeout bounds one request when New is given no timeout.
	DefaultTimeout = 30 * time.Second

	// maxBody bounds what is read of an answer; token answers are tiny and
	// an error page larger than this is not worth reading in full.
	maxBody = 1 << 20
)

// defaultHTTPClient is shared by every Client built without one, so that
// connections to the Graph API are reused across clients.
var defaultHTTPClient = &http.Client{
	Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	},
}

// Client calls the Threads token endpoints. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	baseErr error
	timeout time.Duration
	hc      *http.Client
}

// New returns a client for the Graph API at baseURL ("" means
// DefaultBaseURL; a trailing slash is ignored). timeout bounds each request,
// from sending it to reading the whole answer; zero or less means
// DefaultTimeout. hc nil means a shared client with connection reuse. An
// invalid baseURL makes every call fail with a permanent error.
//
// net/http may itself resend an idempotent GET once when a reused
// connection dies before the first byte of an answer; the client adds no
// retry of its own.
func New(baseURL string, timeout time.Duration, hc *http.Client) *Client {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if hc == nil {
		hc = defaultHTTPClient
	}
	c := &Client{timeout: timeout, hc: hc}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	switch {
	case err != nil:
		c.baseErr = fmt.Errorf("invalid Threads base URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		c.baseErr = fmt.Errorf("invalid Threads base URL %q: want http(s)://host", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		c.baseErr = fmt.Errorf("invalid Threads base URL %q: no query or fragment allowed", u.Redacted())
	default:
		c.base = u
	}
	return c
}

// Token is a long-lived access token as Threads issued it.
type Token struct {
	AccessToken string
	// TokenType is "bearer".
	TokenType string
	// ExpiresIn is the token's remaining life in seconds when issued.
	ExpiresIn int64
}

// LogValue implements slog.LogValuer without the token itself.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("access_token", redactedMark(t.AccessToken)),
		slog.String("token_type", t.TokenType),
		slog.Int64("expires_in", t.ExpiresIn),
	)
}

// String implements fmt.Stringer without the token itself, so that %v and
// %+v cannot leak it.
func (t Token) String() string {
	return fmt.Sprintf("{AccessToken:%s TokenType:%s ExpiresIn:%d}", redactedMark(t.AccessToken), t.TokenType, t.ExpiresIn)
}

// GoString implements fmt.GoStringer without the token itself (%#v).
func (t Token) GoString() string {
	return fmt.Sprintf("threads.Token{AccessToken:%q, TokenType:%q, ExpiresIn:%d}", redactedMark(t.AccessToken), t.TokenType, t.ExpiresIn)
}

// ShortLived is the short-lived token an authorization code is exchanged
// for.
type ShortLived struct {
	AccessToken string
	// UserID is the Threads user ID, kept as the decimal text Threads sent
	// so that IDs beyond 2^53 keep every digit.
	UserID string
}

// LogValue implements slog.LogValuer without the token itself.
func (s ShortLived) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("access_token", redactedMark(s.AccessToken)),
		slog.String("user_id", s.UserID),
	)
}

// String implements fmt.Stringer without the token itself.
func (s ShortLived) String() string {
	return fmt.Sprintf("{AccessToken:%s UserID:%s}", redactedMark(s.AccessToken), s.UserID)
}

// GoString implements fmt.GoStringer without the token itself.
func (s ShortLived) GoString() string {
	return fmt.Sprintf("threads.ShortLived{AccessToken:%q, UserID:%q}", redactedMark(s.AccessToken), s.UserID)
}

// User is the Threads user a token belongs to.
type User struct {
	ID       string
	Username string
}

// CodeRequest is what exchanging an authorization code needs.
type CodeRequest struct {
	ClientID     string
	ClientSecret string
	// Code is the code from the redirect; a trailing "#_", which Meta
	// appends to the redirect and is not part of the code, is removed.
	Code        string
	RedirectURI string
}

// String implements fmt.Stringer without the secret and the code.
func (r CodeRequest) String() string {
	return fmt.Sprintf("{ClientID:%s ClientSecret:%s Code:%s RedirectURI:%s}",
		r.ClientID, redactedMark(r.ClientSecret), redactedMark(r.Code), r.RedirectURI)
}

// GoString implements fmt.GoStringer without the secret and the code.
func (r CodeRequest) GoString() string {
	return fmt.Sprintf("threads.CodeRequest{ClientID:%q, ClientSecret:%q, Code:%q, RedirectURI:%q}",
		r.ClientID, redactedMark(r.ClientSecret), redactedMark(r.Code), r.RedirectURI)
}

// LogValue implements slog.LogValuer without the secret and the code.
func (r CodeRequest) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("client_id", r.ClientID),
		slog.String("client_secret", redactedMark(r.ClientSecret)),
		slog.String("code", redactedMark(r.Code)),
		slog.String("redirect_uri", r.RedirectURI),
	)
}

// Refresh exchanges a long-lived token, at least 24 hours old and not
// expired, for a new one valid 60 days. The old token's fate is not
// documented: store the returned one.
func (c *Client) Refresh(ctx context.Context, longLived string) (Token, error) {
	obj, err := c.do(ctx, request{
		method: http.MethodGet,
		path:   "/refresh_access_token",
		query: url.Values{
			"grant_type":   {"th_refresh_token"},
			"access_token": {longLived},
		},
		secrets: []string{longLived},
	})
	if err != nil {
		return Token{}, fmt.Errorf("refreshing Threads token: %w", err)
	}
	t, err := tokenOf(obj)
	if err != nil {
		return Token{}, fmt.Errorf("refreshing Threads token: %w", err)
	}
	return t, nil
}

// Exchange exchanges an unexpired short-lived token for a long-lived one.
// It needs the app secret, so it belongs on a server, never in a browser.
func (c *Client) Exchange(ctx context.Context, appSecret, shortLived string) (Token, error) {
	obj, err := c.do(ctx, request{
		method: http.MethodGet,
		path:   "/access_token",
		query: url.Values{
			"grant_type":    {"th_exchange_token"},
			"client_secret": {appSecret},
			"access_token":  {shortLived},
		},
		secrets: []string{appSecret, shortLived},
	})
	if err != nil {
		return Token{}, fmt.Errorf("exchanging short-lived Threads token: %w", err)
	}
	t, err := tokenOf(obj)
	if err != nil {
		return Token{}, fmt.Errorf("exchanging short-lived Threads token: %w", err)
	}
	return t, nil
}

// ExchangeCode exchanges an authorization code (valid 1 hour, single use)
// for a short-lived token.
func (c *Client) ExchangeCode(ctx context.Context, r CodeRequest) (ShortLived, error) {
	code := strings.TrimSuffix(r.Code, "#_")
	obj, err := c.do(ctx, request{
		method: http.MethodPost,
		path:   "/oauth/access_token",
		form: url.Values{
			"client_id":     {r.ClientID},
			"client_secret": {r.ClientSecret},
			"code":          {code},
			"grant_type":    {"authorization_code"},
			"redirect_uri":  {r.RedirectURI},
		},
		secrets: []string{r.ClientSecret, code, r.Code},
	})
	if err != nil {
		return ShortLived{}, fmt.Errorf("exchanging Threads authorization code: %w", err)
	}
	token, ok := stringField(obj, "access_token")
	if !ok || token == "" {
		return ShortLived{}, fmt.Errorf("exchanging Threads authorization code: %w: no access_token in the answer", ErrBadAnswer)
	}
	s := ShortLived{AccessToken: token}
	if raw, ok := obj["user_id"]; ok {
		id, err := decodeID(raw)
		if err != nil {
			return ShortLived{}, fmt.Errorf("exchanging Threads authorization code: %w: user_id: %v", ErrBadAnswer, err)
		}
		s.UserID = id
	}
	return s, nil
}

// Me returns the user a token belongs to; a cheap check that the token
// works.
func (c *Client) Me(ctx context.Context, token string) (User, error) {
	obj, err := c.do(ctx, request{
		method: http.MethodGet,
		path:   "/v1.0/me",
		query: url.Values{
			"fields":       {"id,username"},
			"access_token": {token},
		},
		secrets: []string{token},
	})
	if err != nil {
		return User{}, fmt.Errorf("reading Threads user: %w", err)
	}
	var u User
	if raw, ok := obj["id"]; ok {
		id, err := decodeID(raw)
		if err != nil {
			return User{}, fmt.Errorf("reading Threads user: %w: id: %v", ErrBadAnswer, err)
		}
		u.ID = id
	}
	if u.ID == "" {
		return User{}, fmt.Errorf("reading Threads user: %w: no id in the answer", ErrBadAnswer)
	}
	u.Username, _ = stringField(obj, "username")
	return u, nil
}

// AuthorizeURL returns the address of the browser dialog where a person
// grants scopes to the app; Threads then redirects to redirectURI with a
// code and state. base "" means DefaultAuthorizeBase.
func AuthorizeURL(base string, appID, redirectURI string, scopes []string, state string) string {
	if base == "" {
		base = DefaultAuthorizeBase
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

// request is one call to the Graph API.
type request struct {
	method string
	path   string
	query  url.Values
	form   url.Values
	// secrets are the values sent that no error may show.
	secrets []string
}

// errRequestTimeout is the cause of the per-request deadline, which tells it
// apart from the end of the caller's context.
var errRequestTimeout = errors.New("per-request timeout")

// do sends r and returns the JSON object of a 2xx answer.
func (c *Client) do(ctx context.Context, r request) (map[string]json.RawMessage, error) {
	if c.baseErr != nil {
		return nil, c.baseErr
	}
	u := *c.base
	u.Path += r.path
	u.RawPath = ""
	// op names the call in errors: method and URL, without the query.
	op := r.method + " " + u.Redacted()
	u.RawQuery = r.query.Encode()
	rd := newRedactor(r.secrets, u.RawQuery, r.form.Encode())

	reqCtx, cancel := context.WithTimeoutCause(ctx, c.timeout, errRequestTimeout)
	defer cancel()

	var body io.Reader
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	}
	req, err := http.NewRequestWithContext(reqCtx, r.method, u.String(), body)
	if err != nil {
		return nil, &requestError{op: op, msg: rd.redact(unwrapURLError(err).Error())}
	}
	req.Header.Set("Accept", "application/json")
	if r.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, reqCtx, op, rd, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, c.transportError(ctx, reqCtx, op, rd, err)
	}

	obj, isObject := parseObject(data)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, apiErrorOf(resp.StatusCode, obj, isObject, rd)
	}
	if !isObject {
		return nil, fmt.Errorf("%w: HTTP %d with a non-JSON body", ErrBadAnswer, resp.StatusCode)
	}
	if _, ok := obj["error"]; ok {
		// Graph has been seen to answer errors with a 200.
		return nil, apiErrorOf(resp.StatusCode, obj, true, rd)
	}
	return obj, nil
}

// transportError turns a failure to get or read an answer into a transient
// error whose text holds neither the query nor any secret.
func (c *Client) transportError(ctx, reqCtx context.Context, op string, rd redactor, err error) error {
	e := &requestError{op: op, transient: true}
	switch {
	case ctx.Err() != nil:
		// The caller gave up: keep its reason visible to errors.Is.
		e.msg = ctx.Err().Error()
		e.causes = []error{ctx.Err()}
		if cause := context.Cause(ctx); cause != ctx.Err() {
			e.causes = append(e.causes, cause)
		}
	case errors.Is(context.Cause(reqCtx), errRequestTimeout):
		// Not context.DeadlineExceeded: the caller's own deadline is fine.
		e.msg = fmt.Sprintf("no answer within %v", c.timeout)
	default:
		// The *url.Error itself is dropped: it prints the whole URL.
		cause := unwrapURLError(err)
		e.msg = rd.redact(cause.Error())
		e.causes = []error{cause}
	}
	return e
}

// unwrapURLError returns what a *url.Error wraps, since the *url.Error
// prints the URL and its query.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// parseObject decodes data as a JSON object.
func parseObject(data []byte) (map[string]json.RawMessage, bool) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return nil, false
	}
	return obj, true
}

// tokenOf reads the answer of the exchange and refresh endpoints.
func tokenOf(obj map[string]json.RawMessage) (Token, error) {
	var t Token
	t.AccessToken, _ = stringField(obj, "access_token")
	if t.AccessToken == "" {
		return Token{}, fmt.Errorf("%w: no access_token in the answer", ErrBadAnswer)
	}
	t.TokenType, _ = stringField(obj, "token_type")
	n, ok := intField(obj, "expires_in")
	if !ok || n <= 0 {
		return Token{}, fmt.Errorf("%w: expires_in missing or not positive", ErrBadAnswer)
	}
	t.ExpiresIn = n
	return t, nil
}

// redactedMark stands for a secret in printed values: it tells whether one
// is set without showing it.
func redactedMark(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}
