package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// ErrCannotInspect means the platform would not say what it knows of a
// token: it documents no inspection for its tokens (Instagram Login), or
// it refused this one (the inspecting token is not a tester's, the answer
// was unusable). It says nothing about whether the token works: it is
// never ErrNeedsReauth, and the token's clocks just stay estimates.
var ErrCannotInspect = errors.New("the platform does not inspect this token")

// TokenInfo is what the platform's debug_token says of a token. Times are
// zero when the answer leaves them out, or gives 0: Meta's debugger shows a
// token whose expires_at is 0 as "Expires: Never", which no long-lived
// Threads token is, so a 0 is read as no clock at all rather than as 1970
// or as eternity.
type TokenInfo struct {
	// UserID is the user the token belongs to, as decimal text.
	UserID string
	// Type is "USER" for a user token.
	Type                                     string
	IssuedAt, ExpiresAt, DataAccessExpiresAt time.Time
	// Scopes are the permissions the user granted the app.
	Scopes []string
	// Valid is Meta's is_valid: false for an expired, revoked or unknown
	// token, whose other fields may then be absent.
	Valid bool
}

// maxClock bounds the times an inspection may give: a time past 2100 is
// not a token's clock.
var maxClock = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// Inspect asks the platform what it knows of token, with inspector's token
// as the credential: GET {base}{DebugTokenPath}?access_token=INSPECTOR&
// input_token=TOKEN. On Threads the inspector must be the user token of a
// tester of the same app (an app's developers are testers), and may be the
// token itself. A refusal that is not temporary, a platform without
// inspection (no network call is made then) and an answer without a usable
// data object are ErrCannotInspect, never ErrNeedsReauth: an inspector that
// is not a tester, or has itself expired, says nothing of the token. A
// temporary failure is ErrTransient. Neither token appears in any error.
func (c *Client) Inspect(ctx context.Context, inspector, token string) (TokenInfo, error) {
	doing := "inspecting " + c.p.Name + " token"
	if c.p.DebugTokenPath == "" {
		return TokenInfo{}, fmt.Errorf("%s: %w: %s documents no inspection of its tokens", doing, ErrCannotInspect, c.p.Name)
	}
	obj, err := c.do(ctx, c.base, request{
		method: http.MethodGet,
		path:   c.p.DebugTokenPath,
		query: url.Values{
			"access_token": {inspector},
			"input_token":  {token},
		},
		secrets: []string{inspector, token},
	})
	if err == nil {
		var info TokenInfo
		if info, err = tokenInfoOf(obj); err == nil {
			return info, nil
		}
	}
	if errors.Is(err, ErrTransient) {
		return TokenInfo{}, fmt.Errorf("%s: %w", doing, err)
	}
	return TokenInfo{}, &inspectError{doing: doing, err: err}
}

// inspectError is an inspection the platform would not give. It is
// ErrCannotInspect and nothing else: its cause, which may be a Graph error
// with code 190 (about the inspector's token, not the one inspected), is
// kept for its text only, where errors.Is cannot find it.
type inspectError struct {
	doing string
	err   error
}

func (e *inspectError) Error() string {
	return e.doing + ": " + ErrCannotInspect.Error() + ": " + e.err.Error()
}

func (e *inspectError) Unwrap() error { return ErrCannotInspect }

// tokenInfoOf reads debug_token's answer, {"data":{...}}.
func tokenInfoOf(obj map[string]json.RawMessage) (TokenInfo, error) {
	var data map[string]json.RawMessage
	if raw, ok := obj["data"]; !ok || json.Unmarshal(raw, &data) != nil || data == nil {
		return TokenInfo{}, fmt.Errorf("%w: no data object in the answer", ErrBadAnswer)
	}
	info := TokenInfo{Valid: boolField(data, "is_valid")}
	info.Type, _ = stringField(data, "type")
	if raw, ok := data["user_id"]; ok {
		id, err := decodeID(raw)
		if err != nil {
			return TokenInfo{}, fmt.Errorf("%w: user_id: %v", ErrBadAnswer, err)
		}
		info.UserID = id
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"issued_at", &info.IssuedAt}, {"expires_at", &info.ExpiresAt}, {"data_access_expires_at", &info.DataAccessExpiresAt}} {
		t, err := unixTime(data, f.name)
		if err != nil {
			return TokenInfo{}, err
		}
		*f.dst = t
	}
	if !info.IssuedAt.IsZero() && !info.ExpiresAt.IsZero() {
		switch life := info.ExpiresAt.Sub(info.IssuedAt); {
		case life <= 0:
			return TokenInfo{}, fmt.Errorf("%w: expires_at is not after issued_at", ErrBadAnswer)
		case life > MaxExpiresIn*time.Second:
			return TokenInfo{}, fmt.Errorf("%w: expires_at is %s after issued_at, more than the 90 days any token of Meta's lives", ErrBadAnswer, life.Round(time.Hour))
		}
	}
	if raw, ok := data["scopes"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &info.Scopes); err != nil {
			return TokenInfo{}, fmt.Errorf("%w: scopes is not a list of names", ErrBadAnswer)
		}
	}
	return info, nil
}

// unixTime reads a Unix time in seconds; absent, null and 0 are the zero
// time.
func unixTime(obj map[string]json.RawMessage, key string) (time.Time, error) {
	raw, ok := obj[key]
	if !ok || string(raw) == "null" {
		return time.Time{}, nil
	}
	n, ok := wholeField(obj, key)
	switch {
	case !ok || n < 0:
		return time.Time{}, fmt.Errorf("%w: %s is not a time in whole seconds", ErrBadAnswer, key)
	case n == 0:
		return time.Time{}, nil
	case n > maxClock.Unix():
		return time.Time{}, fmt.Errorf("%w: %s is after the year 2100", ErrBadAnswer, key)
	}
	return time.Unix(n, 0).UTC(), nil
}
