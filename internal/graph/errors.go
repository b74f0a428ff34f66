package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Sentinel errors for errors.Is. An error is at most one of ErrNeedsReauth
// and ErrTransient; one that is neither will fail the same way if sent
// again.
var (
	// ErrNeedsReauth means the platform no longer accepts the token (code
	// 190 or 102; through Refresher also a dead token or a missing
	// permission): only a person logging in again helps.
	ErrNeedsReauth = errors.New("the platform no longer accepts the token; a person must log in again")
	// ErrTransient means the same request may succeed later: a network
	// failure, a timeout, an outage, a rate limit.
	ErrTransient = errors.New("temporary Graph API failure")
	// ErrBadAnswer means the platform answered success with a body that
	// holds no usable result (no token, a non-positive expiry, not JSON).
	ErrBadAnswer = errors.New("unusable answer from the Graph API")
)

// redacted replaces secrets in error text.
const redacted = "[REDACTED]"

// APIError is an error answer of the Graph API, or a non-2xx answer without
// a JSON body.
type APIError struct {
	// Platform names the platform that answered ("Threads"); errors start
	// with it.
	Platform   string
	HTTPStatus int
	// Type is "OAuthException", "THApiException", "IGApiException", ...
	Type    string
	Code    int
	Subcode int
	// Message is Meta's text, with any secret that was sent removed.
	Message string
	// Transient is Meta's is_transient flag. It is also set for a non-2xx
	// answer whose body is not JSON, such as a proxy's error page.
	Transient bool
	// FBTraceID identifies the request for Meta's support.
	FBTraceID string
	// RetryAfter is how long the answer's Retry-After asked to wait before
	// the next attempt; zero when it asked nothing.
	RetryAfter time.Duration
}

// RetryAfter returns how long err's answer asked to wait before trying
// again (its Retry-After), or zero.
func RetryAfter(err error) time.Duration {
	var e *APIError
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// Error reads like "Instagram: token expired (code 190/463): Error
// validating access token: ...".
func (e *APIError) Error() string {
	var b strings.Builder
	if e.Platform != "" {
		b.WriteString(e.Platform)
		b.WriteString(": ")
	}
	if e.Code == 0 && e.Type == "" {
		if e.Message != "" {
			b.WriteString(e.Message)
		} else {
			fmt.Fprintf(&b, "HTTP %d", e.HTTPStatus)
		}
		return b.String()
	}
	b.WriteString(e.phrase())
	if e.Code != 0 {
		fmt.Fprintf(&b, " (code %d", e.Code)
		if e.Subcode != 0 {
			fmt.Fprintf(&b, "/%d", e.Subcode)
		}
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// phrase names what the code means to the person reading the error.
func (e *APIError) phrase() string {
	switch e.Code {
	case 190:
		switch e.Subcode {
		case 463:
			return "token expired"
		case 460:
			return "session invalidated (password changed or security reset)"
		case 458:
			return "app removed by the user"
		case 459:
			return "user checkpointed"
		case 464:
			return "user not confirmed"
		case 493:
			return "user inactive for 90 days"
		}
		return "token invalid"
	case 102:
		return "session key invalid"
	case 1, 2:
		if e.Platform == "" {
			return "temporary error"
		}
		return "temporary " + e.Platform + " error"
	case 4, 17, 32, 613:
		return "rate limited"
	case 100:
		return "unsupported request"
	case 101:
		return "app credentials rejected"
	}
	if e.permissionMissing() {
		return "permission missing"
	}
	if e.Type != "" {
		return e.Type
	}
	return "error"
}

// Is maps Graph codes to ErrNeedsReauth and ErrTransient. A token error
// wins over every sign of a temporary failure: retrying it cannot help.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNeedsReauth:
		return e.needsReauth()
	case ErrTransient:
		return !e.needsReauth() && e.transient()
	}
	return false
}

func (e *APIError) needsReauth() bool {
	return e.Code == 190 || e.Code == 102
}

func (e *APIError) transient() bool {
	switch e.Code {
	case 1, 2, 4, 17, 32, 613:
		return true
	}
	return e.Transient || e.HTTPStatus >= 500 || e.HTTPStatus == 429
}

// permissionMissing reports the codes of a permission the app lacks or the
// user did not grant: 10 and 200-299.
func (e *APIError) permissionMissing() bool {
	return e.Code == 10 || (e.Code >= 200 && e.Code <= 299)
}

// apiErrorOf builds the error of an answer from its status and body. Both
// the Graph shape {"error":{...}} and the flat shape {"error_type", "code",
// "error_message"} are understood.
func apiErrorOf(platform string, status int, obj map[string]json.RawMessage, isObject bool, rd redactor) *APIError {
	e := &APIError{Platform: platform, HTTPStatus: status}
	if !isObject {
		e.Message = fmt.Sprintf("HTTP %d with a non-JSON body", status)
		e.Transient = true
		return e
	}
	switch {
	case isJSONObject(obj["error"]):
		var inner map[string]json.RawMessage
		_ = json.Unmarshal(obj["error"], &inner)
		e.Message, _ = stringField(inner, "message")
		e.Type, _ = stringField(inner, "type")
		e.Code = intOr0(inner, "code")
		e.Subcode = intOr0(inner, "error_subcode")
		e.Transient = boolField(inner, "is_transient")
		e.FBTraceID, _ = stringField(inner, "fbtrace_id")
	case obj["error_type"] != nil || obj["error_message"] != nil:
		e.Type, _ = stringField(obj, "error_type")
		e.Code = intOr0(obj, "code")
		e.Message, _ = stringField(obj, "error_message")
	case obj["error"] != nil:
		// The OAuth 2 shape: {"error": "invalid_request", ...}.
		e.Type, _ = stringField(obj, "error")
		e.Message, _ = stringField(obj, "error_description")
	default:
		e.Message = fmt.Sprintf("HTTP %d with a JSON body that is not an error", status)
	}
	e.Message = rd.redact(e.Message)
	e.Type = rd.redact(e.Type)
	e.FBTraceID = rd.redact(e.FBTraceID)
	return e
}

// requestError is a request that got no answer, or a request that could
// not be built. Its text is scrubbed; its causes stay reachable by
// errors.Is and errors.As.
type requestError struct {
	// op is the method and the URL without its query.
	op        string
	msg       string
	causes    []error
	transient bool
}

func (e *requestError) Error() string {
	return e.op + ": " + e.msg
}

func (e *requestError) Unwrap() []error {
	errs := e.causes
	if e.transient {
		errs = append(errs[:len(errs):len(errs)], ErrTransient)
	}
	return errs
}

// redactor removes the secrets of one request from text.
type redactor struct {
	olds []string
}

// newRedactor removes each secret, raw and URL-encoded, and the encoded
// query and form that carried them.
func newRedactor(secrets []string, encoded ...string) redactor {
	var olds []string
	add := func(s string) {
		if s != "" {
			olds = append(olds, s)
		}
	}
	for _, s := range secrets {
		add(s)
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
	}
	for _, s := range encoded {
		add(s)
	}
	// Longest first, so that a secret inside another cannot leave a piece
	// of the longer one behind.
	sort.Slice(olds, func(i, j int) bool { return len(olds[i]) > len(olds[j]) })
	return redactor{olds: olds}
}

func (r redactor) redact(s string) string {
	for _, old := range r.olds {
		s = strings.ReplaceAll(s, old, redacted)
	}
	return s
}
