package threadsfake

import (
	"net/http"
	"time"
)

// DataAccessLifetime is how long the app may read a user's data after the
// user logs in (Meta: permissions granted by users with private profiles
// are valid for 90 days; debug_token's example shows the same 90 days for
// every user).
const DataAccessLifetime = 90 * 24 * time.Hour

// Testers makes only these users Threads testers of the app: only their
// tokens may inspect tokens (debug_token's access_token). Without it every
// user is a tester, as an app's own developers are.
func Testers(userIDs ...string) Option {
	return func(s *Server) {
		s.testers = map[string]bool{}
		for _, id := range userIDs {
			s.testers[id] = true
		}
	}
}

// SetDataAccess sets when the app's access to the user's data ends, for
// every token of the user (data access is the user's grant, not a
// token's). A login moves it to 90 days after the login, unless it is
// already later.
func (s *Server) SetDataAccess(userID string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grants[userID] = until
}

// DataAccess is when the app's access to the user's data ends.
func (s *Server) DataAccess(userID string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.grants[userID]
}

// loginLocked records a login of the user at (zero: now): data access
// runs for DataAccessLifetime from it. Meta does not say whether a refresh
// extends data access; here only a login does. It returns the login time.
func (s *Server) loginLocked(userID string, at time.Time) time.Time {
	if at.IsZero() {
		at = s.nowLocked()
	}
	if until := at.Add(DataAccessLifetime); until.After(s.grants[userID]) {
		s.grants[userID] = until
	}
	return at
}

// dataAccessEndedLocked reports whether the app may no longer read t's
// user's data; a refresh and /me then need the permission granted again.
func (s *Server) dataAccessEndedLocked(t *tokenState, now time.Time) bool {
	until, ok := s.grants[t.userID]
	return ok && !now.Before(until)
}

// writeDataAccessEnded answers a call that needs the user's data once the
// app's access to it has ended. Meta documents no answer; this is the
// fake's: the permission error a refusal for a missing grant gives.
func writeDataAccessEnded(w http.ResponseWriter) {
	writeGraphError(w, http.StatusForbidden, graphError{
		Message: "(#200) The user's permission for this app has expired; the user must log in again",
		Type:    "OAuthException", Code: 200,
	})
}

// debugToken serves GET /v1.0/debug_token as Meta's "Debug Access Token"
// page documents it: access_token must be a tester's live token, and the
// answer describes input_token, {"data":{...}} with Unix times.
func (s *Server) debugToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.writeUnsupported(w, r)
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	inspector, ok := s.tokens[q.Get("access_token")]
	if !ok {
		writeInvalidToken(w)
		return
	}
	if s.refuseLocked(w, inspector, now) {
		return
	}
	if s.testers != nil && !s.testers[inspector.userID] {
		// Meta: "expect an error (shape not documented)". The fake's
		// choice: a permission refusal with code 100.
		writeGraphError(w, http.StatusBadRequest, graphError{
			Message: "(#100) The access token used to debug must belong to a Threads tester of the app.",
			Type:    "OAuthException", Code: 100,
		})
		return
	}
	t, ok := s.tokens[q.Get("input_token")]
	if !ok {
		// Graph's shape for a token it cannot parse: is_valid false, with
		// the error inside data.
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
			"error":    map[string]any{"code": 190, "message": "Invalid OAuth access token - Cannot parse access token"},
			"is_valid": false, "scopes": []string{},
		}})
		return
	}
	data := map[string]any{
		"type":        "USER",
		"application": "Threads API Test App",
		"expires_at":  t.expiresAt.Unix(),
		"is_valid":    s.usableLocked(t),
		"issued_at":   t.issuedAt.Unix(),
		"scopes":      []string{"threads_basic", "threads_content_publish"},
		"user_id":     t.userID,
	}
	if until, ok := s.grants[t.userID]; ok {
		data["data_access_expires_at"] = until.Unix()
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

// Answer is one answer to give as it is (AnswerNext): for answers Meta
// should never send, such as a redirect or an absurd expires_in.
type Answer struct {
	Status int
	Header http.Header
	Body   string
}

func (a *Answer) write(w http.ResponseWriter) {
	for k, vs := range a.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	}
	w.WriteHeader(a.Status)
	_, _ = w.Write([]byte(a.Body))
}

// AnswerNext makes the next n requests to endpoint (a path, or "" for any)
// get a instead of the fake's answer, queued with FailNext's failures.
func (s *Server) AnswerNext(endpoint string, a Answer, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.queue = append(s.queue, queued{path: endpoint, raw: &a})
	}
}
