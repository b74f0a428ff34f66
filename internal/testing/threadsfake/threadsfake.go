// Package threadsfake is an in-process fake of the Meta Threads token
// endpoints, for tests and benchmarks. It keeps the tokens and codes it
// issued, enforces their documented lifetimes and rules, answers with the
// payloads Meta is known to send, and can be told to fail the next requests
// in the ways Threads and the network do.
//
// With the Instagram option the same fake answers as the Instagram API with
// Instagram Login instead: its grant types, its /me call, and its code
// exchange on a host of its own (OAuthURL), with the same rules and the
// same injectable failures.
//
// Behaviour Meta does not document is the fake's own choice and is marked
// as such below; tests should not depend on its exact text.
package threadsfake

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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
	// PathDebugToken is Threads' token inspection; Instagram has none.
	PathDebugToken = "/v1.0/debug_token"
	// PathInstagramMe is Instagram's /me, at the Graph API version its
	// reference shows.
	PathInstagramMe = "/v26.0/me"
)

// Option configures a Server.
type Option func(*Server)

// Instagram makes the fake answer as the Instagram API with Instagram
// Login: IGAA tokens, the ig_refresh_token and ig_exchange_token grant
// types, PathInstagramMe answering user_id and username, and the
// authorization code exchanged on a second server (OAuthURL), answering
// {"data":[{...}]} as Meta documents it now.
func Instagram() Option {
	return func(s *Server) { s.face = instagramFace }
}

// FlatCodeAnswer makes Instagram's code exchange answer the older flat
// {"access_token","user_id","permissions"} instead of {"data":[{...}]}.
func FlatCodeAnswer() Option {
	return func(s *Server) { s.flatCode = true }
}

// App sets the app's ID and secret. Without it the fake uses DefaultAppID
// and a random secret (see AppSecret).
func App(id, secret string) Option {
	return func(s *Server) { s.appID, s.appSecret = id, secret }
}

// Latency delays every answer by d.
func Latency(d time.Duration) Option {
	return func(s *Server) { s.latency = d }
}

// ExpiresIn sets the expires_in of exchange and refresh answers, and the
// life of the tokens they issue. Tokens a test issues itself
// (IssueLongLived) live LongLivedLifetime.
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
	face            face
	flatCode        bool
	// testers are the users whose tokens may inspect others (debug_token);
	// nil means every user.
	testers map[string]bool
	// oauth serves Instagram's code exchange; nil for Threads, whose Graph
	// host exchanges codes itself.
	oauth *httptest.Server
	// inProcess: no listener; see InProcess.
	inProcess bool
	// callsPerDay bounds each user's calls over a rolling 24 hours; 0: no
	// bound (see DailyCallLimit).
	callsPerDay int

	mu     sync.Mutex
	now    time.Time // zero: the real clock
	tokens map[string]*tokenState
	order  []string // tokens in issue order
	codes  map[string]*codeState
	queue  []queued
	// outage fails every request that no queued failure takes (SetOutage).
	outage Failure
	// callTimes are each user's calls within the last 24 hours, oldest
	// first, when callsPerDay is set.
	callTimes map[string][]time.Time
	// grants is, by user, when the app's access to the user's data ends
	// (debug_token's data_access_expires_at).
	grants   map[string]time.Time
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
	// raw, when set, is answered instead of a Failure (AnswerNext).
	raw *Answer
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

// New starts a fake on 127.0.0.1 (none with InProcess). Close stops it.
func New(opts ...Option) *Server {
	s := &Server{
		closing:   make(chan struct{}),
		appID:     DefaultAppID,
		appSecret: randomBase62(32),
		expiresIn: DefaultExpiresIn,
		tokens:    map[string]*tokenState{},
		codes:     map[string]*codeState{},
		grants:    map[string]time.Time{},
		calls:     map[string]int{},
		callTimes: map[string][]time.Time{},
		face:      threadsFace,
	}
	for _, o := range opts {
		o(s)
	}
	if s.inProcess {
		return s
	}
	s.srv = httptest.NewServer(s.handler(false))
	if s.face.separateOAuth {
		s.oauth = httptest.NewServer(s.handler(true))
	}
	return s
}

// TB is what Start needs of a testing.TB. The package does not import
// testing: the sandbox command (internal/cmd/refresher) runs this model as
// its Meta, and a command has no business linking the test framework.
type TB interface {
	Helper()
	Cleanup(func())
}

// Start starts a fake that t's cleanup closes.
func Start(t TB, opts ...Option) *Server {
	t.Helper()
	s := New(opts...)
	t.Cleanup(s.Close)
	return s
}

// URL is the base URL of the fake's Graph API ("http://127.0.0.1:port";
// a host under InProcessDomain with InProcess).
func (s *Server) URL() string {
	if s.inProcess {
		return s.inProcessURL(false)
	}
	return s.srv.URL
}

// OAuthURL is the base URL of the fake's code exchange: a server of its own
// for Instagram (api.instagram.com), URL for Threads.
func (s *Server) OAuthURL() string {
	if s.inProcess {
		return s.inProcessURL(s.face.separateOAuth)
	}
	if s.oauth != nil {
		return s.oauth.URL
	}
	return s.srv.URL
}

// MePath is the path of the platform's /me: PathMe or PathInstagramMe.
func (s *Server) MePath() string { return s.face.mePath }

// TokenPrefix is how the tokens the fake issues begin: THAA for Threads,
// IGAA for Instagram.
func (s *Server) TokenPrefix() string { return s.face.tokenPrefix }

// Client returns an HTTP client for the fake; it is closed with the fake.
func (s *Server) Client() *http.Client {
	if s.inProcess {
		return InProcessClient(s)
	}
	return s.srv.Client()
}

// Close ends hung requests and stops the fake. It may be called more than
// once.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		if s.srv == nil {
			return // InProcess: nothing listens
		}
		s.srv.Close()
		if s.oauth != nil {
			s.oauth.Close()
		}
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
// issuedAt (zero: now), as a login does: the app's access to the user's
// data runs until 90 days after it, unless SetDataAccess said otherwise.
func (s *Server) IssueLongLived(userID, username string, issuedAt time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	issuedAt = s.loginLocked(userID, issuedAt)
	return s.issueLocked(userID, username, LongLivedLifetime, true, issuedAt)
}

// IssueShortLived issues a short-lived token for the user, valid 1 hour
// from issuedAt (zero: now), as a login does.
func (s *Server) IssueShortLived(userID, username string, issuedAt time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	issuedAt = s.loginLocked(userID, issuedAt)
	return s.issueLocked(userID, username, ShortLivedLifetime, false, issuedAt)
}

func (s *Server) issueLocked(userID, username string, life time.Duration, longLived bool, issuedAt time.Time) string {
	if issuedAt.IsZero() {
		issuedAt = s.nowLocked()
	}
	tok := s.face.tokenPrefix + randomBase62(180)
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

// handler serves the Graph host, or with oauth the code exchange host.
func (s *Server) handler(oauth bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, oauth) }
}

// serve counts the request, waits the latency, then fails it as queued or
// answers it.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, oauth bool) {
	s.mu.Lock()
	s.calls[r.URL.Path]++
	s.total++
	f := s.takeFailureLocked(r.URL.Path)
	if f == (queued{}) && s.outage != 0 {
		f.f = s.outage
	}
	limited, retry := s.overDailyLimitLocked(r)
	s.mu.Unlock()

	if s.latency > 0 && !s.wait(r.Context(), s.latency) {
		// Drop the connection rather than answer an empty 200.
		panic(http.ErrAbortHandler)
	}
	switch {
	case f.raw != nil:
		f.raw.write(w)
		return
	case f.f != 0:
		s.fail(w, r, f.f)
		return
	case limited:
		writeRateLimited(w, retry)
		return
	}
	s.route(w, r, oauth)
}

func (s *Server) takeFailureLocked(path string) queued {
	for i, q := range s.queue {
		if q.path == "" || q.path == path {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			return q
		}
	}
	return queued{}
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

func (s *Server) route(w http.ResponseWriter, r *http.Request, oauth bool) {
	if s.face.separateOAuth && oauth != (r.URL.Path == PathCode) {
		// Instagram exchanges codes on its OAuth host, and only there.
		s.writeUnsupported(w, r)
		return
	}
	switch r.URL.Path {
	case PathRefresh:
		s.refresh(w, r)
	case PathExchange:
		s.exchange(w, r)
	case PathCode:
		s.exchangeCode(w, r)
	case s.face.debugTokenPath:
		s.debugToken(w, r)
	case s.face.mePath:
		s.me(w, r)
	default:
		if isVersioned(r.URL.Path) {
			switch strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[1] {
			case "access_token", "refresh_access_token", "oauth/access_token":
				// Token endpoints have no version.
				writeGraphError(w, http.StatusBadRequest, graphError{
					Message: "Unsupported request - method type: " + strings.ToLower(r.Method),
					Type:    s.face.apiException, Code: 100,
				})
				return
			}
		}
		s.writeUnsupported(w, r)
	}
}

func isVersioned(path string) bool {
	return strings.HasPrefix(path, "/v") && strings.Count(path, "/") >= 2
}
