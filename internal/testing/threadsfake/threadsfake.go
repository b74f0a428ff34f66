// Package threadsfake is an in-process fake of the Meta Threads token
// endpoints, for tests and benchmarks. It keeps the tokens and codes it
// issued, enforces their documented lifetimes and rules, answers with the
// payloads Meta is known to send, and can be told to fail the next requests
// in the ways Threads and the network do.
//
// Behaviour Meta does not document is the fake's own choice and is marked
// as such below; tests should not depend on its exact text.
package threadsfake

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Lifetimes of what the fake issues, as Meta documents them.
const (
	LongLivedLifetime  = 60 * 24 * time.Hour
	ShortLivedLifetime = time.Hour
	CodeLifetime       = time.Hour
	// MinRefreshAge is the age a long-lived token must reach before it can
	// be refreshed.
	MinRefreshAge = 24 * time.Hour
	// DefaultExpiresIn is the expires_in Meta answers: a little under 60
	// days.
	DefaultExpiresIn = 5183944
)

// Paths of the endpoints, as given to FailNext and Calls.
const (
	PathRefresh  = "/refresh_access_token"
	PathExchange = "/access_token"
	PathCode     = "/oauth/access_token"
	PathMe       = "/v1.0/me"
)

// Failure is a way for the fake to fail one request.
type Failure int

// Failures FailNext can inject.
const (
	// HTML5xx answers 502 with an HTML page, as a proxy in an outage does.
	HTML5xx Failure = iota + 1
	// Transient answers 503 with Graph error code 2, is_transient true.
	Transient
	// RateLimited answers 400 with Graph error code 4.
	RateLimited
	// Expired answers 400 with the expired-token error (190/463).
	Expired
	// Revoked answers 400 with the session-invalidated error (190/460).
	Revoked
	// InvalidToken answers 400 with code 190 and no subcode.
	InvalidToken
	// FlatError answers 400 with the flat shape, "Invalid platform app".
	FlatError
	// EmptyToken answers 200 with an empty access_token (an empty id on
	// /v1.0/me).
	EmptyToken
	// NonJSON200 answers 200 with an HTML page.
	NonJSON200
	// ZeroExpiry answers 200 with a token and expires_in 0. It means
	// something only for the exchange and refresh endpoints: the code
	// exchange answers no expires_in at all.
	ZeroExpiry
	// Hang never answers: the request ends when the client gives up or the
	// fake is closed.
	Hang
	// Reset closes the connection abruptly, with a TCP reset, in the middle
	// of the answer.
	Reset
	// Unsupported answers 400 with code 100, the "unsupported get request"
	// error.
	Unsupported
)

var failureNames = map[Failure]string{
	HTML5xx: "HTML5xx", Transient: "Transient", RateLimited: "RateLimited",
	Expired: "Expired", Revoked: "Revoked", InvalidToken: "InvalidToken",
	FlatError: "FlatError", EmptyToken: "EmptyToken", NonJSON200: "NonJSON200",
	ZeroExpiry: "ZeroExpiry", Hang: "Hang", Reset: "Reset", Unsupported: "Unsupported",
}

// Failures lists every Failure, for table tests.
func Failures() []Failure {
	return []Failure{HTML5xx, Transient, RateLimited, Expired, Revoked, InvalidToken,
		FlatError, EmptyToken, NonJSON200, ZeroExpiry, Hang, Reset, Unsupported}
}

func (f Failure) String() string {
	if n, ok := failureNames[f]; ok {
		return n
	}
	return "Failure(" + strconv.Itoa(int(f)) + ")"
}

// Option configures a Server.
type Option func(*Server)

// App sets the app's ID and secret. Without it the fake uses DefaultAppID
// and a random secret (see AppSecret).
func App(id, secret string) Option {
	return func(s *Server) { s.appID, s.appSecret = id, secret }
}

// Latency delays every answer by d.
func Latency(d time.Duration) Option {
	return func(s *Server) { s.latency = d }
}

// ExpiresIn sets the expires_in of exchange and refresh answers. Issued
// tokens still live LongLivedLifetime.
func ExpiresIn(seconds int64) Option {
	return func(s *Server) { s.expiresIn = seconds }
}

// UserIDAsString makes the code exchange send user_id as a JSON string
// instead of a number: Threads has been seen to do both.
func UserIDAsString() Option {
	return func(s *Server) { s.userIDString = true }
}

// RetireOnRefresh makes a refresh invalidate the token it was given. Meta
// does not document the old token's fate; by default it keeps working until
// its own expiry.
func RetireOnRefresh() Option {
	return func(s *Server) { s.retireOnRefresh = true }
}

// DefaultAppID is the app ID the fake accepts without the App option.
const DefaultAppID = "1000000000000001"

// Server is a running fake. It is safe for concurrent use.
type Server struct {
	srv     *httptest.Server
	closing chan struct{}
	once    sync.Once

	// Set by options before the server starts, then read only.
	appID           string
	appSecret       string
	latency         time.Duration
	expiresIn       int64
	userIDString    bool
	retireOnRefresh bool

	mu       sync.Mutex
	now      time.Time // zero: the real clock
	tokens   map[string]*tokenState
	order    []string // tokens in issue order
	codes    map[string]*codeState
	queue    []queued
	calls    map[string]int
	total    int
	tooYoung int
}

type tokenState struct {
	userID, username string
	longLived        bool
	issuedAt         time.Time
	expiresAt        time.Time
	revoked          bool
	retired          bool
}

type codeState struct {
	appID, redirectURI string
	userID, username   string
	expiresAt          time.Time
	used               bool
}

type queued struct {
	path string
	f    Failure
}

// TokenInfo is what the fake knows of a token it issued.
type TokenInfo struct {
	UserID    string
	Username  string
	LongLived bool
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Revoked is set by Revoke; Retired by a refresh with RetireOnRefresh.
	Revoked bool
	Retired bool
}

// New starts a fake on 127.0.0.1. Close stops it.
func New(opts ...Option) *Server {
	s := &Server{
		closing:   make(chan struct{}),
		appID:     DefaultAppID,
		appSecret: randomBase62(32),
		expiresIn: DefaultExpiresIn,
		tokens:    map[string]*tokenState{},
		codes:     map[string]*codeState{},
		calls:     map[string]int{},
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Start starts a fake that t's cleanup closes.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := New(opts...)
	t.Cleanup(s.Close)
	return s
}

// URL is the base URL of the fake's Graph API ("http://127.0.0.1:port").
func (s *Server) URL() string { return s.srv.URL }

// Client returns an HTTP client for the fake; it is closed with the fake.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close ends hung requests and stops the fake. It may be called more than
// once.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		s.srv.Close()
	})
}

// AppID is the app ID the fake accepts.
func (s *Server) AppID() string { return s.appID }

// AppSecret is the app secret the fake accepts.
func (s *Server) AppSecret() string { return s.appSecret }

// SetNow fixes the fake's clock at t. Until it is called the fake uses the
// real clock.
func (s *Server) SetNow(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = t
}

// Advance moves the fake's clock forward by d, fixing it first if needed.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = s.nowLocked().Add(d)
}

// Now is the fake's current time.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

func (s *Server) nowLocked() time.Time {
	if s.now.IsZero() {
		return time.Now()
	}
	return s.now
}

// IssueLongLived issues a long-lived token for the user, valid 60 days from
// issuedAt (zero: now).
func (s *Server) IssueLongLived(userID, username string, issuedAt time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueLocked(userID, username, true, issuedAt)
}

// IssueShortLived issues a short-lived token for the user, valid 1 hour
// from issuedAt (zero: now).
func (s *Server) IssueShortLived(userID, username string, issuedAt time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueLocked(userID, username, false, issuedAt)
}

func (s *Server) issueLocked(userID, username string, longLived bool, issuedAt time.Time) string {
	if issuedAt.IsZero() {
		issuedAt = s.nowLocked()
	}
	life := ShortLivedLifetime
	if longLived {
		life = LongLivedLifetime
	}
	tok := "THAA" + randomBase62(180)
	s.tokens[tok] = &tokenState{
		userID: userID, username: username, longLived: longLived,
		issuedAt: issuedAt, expiresAt: issuedAt.Add(life),
	}
	s.order = append(s.order, tok)
	return tok
}

// IssueCode issues an authorization code for the app and redirect URI,
// valid 1 hour from now and usable once.
func (s *Server) IssueCode(appID, redirectURI, userID, username string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := "AQ" + randomBase62(200)
	s.codes[code] = &codeState{
		appID: appID, redirectURI: redirectURI, userID: userID, username: username,
		expiresAt: s.nowLocked().Add(CodeLifetime),
	}
	return code
}

// Revoke invalidates a token, as a password change does: later calls with
// it answer the 190/460 error.
func (s *Server) Revoke(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[token]; ok {
		t.revoked = true
	}
}

// Valid reports whether the fake would accept token now.
func (s *Server) Valid(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[token]
	return ok && s.usableLocked(t)
}

// Tokens returns the tokens the fake would accept now, in issue order.
func (s *Server) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var live []string
	for _, tok := range s.order {
		if s.usableLocked(s.tokens[tok]) {
			live = append(live, tok)
		}
	}
	return live
}

// Info returns what the fake knows of token.
func (s *Server) Info(token string) (TokenInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[token]
	if !ok {
		return TokenInfo{}, false
	}
	return TokenInfo{
		UserID: t.userID, Username: t.username, LongLived: t.longLived,
		IssuedAt: t.issuedAt, ExpiresAt: t.expiresAt, Revoked: t.revoked, Retired: t.retired,
	}, true
}

func (s *Server) usableLocked(t *tokenState) bool {
	return !t.revoked && !t.retired && s.nowLocked().Before(t.expiresAt)
}

// FailNext makes the next n requests to endpoint (a path such as
// PathRefresh, or "" for any) fail with f. Queued failures are used first
// in, first out, by the first request each matches.
func (s *Server) FailNext(endpoint string, f Failure, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.queue = append(s.queue, queued{path: endpoint, f: f})
	}
}

// Calls is the number of requests received for endpoint (a path), failed
// ones included.
func (s *Server) Calls(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[endpoint]
}

// TotalCalls is the number of requests received.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// TooYoungRefreshes is the number of refreshes asked for a token less than
// 24 hours old, which a correct caller never does.
func (s *Server) TooYoungRefreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tooYoung
}

// serve counts the request, waits the latency, then fails it as queued or
// answers it.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls[r.URL.Path]++
	s.total++
	f := s.takeFailureLocked(r.URL.Path)
	s.mu.Unlock()

	if s.latency > 0 && !s.wait(r.Context(), s.latency) {
		// Drop the connection rather than answer an empty 200.
		panic(http.ErrAbortHandler)
	}
	if f != 0 {
		s.fail(w, r, f)
		return
	}
	s.route(w, r)
}

func (s *Server) takeFailureLocked(path string) Failure {
	for i, q := range s.queue {
		if q.path == "" || q.path == path {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			return q.f
		}
	}
	return 0
}

// wait sleeps d and reports whether the request is still worth answering.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.closing:
	}
	return false
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case PathRefresh:
		s.refresh(w, r)
	case PathExchange:
		s.exchange(w, r)
	case PathCode:
		s.exchangeCode(w, r)
	case PathMe:
		s.me(w, r)
	default:
		if isVersioned(r.URL.Path) {
			switch strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[1] {
			case "access_token", "refresh_access_token", "oauth/access_token":
				// Token endpoints have no version.
				writeGraphError(w, http.StatusBadRequest, graphError{
					Message: "Unsupported request - method type: " + strings.ToLower(r.Method),
					Type:    "THApiException", Code: 100,
				})
				return
			}
		}
		writeUnsupported(w, r)
	}
}

func isVersioned(path string) bool {
	return strings.HasPrefix(path, "/v") && strings.Count(path, "/") >= 2
}

// refresh serves GET /refresh_access_token.
func (s *Server) refresh(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeUnsupported(w, r)
		return
	}
	q := r.URL.Query()
	if g := q.Get("grant_type"); g != "th_refresh_token" {
		writeGrantType(w, g)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	old := q.Get("access_token")
	t, ok := s.tokens[old]
	if !ok || !t.longLived {
		// A short-lived token cannot be refreshed; Meta does not document
		// the answer, so it is the unparseable-token error here.
		writeInvalidToken(w)
		return
	}
	if s.refuseLocked(w, t, now) {
		return
	}
	if now.Sub(t.issuedAt) < MinRefreshAge {
		// Undocumented; the fake's choice. Counted so that tests can assert
		// it never happens.
		s.tooYoung++
		writeGraphError(w, http.StatusBadRequest, graphError{
			Message: "Unsupported request: a long-lived access token can be refreshed only once it is at least 24 hours old.",
			Type:    "OAuthException", Code: 100,
		})
		return
	}
	if s.retireOnRefresh {
		t.retired = true
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": s.issueLocked(t.userID, t.username, true, now),
		"token_type":   "bearer",
		"expires_in":   s.expiresIn,
	})
}

// exchange serves GET /access_token.
func (s *Server) exchange(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeUnsupported(w, r)
		return
	}
	q := r.URL.Query()
	if g := q.Get("grant_type"); g != "th_exchange_token" {
		writeGrantType(w, g)
		return
	}
	if q.Get("client_secret") != s.appSecret {
		writeBadSecret(w)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	t, ok := s.tokens[q.Get("access_token")]
	if !ok || t.longLived {
		writeInvalidToken(w)
		return
	}
	if s.refuseLocked(w, t, now) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": s.issueLocked(t.userID, t.username, true, now),
		"token_type":   "bearer",
		"expires_in":   s.expiresIn,
	})
}

// exchangeCode serves POST /oauth/access_token.
func (s *Server) exchangeCode(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeUnsupported(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeGraphError(w, http.StatusBadRequest, graphError{Message: "Malformed request body.", Type: "OAuthException", Code: 100})
		return
	}
	f := r.PostForm
	if g := f.Get("grant_type"); g != "authorization_code" {
		writeGrantType(w, g)
		return
	}
	if f.Get("client_id") != s.appID {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"error_type": "OAuthException", "code": 400, "error_message": "Invalid platform app",
		})
		return
	}
	if f.Get("client_secret") != s.appSecret {
		writeBadSecret(w)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	c, ok := s.codes[f.Get("code")]
	switch {
	case !ok:
		writeGraphError(w, http.StatusBadRequest, graphError{Message: "Invalid verification code format.", Type: "OAuthException", Code: 100})
		return
	case c.used:
		writeGraphError(w, http.StatusBadRequest, graphError{Message: "This authorization code has been used.", Type: "OAuthException", Code: 100})
		return
	case !now.Before(c.expiresAt):
		writeGraphError(w, http.StatusBadRequest, graphError{Message: "This authorization code has expired.", Type: "OAuthException", Code: 100})
		return
	case c.appID != s.appID || c.redirectURI != f.Get("redirect_uri"):
		writeGraphError(w, http.StatusBadRequest, graphError{
			Message: "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
			Type:    "OAuthException", Code: 100,
		})
		return
	}
	c.used = true
	var userID any = json.Number(c.userID)
	if s.userIDString || !isDigits(c.userID) {
		userID = c.userID
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": s.issueLocked(c.userID, c.username, false, now),
		"user_id":      userID,
	})
}

// me serves GET /v1.0/me.
func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeUnsupported(w, r)
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[q.Get("access_token")]
	if !ok {
		writeInvalidToken(w)
		return
	}
	if s.refuseLocked(w, t, s.nowLocked()) {
		return
	}
	answer := map[string]any{"id": t.userID}
	for _, f := range strings.Split(q.Get("fields"), ",") {
		if strings.TrimSpace(f) == "username" {
			answer["username"] = t.username
		}
	}
	writeJSON(w, http.StatusOK, answer)
}

// refuseLocked answers the error of a known token that is revoked, retired
// or expired, and reports whether it did.
func (s *Server) refuseLocked(w http.ResponseWriter, t *tokenState, now time.Time) bool {
	switch {
	case t.revoked:
		writeGraphError(w, http.StatusBadRequest, revokedError)
	case t.retired:
		// Undocumented; the fake's choice for a token a refresh replaced.
		writeGraphError(w, http.StatusBadRequest, graphError{
			Message: "Error validating access token: The access token has been replaced.",
			Type:    "OAuthException", Code: 190, Subcode: 467,
		})
	case !now.Before(t.expiresAt):
		writeGraphError(w, http.StatusBadRequest, expiredError(t.expiresAt))
	default:
		return false
	}
	return true
}

// fail answers r with an injected failure.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, f Failure) {
	switch f {
	case HTML5xx:
		writeHTML(w, http.StatusBadGateway)
	case Transient:
		writeGraphError(w, http.StatusServiceUnavailable, graphError{
			Message: "An unexpected error has occurred. Please retry your request later.",
			Type:    "OAuthException", Code: 2, Transient: true,
		})
	case RateLimited:
		writeGraphError(w, http.StatusBadRequest, graphError{
			Message: "(#4) Application request limit reached",
			Type:    "OAuthException", Code: 4, Transient: true,
		})
	case Expired:
		writeGraphError(w, http.StatusBadRequest, expiredError(s.Now()))
	case Revoked:
		writeGraphError(w, http.StatusBadRequest, revokedError)
	case InvalidToken:
		writeInvalidToken(w)
	case FlatError:
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"error_type": "OAuthException", "code": 400, "error_message": "Invalid platform app",
		})
	case EmptyToken:
		if r.URL.Path == PathMe {
			writeJSON(w, http.StatusOK, map[string]any{"id": "", "username": ""})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"access_token": "", "token_type": "bearer", "expires_in": s.expiresIn})
	case NonJSON200:
		writeHTML(w, http.StatusOK)
	case ZeroExpiry:
		writeJSON(w, http.StatusOK, map[string]any{"access_token": "THAA" + randomBase62(180), "token_type": "bearer", "expires_in": 0})
	case Hang:
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		panic(http.ErrAbortHandler)
	case Reset:
		reset(w)
	case Unsupported:
		writeUnsupported(w, r)
	default:
		panic(fmt.Sprintf("threadsfake: unknown failure %d", int(f)))
	}
}

// reset sends the start of an answer, then aborts the connection with a
// TCP reset. Some bytes go first so that net/http, which resends an
// idempotent request when a reused connection dies before any answer,
// reports the failure instead: one request, one failure.
func reset(w http.ResponseWriter) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic("threadsfake: cannot hijack the connection: " + err.Error())
	}
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/js")
	_ = buf.Flush()
	if tc, ok := conn.(*net.TCPConn); ok {
		// Linger 0 makes Close send a reset instead of a clean close.
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// GraphError is the Graph API's error object, for other fakes that answer
// as Meta does (the simulation's model of Meta, in internal/sim).
type GraphError = graphError

// graphError is the Graph error shape.
type graphError struct {
	Message   string `json:"message"`
	Type      string `json:"type"`
	Code      int    `json:"code"`
	Subcode   int    `json:"error_subcode,omitempty"`
	Transient bool   `json:"is_transient,omitempty"`
	FBTraceID string `json:"fbtrace_id"`
}

var revokedError = graphError{
	Message: "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.",
	Type:    "OAuthException", Code: 190, Subcode: 460,
}

// pacific is the zone Meta writes expiry times in; fixed, so that the fake
// needs no time zone database.
var pacific = time.FixedZone("PST", -8*60*60)

func expiredError(at time.Time) graphError {
	return graphError{
		Message: "Error validating access token: Session has expired on " + at.In(pacific).Format("Monday, 02-Jan-06 15:04:05 MST") + ".",
		Type:    "OAuthException", Code: 190, Subcode: 463,
	}
}

func writeInvalidToken(w http.ResponseWriter) {
	writeGraphError(w, http.StatusBadRequest, graphError{
		Message: "Invalid OAuth access token - Cannot parse access token",
		Type:    "OAuthException", Code: 190,
	})
}

func writeBadSecret(w http.ResponseWriter) {
	writeGraphError(w, http.StatusBadRequest, graphError{
		Message: "Error validating client secret.",
		Type:    "OAuthException", Code: 101,
	})
}

func writeGrantType(w http.ResponseWriter, got string) {
	// The text is the fake's; the grant type is no secret.
	writeGraphError(w, http.StatusBadRequest, graphError{
		Message: fmt.Sprintf("Unsupported grant_type: %q", got),
		Type:    "OAuthException", Code: 100,
	})
}

func writeUnsupported(w http.ResponseWriter, r *http.Request) {
	object := strings.Trim(r.URL.Path, "/")
	if i := strings.LastIndex(object, "/"); i >= 0 {
		object = object[i+1:]
	}
	writeGraphError(w, http.StatusBadRequest, graphError{
		Message: fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation",
			strings.ToLower(r.Method), object),
		Type: "THApiException", Code: 100, Subcode: 33,
	})
}

func writeGraphError(w http.ResponseWriter, status int, e graphError) {
	e.FBTraceID = "A" + randomBase62(22)
	w.Header().Set("X-Fb-Trace-Id", e.FBTraceID)
	writeJSON(w, status, map[string]graphError{"error": e})
}

// WriteJSON answers v as JSON with status, as Meta's endpoints do.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		panic("threadsfake: " + err.Error())
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeHTML(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><title>Error</title></head><body><h1>%d %s</h1><p>Sorry, something went wrong.</p></body></html>\n",
		status, http.StatusText(status))
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomBase62 returns n random base62 characters.
func randomBase62(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2)
	for len(out) < n {
		_, _ = rand.Read(buf)
		for _, b := range buf {
			// 248 is the largest multiple of 62 below 256: no bias.
			if b < 248 && len(out) < n {
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out)
}
