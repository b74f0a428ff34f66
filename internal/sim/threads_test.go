package sim

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// Meta's rules for long-lived tokens (/work/shared/threads-api.md, from
// Meta's "Long-Lived Access Tokens" page).
const (
	// tokenLife is how long a long-lived token lives after it was issued.
	tokenLife = 60 * 24 * time.Hour
	// expiresIn is the expires_in Meta answers, a little under 60 days; a
	// refreshed token lives exactly this long.
	expiresIn = 5183944
	// minRefreshAge is the age a token must reach before Meta refreshes it.
	minRefreshAge = 24 * time.Hour
	// minRetryWait is the shortest wait after a rate-limited answer that
	// counts as backing off (Meta: "retry later with backoff"). It is the
	// shortest of the engine's jittered first waits: half of its one-second
	// RetryBase.
	minRetryWait = 500 * time.Millisecond
	// tokenPrefix starts every token the model issues. No other text the
	// simulation produces contains it, so finding it in output is a leak.
	tokenPrefix = "THAA"
)

// token is one long-lived token as Meta knows it.
type token struct {
	value   string
	account string
	issued  time.Time
	expires time.Time
	// parent is the token whose refresh issued this one; nil for a token a
	// person got by logging in.
	parent *token
	// retired: refreshed in an account whose old tokens stop working then,
	// at retiredAt.
	retired   bool
	retiredAt time.Time
	// asked holds the days (since the run's start) on which a refresh of it
	// reached Meta; answered, the times Meta answered one by its rules
	// rather than with an injected failure.
	asked    map[int]bool
	answered []time.Time
	// What the engine can know of its issue time (invariant 2): the
	// payload it is stored in records it (the engine writes a refreshed
	// token's clocks into a JSON payload), the state recorded it (seen at
	// an inspection between passes), or Meta's inspection told it to the
	// pass (inspected, by pass).
	clockInPayload, recorded bool
	inspected                map[int]bool
	// children are the tokens refreshes of it issued, in order; pass is
	// the pass a token was issued to (delivered: it got the answer; else it
	// gave up on it), and stored says a version holding it was added
	// (invariants 10 and 11).
	children          []*token
	pass              *actor
	delivered, stored bool
}

// model is Meta's side of the simulation: it issues tokens, enforces their
// rules, records what a correct client must never do, and answers the
// refresh endpoint with the payloads Meta documents. It is an http.Handler,
// served in-process by transport, so the engine talks to it through the real
// threads.Client: the client's classification and scrubbing are part of
// what is simulated.
type model struct {
	clock *clock
	// retire lists the accounts in which a refresh kills the old token
	// (Meta does not say it keeps working).
	retire map[string]bool

	mu     sync.Mutex
	rng    *rand.Rand
	tokens map[string]*token
	traces int
	// limited is when each pass last got a rate-limited answer, by account.
	limited map[passAccount]time.Time
	// reauth records, by actor, the accounts whose refresh Meta refused
	// with code 190: that pass must report needs_reauth (invariant 5).
	reauth map[int]map[string]bool
	// broken holds invariants 2 and 7, broken by a call, in call order.
	broken []violation
	// clocks is Meta's side of each token's clocks: testers, private
	// profiles' data-access grants, short lives (clocks_test.go).
	clocks metaClocks
	// fresh holds the tokens issued since takeFresh was last called, for
	// the output scan.
	fresh     []string
	refreshes int
	// issued holds, by pass, the tokens Meta issued to it (invariant 10).
	issued map[int][]*token
}

func newModel(clk *clock, seed uint64, retire map[string]bool, clocks metaClocks) *model {
	return &model{
		clock:   clk,
		retire:  retire,
		rng:     rand.New(rand.NewPCG(seed, streamTokens)),
		tokens:  map[string]*token{},
		limited: map[passAccount]time.Time{},
		reauth:  map[int]map[string]bool{},
		clocks:  clocks,
		issued:  map[int][]*token{},
	}
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// issueLocked makes a new token, valid life from now.
func (m *model) issueLocked(account string, parent *token, now time.Time, life time.Duration) *token {
	b := []byte(tokenPrefix)
	for range 60 {
		b = append(b, base62[m.rng.IntN(len(base62))])
	}
	t := &token{value: string(b), account: account, issued: now, expires: now.Add(life), parent: parent, asked: map[int]bool{}, inspected: map[int]bool{}}
	m.tokens[t.value] = t
	m.fresh = append(m.fresh, t.value)
	return t
}

// login is a person logging in and exchanging the code for a long-lived
// token (which Meta also answers with expires_in), issued at. A login
// renews the app's access to a private profile's data.
func (m *model) login(account string, at time.Time) *token {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.grantLocked(account, at)
	return m.issueLocked(account, nil, at, expiresIn*time.Second)
}

func (m *model) lookup(value string) *token {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tokens[value]
}

// dead reports whether t no longer works at now, and since when.
func (m *model) dead(t *token, now time.Time) (dead, retired bool, since time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case t.retired && !t.retiredAt.After(now):
		return true, true, t.retiredAt
	case !now.Before(t.expires):
		return true, false, t.expires
	}
	return false, false, time.Time{}
}

// unreachable reports whether, over [from, to), a refresh of t reached
// Meta on every day and Meta answered none of them by its rules: Threads
// was down whenever the engine asked.
func (m *model) unreachable(t *token, from, to time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for d := day(from); d <= day(to.Add(-time.Nanosecond)); d++ {
		if !t.asked[d] {
			return false
		}
	}
	for _, a := range t.answered {
		if !a.Before(from) && a.Before(to) {
			return false
		}
	}
	return true
}

// day numbers the days of the run.
func day(t time.Time) int { return int(t.Sub(start) / (24 * time.Hour)) }

// accountOf names the account a token belongs to, or "?" for a string Meta
// never issued.
func (m *model) accountOf(value string) string {
	if t := m.lookup(value); t != nil {
		return t.account
	}
	return "?"
}

// takeBroken returns the protocol violations recorded since it was last
// called.
func (m *model) takeBroken() []violation {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.broken
	m.broken = nil
	return b
}

func (m *model) takeFresh() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.fresh
	m.fresh = nil
	return f
}

func (m *model) breakLocked(inv int, now time.Time, format string, args ...any) {
	m.broken = append(m.broken, violation{inv: inv, at: now, what: fmt.Sprintf(format, args...)})
}

// passAccount is one pass's work on one account.
type passAccount struct {
	pass    int
	account string
}

// arrive records pass's refresh call for account reaching Meta, whatever
// it is answered, and checks that the pass does not retry a rate-limited
// call without waiting (invariant 7). Only the engine's own retries are
// held to it: Cloud Scheduler's wait at least a minute, and a duplicate
// delivery is not a retry the engine chose (see the package comment).
func (m *model) arrive(pass int, value string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tokens[value]
	if t == nil {
		return
	}
	account := t.account
	t.asked[day(now)] = true
	m.replacedLocked(t, pass, now)
	if last, ok := m.limited[passAccount{pass, account}]; ok && now.Sub(last) < minRetryWait {
		m.breakLocked(7, now, "account %s: pass %d retried a rate-limited refresh %v after its answer, without backing off", account, pass, now.Sub(last))
	}
}

func (m *model) rateLimited(pass int, account string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.limited[passAccount{pass, account}] = now
}

// ServeHTTP answers GET /refresh_access_token as Meta does, and GET
// /v1.0/me, which the client asks after a refusal whose code leaves the
// token's fate open.
func (m *model) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.serve(w, r) }

// serve is ServeHTTP, returning the token a refresh issued, if any, and
// whether Meta refused a token as too young (the engine's young try).
func (m *model) serve(w http.ResponseWriter, r *http.Request) (issued *token, young bool) {
	now := m.clock.Now()
	if r.Method == http.MethodGet && r.URL.Path == "/v1.0/me" {
		m.me(w, r, now)
		return nil, false
	}
	if r.Method == http.MethodGet && r.URL.Path == pathDebugToken {
		m.debugToken(w, r, now)
		return nil, false
	}
	if r.Method != http.MethodGet || r.URL.Path != pathRefresh {
		m.graphError(w, http.StatusBadRequest, graphError{Message: "Unsupported " + r.Method + " request.", Type: "THApiException", Code: 100, Subcode: 33})
		return nil, false
	}
	q := r.URL.Query()
	if q.Get("grant_type") != "th_refresh_token" {
		m.graphError(w, http.StatusBadRequest, graphError{Message: "Unsupported grant_type.", Type: "OAuthException", Code: 100})
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tokens[q.Get("access_token")]
	if t != nil {
		t.answered = append(t.answered, now)
	}
	switch {
	case t == nil || t.retired:
		// Meta does not document what a replaced token answers; this is
		// its answer for a token it does not know.
		m.refusedLocked(r, t)
		m.graphErrorLocked(w, http.StatusBadRequest, graphError{Message: "Invalid OAuth access token - Cannot parse access token", Type: "OAuthException", Code: 190})
	case !now.Before(t.expires):
		m.refusedLocked(r, t)
		m.graphErrorLocked(w, http.StatusBadRequest, graphError{
			Message: "Error validating access token: Session has expired on " + t.expires.In(pacific).Format("Monday, 02-Jan-06 15:04:05 MST") + ".",
			Type:    "OAuthException", Code: 190, Subcode: 463,
		})
	case m.accessEndedLocked(t.account, now):
		// The app may no longer read the user's data: a refresh needs the
		// permission granted again (the model's answer; Meta documents none).
		m.graphErrorLocked(w, http.StatusForbidden, graphError{Message: "(#200) The user's permission for this app has expired", Type: "OAuthException", Code: 200})
	case now.Sub(t.issued) < minRefreshAge:
		// Undocumented, so the product must never ask for a token it can
		// know is that young: invariant 2. One whose age nobody told it it
		// may try once (youngTries).
		if pass := actorOf(r.Context()); t.clockInPayload || t.recorded || (pass != nil && t.inspected[pass.id]) {
			m.breakLocked(2, now, "account %s: a token %v old, whose issue time the engine could know, was sent to be refreshed", t.account, now.Sub(t.issued))
		}
		m.clocks.youngTries++
		m.graphErrorLocked(w, http.StatusBadRequest, graphError{Message: "Unsupported request: the token is too new to be refreshed.", Type: "OAuthException", Code: 100})
		return nil, true
	default:
		life := m.lifeLocked()
		next := m.issueLocked(t.account, t, now, time.Duration(life)*time.Second)
		next.clockInPayload = m.clocks.json[t.account]
		t.children = append(t.children, next)
		if m.retire[t.account] {
			t.retired, t.retiredAt = true, now
		}
		m.refreshes++
		threadsfake.WriteJSON(w, http.StatusOK, map[string]any{"access_token": next.value, "token_type": "bearer", "expires_in": life})
		return next, false
	}
	return nil, false
}

// pathRefresh is the refresh endpoint's path.
const pathRefresh = "/refresh_access_token"

// me answers GET /v1.0/me: the user of a live token, code 190 otherwise.
func (m *model) me(w http.ResponseWriter, r *http.Request, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tokens[r.URL.Query().Get("access_token")]
	if t == nil || t.retired || !now.Before(t.expires) {
		m.graphErrorLocked(w, http.StatusBadRequest, graphError{Message: "Invalid OAuth access token - Cannot parse access token", Type: "OAuthException", Code: 190})
		return
	}
	threadsfake.WriteJSON(w, http.StatusOK, map[string]any{"id": "1789" + t.account, "username": t.account})
}

// refusedLocked records that the pass making r got code 190 for t.
func (m *model) refusedLocked(r *http.Request, t *token) {
	a := actorOf(r.Context())
	if a == nil || t == nil {
		return
	}
	if m.reauth[a.id] == nil {
		m.reauth[a.id] = map[string]bool{}
	}
	m.reauth[a.id][t.account] = true
}

// refused reports whether Meta answered actor id's refresh of account with
// code 190, and forgets it.
func (m *model) refused(id int, account string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	got := m.reauth[id][account]
	delete(m.reauth[id], account)
	if len(m.reauth[id]) == 0 {
		delete(m.reauth, id)
	}
	return got
}

// pacific is the zone Meta writes expiry times in.
var pacific = time.FixedZone("PST", -8*60*60)

// graphError is the Graph API's error object, shaped as the Threads fake
// shapes it.
type graphError = threadsfake.GraphError

func (m *model) graphError(w http.ResponseWriter, status int, e graphError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.graphErrorLocked(w, status, e)
}

func (m *model) graphErrorLocked(w http.ResponseWriter, status int, e graphError) {
	m.traces++
	e.FBTraceID = fmt.Sprintf("Asim%08d", m.traces)
	threadsfake.WriteJSON(w, status, map[string]graphError{"error": e})
}

// failure answers pass's call for account with an injected failure. A
// rate limit is remembered for invariant 7 when limit is set (a refresh).
func (m *model) failure(w http.ResponseWriter, pass int, account string, f faultKind, limit bool) {
	if limit {
		switch f {
		case faultRateApp, faultRateUser, faultRateCustom:
			m.rateLimited(pass, account, m.clock.Now())
		}
	}
	switch f {
	case faultThreadsHTML:
		// A proxy's page in an outage.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = fmt.Fprint(w, "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>\n")
	case faultThreads5xx:
		m.graphError(w, http.StatusServiceUnavailable, graphError{Message: "An unexpected error has occurred. Please retry your request later.", Type: "OAuthException", Code: 2, Transient: true})
	case faultRateApp:
		m.graphError(w, http.StatusBadRequest, graphError{Message: "(#4) Application request limit reached", Type: "OAuthException", Code: 4, Transient: true})
	case faultRateUser:
		m.graphError(w, http.StatusBadRequest, graphError{Message: "(#17) User request limit reached", Type: "OAuthException", Code: 17, Subcode: 2446079, Transient: true})
	case faultRateCustom:
		m.graphError(w, http.StatusBadRequest, graphError{Message: "(#613) Calls to this api have exceeded the rate limit.", Type: "OAuthException", Code: 613})
	default:
		panic("sim: no answer for fault " + string(f))
	}
}

// transport is the http.RoundTripper of the engine's threads.Client: no
// sockets, every request passes the turnstile as a call (calls_test.go),
// and gets the model's answer or the fault the driver chose for it. Meta
// handles the request when it lands; its answer reaches the client when
// the call's time is up, unless the request's context ends first (the
// client's per-request timeout, or the engine's own deadline or
// cancellation). A timeout or a lost answer never comes: the client waits
// until its context ends.
type transport struct{ s *sim }

func (tr transport) RoundTrip(r *http.Request) (*http.Response, error) {
	s, m := tr.s, tr.s.model
	// An inspection is about input_token; it is made with another account's
	// token when the deployment names an inspector.
	o, about := opThreads, r.URL.Query().Get("access_token")
	if r.URL.Path == pathDebugToken {
		o, about = opInspect, r.URL.Query().Get("input_token")
	}
	account := m.accountOf(about)
	ctx := r.Context()
	f := s.takeOff(ctx, account, o, "")
	if f.v.crash {
		return nil, errCrashed
	}
	pass := actorOf(ctx)
	refresh := o == opThreads && r.URL.Path == pathRefresh
	if refresh {
		pass.askedMeta(account)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err() // the client sends nothing
	}
	if f.v.land > 0 {
		if f.waitUntil(f.v.land) {
			if f.next(phaseAnswer) {
				return nil, errCrashed
			}
			return nil, ctx.Err()
		}
		if f.next(phaseLand) {
			return nil, errCrashed
		}
	}
	now := m.clock.Now()
	if o == opThreads {
		m.arrive(pass.id, about, now)
	}
	rec := httptest.NewRecorder()
	var issued *token
	answers := true
	switch f.v.fault {
	case "":
		var young bool
		issued, young = m.serve(rec, r)
		if young {
			pass.youngRefusal(account)
		}
	case faultThreadsTimeout, faultThreadsLost:
		if f.v.fault == faultThreadsLost && o == opThreads {
			// Meta refreshed the token; its answer never arrives.
			m.serve(rec, r)
		}
		answers = false
	default:
		m.failure(rec, pass.id, account, f.v.fault, o == opThreads)
	}
	var cut bool
	if answers {
		cut = f.waitUntil(f.v.latency)
	} else {
		f.waitForEnd()
	}
	if f.next(phaseAnswer) {
		return nil, errCrashed // a token issued dies with the pass
	}
	if !answers || cut {
		if issued != nil && time.Since(f.v.now) < threadsTimeout {
			// Meta answered in time; the engine hung up first.
			m.issuedTo(issued, pass, false)
		}
		return nil, ctx.Err()
	}
	if issued != nil {
		m.issuedTo(issued, pass, true)
	}
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}
