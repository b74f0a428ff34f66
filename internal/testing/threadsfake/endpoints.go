package threadsfake

import (
	"net/http"
	"strings"
	"time"
)

// refresh serves GET /refresh_access_token.
func (s *Server) refresh(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.writeUnsupported(w, r)
		return
	}
	q := r.URL.Query()
	if g := q.Get("grant_type"); g != s.face.refreshGrant {
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
	if s.dataAccessEndedLocked(t, now) {
		writeDataAccessEnded(w)
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
	s.answerLongLivedLocked(w, t, now)
}

// exchange serves GET /access_token.
func (s *Server) exchange(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.writeUnsupported(w, r)
		return
	}
	q := r.URL.Query()
	if g := q.Get("grant_type"); g != s.face.exchangeGrant {
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
	s.answerLongLivedLocked(w, t, now)
}

// exchangeCode serves POST /oauth/access_token.
func (s *Server) exchangeCode(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.writeUnsupported(w, r)
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
		s.writeCodeRefusal(w, badSecretError)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	c, ok := s.codes[f.Get("code")]
	switch {
	case !ok:
		s.writeCodeRefusal(w, graphError{Message: "Invalid verification code format.", Type: "OAuthException", Code: 100})
		return
	case c.used:
		s.writeCodeRefusal(w, graphError{Message: "This authorization code has been used.", Type: "OAuthException", Code: 100})
		return
	case !now.Before(c.expiresAt):
		s.writeCodeRefusal(w, graphError{Message: "This authorization code has expired.", Type: "OAuthException", Code: 100})
		return
	case c.appID != s.appID || c.redirectURI != f.Get("redirect_uri"):
		s.writeCodeRefusal(w, graphError{
			Message: "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
			Type:    "OAuthException", Code: 100,
		})
		return
	}
	c.used = true
	now = s.loginLocked(c.userID, now)
	s.writeCodeAnswer(w, s.issueLocked(c.userID, c.username, ShortLivedLifetime, false, now), c.userID)
}

// me serves GET /v1.0/me (Threads) or /v26.0/me (Instagram).
func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.writeUnsupported(w, r)
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
	if s.dataAccessEndedLocked(t, s.nowLocked()) {
		writeDataAccessEnded(w)
		return
	}
	var fields []string
	for _, f := range strings.Split(q.Get("fields"), ",") {
		fields = append(fields, strings.TrimSpace(f))
	}
	writeJSON(w, http.StatusOK, s.meAnswer(t.userID, t.username, fields))
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

// answerLongLivedLocked issues a long-lived token to t's user and answers it
// as the refresh and exchange endpoints do. The token lives exactly the
// expires_in the answer gives (Meta: "use the value").
func (s *Server) answerLongLivedLocked(w http.ResponseWriter, t *tokenState, now time.Time) {
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": s.issueLocked(t.userID, t.username, time.Duration(s.expiresIn)*time.Second, true, now),
		"token_type":   "bearer",
		"expires_in":   s.expiresIn,
	})
}
