package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
)

// parseObject decodes data as a JSON object.
func parseObject(data []byte) (map[string]json.RawMessage, bool) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return nil, false
	}
	return obj, true
}

// firstOfData returns the first object of a {"data":[{...}]} answer, the
// shape Instagram's current documentation gives the code exchange, and obj
// itself for any other (flat) answer.
func firstOfData(obj map[string]json.RawMessage) map[string]json.RawMessage {
	var data []map[string]json.RawMessage
	if raw, ok := obj["data"]; ok && json.Unmarshal(raw, &data) == nil && len(data) > 0 && data[0] != nil {
		return data[0]
	}
	return obj
}

// MaxExpiresIn is the longest life, in seconds, an answer may give a
// token: 90 days. Meta's long-lived tokens live 60 days (expires_in about
// 5183944); a larger value is not a token's life but a broken answer (10^10
// seconds would put the expiry in another century).
const MaxExpiresIn = 90 * 24 * 60 * 60

// tokenOf reads the answer of the exchange and refresh endpoints, and
// checks it before anything trusts it: the token must meet the token rule
// (payload.CheckToken) and expires_in must be a whole number of seconds
// from 1 to MaxExpiresIn. An answer that fails is ErrBadAnswer, with a
// reason that never quotes the token.
func tokenOf(obj map[string]json.RawMessage) (Token, error) {
	var t Token
	var err error
	if t.AccessToken, err = checkedToken(obj); err != nil {
		return Token{}, err
	}
	t.TokenType, _ = stringField(obj, "token_type")
	n, ok := wholeField(obj, "expires_in")
	switch {
	case !ok:
		return Token{}, fmt.Errorf("%w: expires_in is missing or not a whole number of seconds", ErrBadAnswer)
	case n <= 0:
		return Token{}, fmt.Errorf("%w: expires_in is %d; a token's life must be positive", ErrBadAnswer, n)
	case n > MaxExpiresIn:
		return Token{}, fmt.Errorf("%w: expires_in is %d seconds, more than the 90 days (%d) any token of Meta's lives", ErrBadAnswer, n, MaxExpiresIn)
	}
	t.ExpiresIn = n
	return t, nil
}

// checkedToken reads an answer's access_token and applies the token rule.
func checkedToken(obj map[string]json.RawMessage) (string, error) {
	token, ok := stringField(obj, "access_token")
	if !ok || token == "" {
		return "", fmt.Errorf("%w: no access_token in the answer", ErrBadAnswer)
	}
	if err := payload.CheckToken(token); err != nil {
		return "", fmt.Errorf("%w: the access_token in the answer is %w", ErrBadAnswer, err)
	}
	return token, nil
}

// shortLivedOf reads the answer of the code exchange.
func shortLivedOf(obj map[string]json.RawMessage) (ShortLived, error) {
	token, err := checkedToken(obj)
	if err != nil {
		return ShortLived{}, err
	}
	s := ShortLived{AccessToken: token}
	if raw, ok := obj["user_id"]; ok {
		id, err := decodeID(raw)
		if err != nil {
			return ShortLived{}, fmt.Errorf("%w: user_id: %v", ErrBadAnswer, err)
		}
		s.UserID = id
	}
	return s, nil
}

// userOf reads the answer of /me, whose user ID is in idField. An answer
// without that field but with "id" gives that: the ID every Graph node has.
func userOf(obj map[string]json.RawMessage, idField string) (User, error) {
	field := idField
	raw, ok := obj[field]
	if !ok {
		field = "id"
		raw = obj[field]
	}
	var u User
	if raw != nil {
		id, err := decodeID(raw)
		if err != nil {
			return User{}, fmt.Errorf("%w: %s: %v", ErrBadAnswer, field, err)
		}
		u.ID = id
	}
	if u.ID == "" {
		return User{}, fmt.Errorf("%w: no %s in the answer", ErrBadAnswer, idField)
	}
	u.Username, _ = stringField(obj, "username")
	return u, nil
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

// wholeField returns obj[key] when it is a whole number: a JSON integer, a
// number whose fraction is zero (5183944.0), or a string holding one.
// Anything else (a fraction, a word, true, null, a number too large for
// int64) is not.
func wholeField(obj map[string]json.RawMessage, key string) (int64, bool) {
	raw, ok := obj[key]
	if !ok {
		return 0, false
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		text = string(bytes.TrimSpace(raw))
	}
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
		return 0, false
	}
	return int64(f), true
}

func intOr0(obj map[string]json.RawMessage, key string) int {
	n, _ := wholeField(obj, key)
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
