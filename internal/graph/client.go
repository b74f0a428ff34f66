// Package graph is the client core shared by every Meta platform whose
// tokens the refresher keeps (Threads, Instagram): it builds requests to the
// Graph API token endpoints, reads their answers in the shapes Meta sends,
// classifies Graph errors, and keeps tokens, app secrets and codes out of
// every error it returns.
//
// Every call sends one HTTP request bounded by the client's per-request
// timeout and never retries: the caller decides, using errors.Is with
// ErrTransient, ErrNeedsReauth and ErrBadAnswer. Refresher adds the one
// judgement that takes a second request: whether a refusal Meta's code
// leaves open means the token is dead.
package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultTimeout bounds one request when a Client is given no timeout.
	DefaultTimeout = 30 * time.Second

	// maxBody bounds what is read of an answer; token answers are tiny and
	// an error page larger than this is not worth reading in full.
	maxBody = 1 << 20
)

// defaultHTTPClient is shared by every Client built without one, so that
// connections to the Graph API are reused across clients. Like every
// client a Client uses, it follows no redirect (see New).
var defaultHTTPClient = &http.Client{
	CheckRedirect: noRedirect,
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

// Options configure a Client. The zero value means the platform's hosts,
// DefaultTimeout and a shared HTTP client with connection reuse.
type Options struct {
	// BaseURL is the Graph API root ("" means the platform's BaseURL; a
	// trailing slash is ignored).
	BaseURL string
	// OAuthBaseURL is the root of the authorization code exchange. ""
	// means the platform's OAuthBaseURL, or the Graph API root for a
	// platform that has none.
	OAuthBaseURL string
	// Timeout bounds each request, from sending it to reading the whole
	// answer; zero or less means DefaultTimeout.
	Timeout time.Duration
	// HTTPClient nil means a shared client with connection reuse.
	HTTPClient *http.Client
}

// Client calls one platform's token endpoints. It is safe for concurrent
// use.
type Client struct {
	p       Platform
	base    root
	oauth   root
	timeout time.Duration
	hc      *http.Client
}

// root is a parsed base URL, or why it cannot be used.
type root struct {
	u   *url.URL
	err error
}

// New returns a client for platform p. An invalid base URL makes every call
// to that host fail with a permanent error. The client never follows a
// redirect, whatever HTTP client it is given.
//
// net/http may itself resend an idempotent GET once when a reused
// connection dies before the first byte of an answer; the client adds no
// retry of its own.
func New(p Platform, o Options) *Client {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.HTTPClient == nil {
		o.HTTPClient = defaultHTTPClient
	}
	// A copy, so that the caller's client is left as it was: none of Meta's
	// token endpoints is documented to redirect, and a client that followed
	// one would hand another host the request (tokens, app secret) and take
	// its answer for Meta's. A redirect is answered as a failed attempt.
	hc := *o.HTTPClient
	hc.CheckRedirect = noRedirect
	o.HTTPClient = &hc
	if o.BaseURL == "" {
		o.BaseURL = p.BaseURL
	}
	if o.OAuthBaseURL == "" {
		o.OAuthBaseURL = p.OAuthBaseURL
	}
	c := &Client{p: p, timeout: o.Timeout, hc: o.HTTPClient}
	c.base = parseRoot(p.Name+" base URL", o.BaseURL)
	c.oauth = c.base
	if o.OAuthBaseURL != "" {
		c.oauth = parseRoot(p.Name+" OAuth base URL", o.OAuthBaseURL)
	}
	return c
}

// ErrCleartext is why a base URL with plain http to another machine is
// refused: every call sends a token or an app secret, which would cross the
// network in clear text. Plain http is for fakes and emulators on this
// machine only (see Loopback).
var ErrCleartext = errors.New("plain http is allowed only to this machine (localhost, 127.0.0.0/8 or ::1); tokens would travel in clear text, so use https")

// CheckBaseURL reports why raw cannot be a Client's base URL (https, or http
// to this machine; a host; no query or fragment), or nil. Configuration
// checks it at start, so that a bad value is refused once, naming its
// variable, rather than on every call. The error wraps ErrCleartext when
// plain http names another machine; its text never holds a password the
// URL carries.
func CheckBaseURL(raw string) error { return parseRoot("base URL", raw).err }

func parseRoot(what, raw string) root {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	switch {
	case err != nil:
		// url.Parse's error quotes the whole URL, password included.
		return root{err: fmt.Errorf("invalid %s %q: not a URL", what, Redact(raw))}
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return root{err: fmt.Errorf("invalid %s %q: want http(s)://host", what, u.Redacted())}
	case u.RawQuery != "" || u.Fragment != "":
		return root{err: fmt.Errorf("invalid %s %q: no query or fragment allowed", what, u.Redacted())}
	case u.Scheme == "http" && !Loopback(u.Hostname()):
		return root{err: fmt.Errorf("invalid %s %q: %w", what, u.Redacted(), ErrCleartext)}
	}
	return root{u: u}
}

// Loopback reports whether host (without a port) is this machine:
// "localhost", or an address in 127.0.0.0/8 or ::1. No name is looked up:
// what a name resolves to can change after the check.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Redact returns raw with the password of its user information, if any,
// replaced by "xxxxx", as url.URL.Redacted does, also when raw does not
// parse as a URL: the password must not be printed either way.
func Redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	// The authority runs from "//" to the next '/', '?' or '#'; its user
	// information ends at its last '@'.
	start := strings.Index(raw, "//")
	if start < 0 {
		start = 0
	} else {
		start += 2
	}
	end := len(raw)
	if i := strings.IndexAny(raw[start:], "/?#"); i >= 0 {
		end = start + i
	}
	at := strings.LastIndex(raw[start:end], "@")
	if at < 0 {
		return raw
	}
	userinfo := raw[start : start+at]
	if user, _, hasPassword := strings.Cut(userinfo, ":"); hasPassword {
		return raw[:start] + user + ":xxxxx" + raw[start+at:]
	}
	return raw
}

// Platform is the platform the client calls.
func (c *Client) Platform() Platform { return c.p }

// Refresh exchanges a long-lived token, at least 24 hours old and not
// expired, for a new one valid 60 days. The old token's fate is not
// documented: store the returned one.
func (c *Client) Refresh(ctx context.Context, longLived string) (Token, error) {
	return c.token(ctx, "refreshing "+c.p.Name+" token", request{
		method: http.MethodGet,
		path:   "/refresh_access_token",
		query: url.Values{
			"grant_type":   {c.p.RefreshGrant},
			"access_token": {longLived},
		},
		secrets: []string{longLived},
	})
}

// Exchange exchanges an unexpired short-lived token for a long-lived one.
// It needs the app secret, so it belongs on a server, never in a browser.
func (c *Client) Exchange(ctx context.Context, appSecret, shortLived string) (Token, error) {
	return c.token(ctx, "exchanging short-lived "+c.p.Name+" token", request{
		method: http.MethodGet,
		path:   "/access_token",
		query: url.Values{
			"grant_type":    {c.p.ExchangeGrant},
			"client_secret": {appSecret},
			"access_token":  {shortLived},
		},
		secrets: []string{appSecret, shortLived},
	})
}

// token sends r to the Graph host and reads the token it answers; doing
// names the call in errors.
func (c *Client) token(ctx context.Context, doing string, r request) (Token, error) {
	obj, err := c.do(ctx, c.base, r)
	if err == nil {
		var t Token
		if t, err = tokenOf(obj); err == nil {
			return t, nil
		}
	}
	return Token{}, fmt.Errorf("%s: %w", doing, err)
}

// ExchangeCode exchanges an authorization code (valid 1 hour, single use)
// for a short-lived token. Both answer shapes are read: the flat
// {"access_token","user_id"} and Instagram's {"data":[{...}]}.
func (c *Client) ExchangeCode(ctx context.Context, r CodeRequest) (ShortLived, error) {
	code := strings.TrimSuffix(r.Code, "#_")
	obj, err := c.do(ctx, c.oauth, request{
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
	if err == nil {
		var s ShortLived
		if s, err = shortLivedOf(firstOfData(obj)); err == nil {
			return s, nil
		}
	}
	return ShortLived{}, fmt.Errorf("exchanging %s authorization code: %w", c.p.Name, err)
}

// Me returns the user a token belongs to; a cheap check that the token
// works.
func (c *Client) Me(ctx context.Context, token string) (User, error) {
	obj, err := c.do(ctx, c.base, request{
		method: http.MethodGet,
		path:   c.p.MePath,
		query: url.Values{
			"fields":       {c.p.MeFields},
			"access_token": {token},
		},
		secrets: []string{token},
	})
	if err == nil {
		var u User
		if u, err = userOf(firstOfData(obj), c.p.MeIDField); err == nil {
			return u, nil
		}
	}
	return User{}, fmt.Errorf("reading %s user: %w", c.p.Name, err)
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

// do sends r to the host at rt and returns the JSON object of a 2xx answer.
func (c *Client) do(ctx context.Context, rt root, r request) (map[string]json.RawMessage, error) {
	if rt.err != nil {
		return nil, rt.err
	}
	u := *rt.u
	u.Path += r.path
	u.RawPath = ""
	// op names the call in errors: method and URL, without the query.
	op := r.method + " " + u.Redacted()
	u.RawQuery = r.query.Encode()
	form := r.form.Encode()
	rd := newRedactor(r.secrets, u.RawQuery, form)

	reqCtx, cancel := context.WithTimeoutCause(ctx, c.timeout, errRequestTimeout)
	defer cancel()

	var body io.Reader
	if r.form != nil {
		body = strings.NewReader(form)
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

	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		// Not followed (noRedirect): a failed attempt, worth another try,
		// whose Location is not repeated (it may carry anything).
		return nil, &APIError{Platform: c.p.Name, HTTPStatus: resp.StatusCode, Transient: true,
			Message: fmt.Sprintf("HTTP %d: a redirect to another address, not followed (Meta's token endpoints do not redirect)", resp.StatusCode)}
	}
	obj, isObject := parseObject(data)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := apiErrorOf(c.p.Name, resp.StatusCode, obj, isObject, rd)
		e.RetryAfter = retryAfterOf(resp.Header)
		return nil, e
	}
	if !isObject {
		return nil, fmt.Errorf("%w: HTTP %d with a non-JSON body", ErrBadAnswer, resp.StatusCode)
	}
	if _, ok := obj["error"]; ok {
		// Graph has been seen to answer errors with a 200.
		return nil, apiErrorOf(c.p.Name, resp.StatusCode, obj, true, rd)
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

// noRedirect makes an http.Client return a redirect as it is, without
// following it.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// maxRetryAfter bounds the wait an answer may ask for; the engine bounds it
// again by its own deadline.
const maxRetryAfter = 24 * time.Hour

// retryAfterOf reads Retry-After: delay-seconds or an HTTP date (RFC 9110,
// 10.2.3). A date is measured against the answer's own Date header when it
// has one, so that a clock difference between Meta and this machine does
// not count. Zero when absent, unreadable or already past.
func retryAfterOf(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	ref := time.Now()
	if date, err := http.ParseTime(h.Get("Date")); err == nil {
		ref = date
	}
	return min(max(at.Sub(ref), 0), maxRetryAfter)
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
