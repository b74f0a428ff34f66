package threadsfake

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

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

var badSecretError = graphError{
	Message: "Error validating client secret.",
	Type:    "OAuthException", Code: 101,
}

func writeBadSecret(w http.ResponseWriter) {
	writeGraphError(w, http.StatusBadRequest, badSecretError)
}

func writeGrantType(w http.ResponseWriter, got string) {
	// The text is the fake's; the grant type is no secret.
	writeGraphError(w, http.StatusBadRequest, graphError{
		Message: fmt.Sprintf("Unsupported grant_type: %q", got),
		Type:    "OAuthException", Code: 100,
	})
}

func (s *Server) writeUnsupported(w http.ResponseWriter, r *http.Request) {
	object := strings.Trim(r.URL.Path, "/")
	if i := strings.LastIndex(object, "/"); i >= 0 {
		object = object[i+1:]
	}
	writeGraphError(w, http.StatusBadRequest, graphError{
		Message: fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation",
			strings.ToLower(r.Method), object),
		Type: s.face.apiException, Code: 100, Subcode: 33,
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
