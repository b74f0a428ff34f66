// Package payload reads and writes the secret payload that holds an account's
// token. Two shapes are accepted, because people store tokens both ways: a
// JSON object with a string "access_token" (other fields are kept as they
// are) or the bare token string. A new payload keeps the old one's shape.
//
// A JSON payload may name the token's platform in "platform"; without it,
// and for a bare token, the platform is Threads.
package payload

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Platforms a payload names in its "platform" field.
const (
	PlatformThreads   = "threads"
	PlatformInstagram = "instagram"
	// DefaultPlatform is the platform of a payload that names none.
	DefaultPlatform = PlatformThreads
)

// ErrInvalid marks a payload that breaks the shape rules. Its messages never
// quote the payload, which holds a token.
var ErrInvalid = errors.New("invalid token payload")

// Payload is a parsed secret payload.
type Payload struct {
	token    string
	platform string
	// fields is the JSON object, or nil for a bare token.
	fields map[string]json.RawMessage
}

// Parse checks b against the shape rules: a payload whose first non-blank
// byte is '{' must be a JSON object with a non-empty string access_token;
// anything else is a bare token, trimmed, non-empty, without inner whitespace
// or quotes.
func Parse(b []byte) (Payload, error) {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 {
		return Payload{}, fmt.Errorf("%w: the secret payload is empty", ErrInvalid)
	}
	if trimmed[0] == '{' {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &fields); err != nil {
			// The JSON error can quote bytes of the token: keep only its offset.
			var syn *json.SyntaxError
			if errors.As(err, &syn) {
				return Payload{}, fmt.Errorf("%w: the secret payload starts with '{' but is not valid JSON (error at byte %d)", ErrInvalid, syn.Offset)
			}
			return Payload{}, fmt.Errorf("%w: the secret payload starts with '{' but is not a JSON object", ErrInvalid)
		}
		raw, ok := fields["access_token"]
		if !ok {
			return Payload{}, fmt.Errorf("%w: the secret payload is a JSON object without an \"access_token\" field", ErrInvalid)
		}
		var token string
		if err := json.Unmarshal(raw, &token); err != nil {
			return Payload{}, fmt.Errorf("%w: \"access_token\" in the secret payload is not a string", ErrInvalid)
		}
		if strings.TrimSpace(token) == "" {
			return Payload{}, fmt.Errorf("%w: \"access_token\" in the secret payload is empty", ErrInvalid)
		}
		platform := DefaultPlatform
		if raw, ok := fields["platform"]; ok && string(bytes.TrimSpace(raw)) != "null" {
			if err := json.Unmarshal(raw, &platform); err != nil || strings.TrimSpace(platform) == "" {
				return Payload{}, fmt.Errorf("%w: \"platform\" in the secret payload is not a platform name such as %q", ErrInvalid, PlatformInstagram)
			}
			platform = strings.ToLower(strings.TrimSpace(platform))
		}
		return Payload{token: token, platform: platform, fields: fields}, nil
	}
	token := string(trimmed)
	if strings.ContainsAny(token, " \t\r\n\v\f\"'`") {
		return Payload{}, fmt.Errorf("%w: the secret payload is neither a JSON object nor a bare token (it has inner whitespace or quotes)", ErrInvalid)
	}
	return Payload{token: token, platform: DefaultPlatform}, nil
}

// Token returns the access token.
func (p Payload) Token() string { return p.token }

// Platform returns the platform the token belongs to, in lower case: the
// payload's "platform", or DefaultPlatform when it names none.
func (p Payload) Platform() string { return p.platform }

// JSON reports whether the payload is a JSON object.
func (p Payload) JSON() bool { return p.fields != nil }

// Field returns a string field of a JSON payload, or "".
func (p Payload) Field(name string) string {
	var s string
	if raw, ok := p.fields[name]; ok && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

// Refreshed returns the payload for a refreshed token in p's shape: a JSON
// object keeps every other field and gets the new access_token, token_type
// and expires_in, and the clocks the answer gives (issued_at, the time the
// refresher received it; expires_at, that plus expires_in; clocks_from
// "refresh"). data_access_expires_at becomes dataAccess when the refresher
// knows it, and otherwise stays as it was: Meta does not say that a
// refresh extends it, so the earlier clock is the safe one. A bare token
// stays bare.
func (p Payload) Refreshed(accessToken, tokenType string, expiresIn int64, receivedAt, dataAccess time.Time) ([]byte, error) {
	if p.fields == nil {
		return []byte(accessToken), nil
	}
	fields := make(map[string]any, len(p.fields)+6)
	for k, v := range p.fields {
		fields[k] = v
	}
	fields["access_token"] = accessToken
	if tokenType != "" {
		fields["token_type"] = tokenType
	}
	fields["expires_in"] = expiresIn
	fields[fieldIssuedAt] = receivedAt.Unix()
	fields[fieldExpiresAt] = receivedAt.Unix() + expiresIn
	fields[fieldClocksFrom] = ClocksFromRefresh
	if !dataAccess.IsZero() {
		fields[fieldDataAccess] = dataAccess.Unix()
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("encoding the refreshed payload: %w", err)
	}
	return b, nil
}

// New returns the payload a newly added Threads token is stored as.
func New(accessToken, userID, username string) []byte {
	return NewFor(DefaultPlatform, accessToken, userID, username)
}

// NewFor returns the payload a newly added token of the platform is stored
// as: {"platform","access_token","user_id","username"}. The default
// platform is left out, so that a Threads payload reads as it always has.
func NewFor(platform, accessToken, userID, username string) []byte {
	return NewWithClocks(platform, accessToken, userID, username, Clocks{})
}

// NewWithClocks is NewFor with the token's clocks as onboarding learned
// them (from Meta's inspection, or from the exchange's expires_in), so that
// the pass that adopts the version knows them even where it cannot ask
// Meta. Unknown clocks are left out.
func NewWithClocks(platform, accessToken, userID, username string, c Clocks) []byte {
	if platform == DefaultPlatform {
		platform = ""
	}
	b, _ := json.Marshal(struct {
		Platform            string `json:"platform,omitempty"`
		AccessToken         string `json:"access_token"`
		UserID              string `json:"user_id,omitempty"`
		Username            string `json:"username,omitempty"`
		IssuedAt            int64  `json:"issued_at,omitempty"`
		ExpiresAt           int64  `json:"expires_at,omitempty"`
		DataAccessExpiresAt int64  `json:"data_access_expires_at,omitempty"`
		ClocksFrom          string `json:"clocks_from,omitempty"`
	}{platform, accessToken, userID, username,
		unix(c.IssuedAt), unix(c.ExpiresAt), unix(c.DataAccessExpiresAt), c.clocksFrom()})
	return b
}

// MaxSize is the largest payload Secret Manager stores (64 KiB); the local
// store keeps the same limit, so that tokens move between the two.
const MaxSize = 64 << 10

// Room NewFor leaves beside the token for what /me answers: Meta's user IDs
// are numbers of about 17 digits and usernames at most 30 characters, far
// under these.
const (
	roomUserID   = 64
	roomUsername = 256
)

// TokenFits reports whether a payload made by NewFor for token, with any
// platform, user ID and username /me may answer, fits in MaxSize. It is
// checked before the token is sent anywhere, so that a token too large to
// store is refused before a call, not after (JSON escapes some characters
// to six bytes, so the length of the token alone does not tell).
func TokenFits(token string) bool {
	return len(NewFor(PlatformInstagram, token, strings.Repeat("9", roomUserID), strings.Repeat("x", roomUsername))) <= MaxSize
}
