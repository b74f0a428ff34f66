package threadsfake

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
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
	// error. A revoked Threads token has been seen answering it.
	Unsupported
	// PermissionMissing answers 403 with code 10: the app lacks a
	// permission.
	PermissionMissing
	// PermissionDenied answers 403 with code 200: the user did not grant a
	// permission.
	PermissionDenied
)

var failureNames = map[Failure]string{
	HTML5xx: "HTML5xx", Transient: "Transient", RateLimited: "RateLimited",
	Expired: "Expired", Revoked: "Revoked", InvalidToken: "InvalidToken",
	FlatError: "FlatError", EmptyToken: "EmptyToken", NonJSON200: "NonJSON200",
	ZeroExpiry: "ZeroExpiry", Hang: "Hang", Reset: "Reset", Unsupported: "Unsupported",
	PermissionMissing: "PermissionMissing", PermissionDenied: "PermissionDenied",
}

// Failures lists the failures a client classifies from one answer, for
// table tests of clients.
func Failures() []Failure {
	return []Failure{HTML5xx, Transient, RateLimited, Expired, Revoked, InvalidToken,
		FlatError, EmptyToken, NonJSON200, ZeroExpiry, Hang, Reset, Unsupported}
}

// PermissionFailures lists the refusals for a missing permission. A client
// classifies them as neither temporary nor a token error; what they mean
// for the account (a new login granting the permission) is decided above
// it, in graph.Refresher.
func PermissionFailures() []Failure {
	return []Failure{PermissionMissing, PermissionDenied}
}

func (f Failure) String() string {
	if n, ok := failureNames[f]; ok {
		return n
	}
	return "Failure(" + strconv.Itoa(int(f)) + ")"
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
		if r.URL.Path == s.face.mePath {
			writeJSON(w, http.StatusOK, s.meAnswer("", "", []string{"username"}))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"access_token": "", "token_type": "bearer", "expires_in": s.expiresIn})
	case NonJSON200:
		writeHTML(w, http.StatusOK)
	case ZeroExpiry:
		writeJSON(w, http.StatusOK, map[string]any{"access_token": s.face.tokenPrefix + randomBase62(180), "token_type": "bearer", "expires_in": 0})
	case Hang:
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		panic(http.ErrAbortHandler)
	case Reset:
		reset(w)
	case Unsupported:
		s.writeUnsupported(w, r)
	case PermissionMissing:
		writeGraphError(w, http.StatusForbidden, graphError{
			Message: "(#10) Application does not have permission for this action",
			Type:    "OAuthException", Code: 10,
		})
	case PermissionDenied:
		writeGraphError(w, http.StatusForbidden, graphError{
			Message: "(#200) Permissions error",
			Type:    "OAuthException", Code: 200,
		})
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
	if errors.Is(err, http.ErrNotSupported) {
		// InProcess: no connection to reset; the request ends in an error.
		panic(http.ErrAbortHandler)
	}
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
