package graph

import (
	"fmt"
	"log/slog"
)

// Token is a long-lived access token as the platform issued it.
type Token struct {
	AccessToken string
	// TokenType is "bearer".
	TokenType string
	// ExpiresIn is the token's remaining life in seconds when issued.
	ExpiresIn int64
}

// LogValue implements slog.LogValuer without the token itself.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("access_token", redactedMark(t.AccessToken)),
		slog.String("token_type", t.TokenType),
		slog.Int64("expires_in", t.ExpiresIn),
	)
}

// String implements fmt.Stringer without the token itself, so that %v and
// %+v cannot leak it.
func (t Token) String() string {
	return fmt.Sprintf("{AccessToken:%s TokenType:%s ExpiresIn:%d}", redactedMark(t.AccessToken), t.TokenType, t.ExpiresIn)
}

// GoString implements fmt.GoStringer without the token itself (%#v).
func (t Token) GoString() string {
	return fmt.Sprintf("graph.Token{AccessToken:%q, TokenType:%q, ExpiresIn:%d}", redactedMark(t.AccessToken), t.TokenType, t.ExpiresIn)
}

// ShortLived is the short-lived token an authorization code is exchanged
// for.
type ShortLived struct {
	AccessToken string
	// UserID is the user's ID, kept as the decimal text the platform sent
	// so that IDs beyond 2^53 keep every digit.
	UserID string
}

// LogValue implements slog.LogValuer without the token itself.
func (s ShortLived) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("access_token", redactedMark(s.AccessToken)),
		slog.String("user_id", s.UserID),
	)
}

// String implements fmt.Stringer without the token itself.
func (s ShortLived) String() string {
	return fmt.Sprintf("{AccessToken:%s UserID:%s}", redactedMark(s.AccessToken), s.UserID)
}

// GoString implements fmt.GoStringer without the token itself.
func (s ShortLived) GoString() string {
	return fmt.Sprintf("graph.ShortLived{AccessToken:%q, UserID:%q}", redactedMark(s.AccessToken), s.UserID)
}

// User is the user a token belongs to.
type User struct {
	ID       string
	Username string
}

// CodeRequest is what exchanging an authorization code needs.
type CodeRequest struct {
	ClientID     string
	ClientSecret string
	// Code is the code from the redirect; a trailing "#_", which Meta
	// appends to the redirect and is not part of the code, is removed.
	Code        string
	RedirectURI string
}

// String implements fmt.Stringer without the secret and the code.
func (r CodeRequest) String() string {
	return fmt.Sprintf("{ClientID:%s ClientSecret:%s Code:%s RedirectURI:%s}",
		r.ClientID, redactedMark(r.ClientSecret), redactedMark(r.Code), r.RedirectURI)
}

// GoString implements fmt.GoStringer without the secret and the code.
func (r CodeRequest) GoString() string {
	return fmt.Sprintf("graph.CodeRequest{ClientID:%q, ClientSecret:%q, Code:%q, RedirectURI:%q}",
		r.ClientID, redactedMark(r.ClientSecret), redactedMark(r.Code), r.RedirectURI)
}

// LogValue implements slog.LogValuer without the secret and the code.
func (r CodeRequest) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("client_id", r.ClientID),
		slog.String("client_secret", redactedMark(r.ClientSecret)),
		slog.String("code", redactedMark(r.Code)),
		slog.String("redirect_uri", r.RedirectURI),
	)
}

// redactedMark stands for a secret in printed values: it tells whether one
// is set without showing it.
func redactedMark(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}
