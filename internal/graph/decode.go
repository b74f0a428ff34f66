package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
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

// tokenOf reads the answer of the exchange and refresh endpoints.
func tokenOf(obj map[string]json.RawMessage) (Token, error) {
	var t Token
	t.AccessToken, _ = stringField(obj, "access_token")
	if t.AccessToken == "" {
		return Token{}, fmt.Errorf("%w: no access_token in the answer", ErrBadAnswer)
	}
	t.TokenType, _ = stringField(obj, "token_type")
	n, ok := intField(obj, "expires_in")
	if !ok || n <= 0 {
		return Token{}, fmt.Errorf("%w: expires_in missing or not positive", ErrBadAnswer)
	}
	t.ExpiresIn = n
	return t, nil
}

// shortLivedOf reads the answer of the code exchange.
func shortLivedOf(obj map[string]json.RawMessage) (ShortLived, error) {
	token, ok := stringField(obj, "access_token")
	if !ok || token == "" {
		return ShortLived{}, fmt.Errorf("%w: no access_token in the answer", ErrBadAnswer)
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
