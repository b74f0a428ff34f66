package threadsfake

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"
)

// InProcessDomain is where the hosts of a fake started with InProcess
// are. The .invalid top-level domain is reserved never to resolve (RFC
// 2606): a client that was not given the fake's Client cannot reach
// anything by mistake.
const InProcessDomain = "meta-simulation.invalid"

// inProcessURL is the base URL of an InProcess fake's Graph host, or of its
// OAuth host: one of Threads' or Instagram's, so that one client can serve
// both fakes (InProcessClient).
func (s *Server) inProcessURL(oauth bool) string {
	host := "graph.threads"
	switch {
	case s.face.separateOAuth && oauth:
		host = "api.instagram"
	case s.face.separateOAuth:
		host = "graph.instagram"
	}
	return "https://" + host + "." + InProcessDomain
}

// InProcess makes the fake listen nowhere: Client answers its URL and
// OAuthURL by calling the fake's handler in the calling goroutine. It is
// the sandbox's Meta, which must not touch the network. Its URL is
// https://graph.threads.meta-simulation.invalid (graph.instagram… with
// Instagram, whose OAuthURL is api.instagram…). A Reset failure
// ends the request with an error, as a reset connection does.
func InProcess() Option { return func(s *Server) { s.inProcess = true } }

// errAborted is what a request gets when the fake drops it (Hang after its
// context ends, Reset, a cut latency wait).
var errAborted = errors.New("threadsfake: connection aborted")

// serveInProcess answers r with the fake's handler (its OAuth host's when
// oauth), in the calling goroutine.
func (s *Server) serveInProcess(r *http.Request, oauth bool) (resp *http.Response, err error) {
	if r.Body != nil {
		defer r.Body.Close()
	}
	rec := httptest.NewRecorder()
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			resp, err = nil, errAborted
		}
	}()
	s.handler(oauth).ServeHTTP(rec, r)
	resp = rec.Result()
	resp.Request = r
	return resp, nil
}

// InProcessClient is a client for several InProcess fakes at once (the
// Threads one and the Instagram one), each answering at its own hosts; a
// request for any other host is an error, never sent.
func InProcessClient(fakes ...*Server) *http.Client {
	type host struct {
		s     *Server
		oauth bool
	}
	hosts := map[string]host{}
	for _, f := range fakes {
		// A Threads fake exchanges codes on its Graph host.
		hosts[f.OAuthURL()] = host{f, f.OAuthURL() != f.URL()}
		hosts[f.URL()] = host{f, false}
	}
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		h, ok := hosts[r.URL.Scheme+"://"+r.URL.Host]
		if !ok {
			if r.Body != nil {
				r.Body.Close()
			}
			return nil, fmt.Errorf("threadsfake: no simulated host %s", r.URL.Host)
		}
		return h.s.serveInProcess(r, h.oauth)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// SetOutage makes every request that no queued failure takes fail with f,
// until SetOutage(0): Meta down for a while, as long as the caller says.
func (s *Server) SetOutage(f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = f
}

// DailyCallLimit bounds each user's calls over a rolling 24 hours of the
// fake's clock, as Meta's rate limit does ("per app and user over a
// rolling 24 hours": 4800 times the user's impressions, floored at 10, so
// 48,000 for a user with few): a call over it is refused with code 4 and
// a Retry-After of when the oldest call in the window leaves it. A call is
// counted for the user whose token it carries as access_token.
func DailyCallLimit(n int) Option { return func(s *Server) { s.callsPerDay = n } }

// MetaDailyCallFloor is Meta's smallest documented per-user daily limit.
const MetaDailyCallFloor = 4800 * 10

// overDailyLimitLocked counts r against its user's window and reports
// whether it is over the limit, and for how long.
func (s *Server) overDailyLimitLocked(r *http.Request) (bool, time.Duration) {
	if s.callsPerDay == 0 {
		return false, 0
	}
	t, ok := s.tokens[r.URL.Query().Get("access_token")]
	if !ok {
		return false, 0
	}
	now := s.nowLocked()
	window := s.callTimes[t.userID]
	for len(window) > 0 && !window[0].After(now.Add(-24*time.Hour)) {
		window = window[1:]
	}
	if len(window) >= s.callsPerDay {
		s.callTimes[t.userID] = window
		return true, window[0].Add(24 * time.Hour).Sub(now)
	}
	s.callTimes[t.userID] = append(window, now)
	return false, 0
}

// writeRateLimited answers as Meta does when an app and user pass their
// limit.
func writeRateLimited(w http.ResponseWriter, retry time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(retry.Round(time.Second)/time.Second)))
	writeGraphError(w, http.StatusBadRequest, graphError{
		Message: "(#4) Application request limit reached",
		Type:    "OAuthException", Code: 4, Transient: true,
	})
}
