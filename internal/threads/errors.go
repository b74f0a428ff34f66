package threads

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Sentinel errors for errors.Is. An error is at most one of ErrNeedsReauth
// and ErrTransient; one that is neither will fail the same way if sent
// again.
var (
	// ErrNeedsReauth means Threads no longer accepts the token (code 190 or
	// 102): only a person logging in again helps.
	ErrNeedsReauth = errors.New("Threads no longer accepts the token; a person must log in again")
	// ErrTransient means the same request may succeed later: a network
	// failure, a timeout, an outage, a rate limit.
	ErrTransient = errors.New("temporary Threads failure")
	// ErrBadAnswer means Threads answered success with a body that holds no
	// usable result (no token, a non-positive expiry, not JSON).
	ErrBadAnswer = errors.New("unusable answer from Threads")
)

// redacted replaces secrets in error text.
const redacted = "[REDACTED]"

// APIError is an error answer of the Graph API, or a non-2xx answer without
// a JSON body.
type APIError struct {
	HTTPStatus int
	// Type is "OAuthException", "THApiException", ...
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
}

// Error reads like "Threads: token expired (code 190/463): Error validating
// access token: ...".
func (e *APIError) Error() string {
	if e.Code == 0 && e.Type == "" {
		if e.Message != "" {
			return "Threads: " + e.Message
		}
		return fmt.Sprintf("Threads: HTTP %d", e.HTTPStatus)
	}
	var b strings.Builder
	b.WriteString("Threads: ")
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
		case 493:
			return "user inactive for 90 days"
		}
		return "token invalid"
	case 102:
		return "session key invalid"
	case 1, 2:
		return "temporary Threads error"
	case 4, 17, 32, 613:
		return "rate limited"
	case 100:
		return "unsupported request"
	case 101:
		return "app credentials rejected"
	case 10:
		return "permission missing"
	}
	if e.Code >= 200 && e.Code <= 299 {
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

// apiErrorOf builds the error of an answer from its status and body. Both
// the Graph shape {"error":{...}} and the flat shape {"error_type", "code",
// "error_message"} are understood.
func apiErrorOf(status int, obj map[string]json.RawMessage, isObject bool, rd redactor) *APIError {
	e := &APIError{HTTPStatus: status}
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

func isJSONObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// stringField returns obj[key] when it is a JSON string.
func stringField(obj map[string]json.RawMessage, key string) (string, bool) {
	raw, ok := obj[key]
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// intField returns obj[key] when it is an integer, as a JSON number or as a
// string holding one.
func intField(obj map[string]json.RawMessage, key string) (int64, bool) {
	raw, ok := obj[key]
	if !ok {
		return 0, false
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		text = string(bytes.TrimSpace(raw))
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		// 5183944.0 is still a number of seconds.
		f, ferr := strconv.ParseFloat(text, 64)
		if ferr != nil || math.IsNaN(f) || f > 1<<62 || f < -(1<<62) {
			return 0, false
		}
		return int64(f), true
	}
	return n, true
}

func intOr0(obj map[string]json.RawMessage, key string) int {
	n, _ := intField(obj, key)
	return int(n)
}

// boolField returns obj[key] when it is true or "true".
func boolField(obj map[string]json.RawMessage, key string) bool {
	switch string(bytes.TrimSpace(obj[key])) {
	case "true", `"true"`:
		return true
	}
	return false
}

// decodeID reads an ID sent as a JSON string or a JSON integer, keeping the
// integer's text so that no digit is lost to float64.
func decodeID(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	}
	if string(raw) == "null" {
		return "", nil
	}
	text := string(raw)
	digits := strings.TrimPrefix(text, "-")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return "", errors.New("neither a string nor an integer")
	}
	return text, nil
}
