package graph

import (
	"context"
	"errors"
)

// Refresher refreshes one platform's tokens for the refresh engine: the
// client's Refresh, plus a judgement of the refusals whose Graph code
// leaves the token's fate open. Meta does not always answer 190 for a token
// that no longer works (a revoked Threads token has been seen answering
// code 100), and a missing permission needs a person as surely as an
// expired token does:
//
//   - a missing permission (code 10 or 200-299) is ErrNeedsReauth, with a
//     message naming the permission to grant (PermissionError);
//   - any other refusal that is neither temporary nor a token error (code
//     100, codes Meta does not document) is checked once with /me: if /me
//     refuses the token too (190, 102 or 100), the token is dead and the
//     error is ErrNeedsReauth with both answers (DeadTokenError); if /me
//     accepts the token, the refusal is returned marked ErrRefusedLiveToken
//     (the token works: Meta refused the refresh itself, as it does, in
//     the simulation and the fake, for a token younger than 24 hours);
//     otherwise it is returned as it was.
//
// It also inspects tokens (Client.Inspect), so that it is all the refresh
// engine needs of a platform.
type Refresher struct {
	c *Client
}

// Refresher returns the client's Refresher.
func (c *Client) Refresher() Refresher { return Refresher{c: c} }

// Refresh refreshes token as Client.Refresh does, judging its refusals.
func (r Refresher) Refresh(ctx context.Context, token string) (Token, error) {
	tok, err := r.c.Refresh(ctx, token)
	var refusal *APIError
	if err == nil || !errors.As(err, &refusal) || refusal.needsReauth() || refusal.transient() {
		return tok, err
	}
	if refusal.permissionMissing() {
		return Token{}, &PermissionError{Err: err, Permission: r.c.p.Permission}
	}
	// One /me call tells a dead token from a refused request.
	_, meErr := r.c.Me(ctx, token)
	var me *APIError
	if errors.As(meErr, &me) && (me.needsReauth() || (me.Code == 100 && !me.transient())) {
		return Token{}, &DeadTokenError{Refresh: err, Me: meErr}
	}
	if meErr == nil {
		return Token{}, &liveRefusal{err}
	}
	return Token{}, err
}

// Me reads the user token belongs to, as Client.Me does, judging its
// refusals as Refresh judges /me's: codes 190 and 102 are ErrNeedsReauth
// already; a missing permission (code 10 or 200-299) is a PermissionError
// and a code 100 that is not temporary a DeadTokenError, both
// ErrNeedsReauth, since only a new login helps either.
func (r Refresher) Me(ctx context.Context, token string) (User, error) {
	u, err := r.c.Me(ctx, token)
	var refusal *APIError
	switch {
	case err == nil || !errors.As(err, &refusal) || refusal.needsReauth() || refusal.transient():
		return u, err
	case refusal.permissionMissing():
		return User{}, &PermissionError{Err: err, Permission: r.c.p.Permission}
	case refusal.Code == 100:
		return User{}, &DeadTokenError{Me: err}
	}
	return User{}, err
}

// Inspect asks the platform what it knows of token, as Client.Inspect does.
func (r Refresher) Inspect(ctx context.Context, inspector, token string) (TokenInfo, error) {
	return r.c.Inspect(ctx, inspector, token)
}

// ErrRefusedLiveToken marks a refresh refused, with a code that does not
// say why, for a token that /me then accepted: the token works and was not
// refreshed. Meta does not document what a refresh of a token younger than
// 24 hours answers; a caller that may have sent one (its age unknown) can
// read this as "too young, probably" rather than as a failure.
var ErrRefusedLiveToken = errors.New("the refresh was refused for a token that works")

// liveRefusal is a refusal of a token /me accepts: ErrRefusedLiveToken, and
// the refusal itself, whose text it keeps.
type liveRefusal struct{ err error }

func (e *liveRefusal) Error() string   { return e.err.Error() }
func (e *liveRefusal) Unwrap() []error { return []error{e.err, ErrRefusedLiveToken} }

// PermissionError is a refresh refused because the token lacks a
// permission. It is ErrNeedsReauth: the person must log in again and grant
// it (after the app itself has been given it, if it has not).
type PermissionError struct {
	// Err is the refusal.
	Err error
	// Permission is the permission a refresh needs: threads_basic,
	// instagram_business_basic.
	Permission string
}

func (e *PermissionError) Error() string {
	return e.Err.Error() + "; a refresh needs the " + e.Permission + " permission: make sure the app has it and grant it at login"
}

func (e *PermissionError) Unwrap() error { return e.Err }

// Is makes a PermissionError ErrNeedsReauth, and never ErrTransient.
func (e *PermissionError) Is(target error) bool { return target == ErrNeedsReauth }

// DeadTokenError is a refresh refused with a code that does not say the
// token is dead, for a token that /me then refused too, or /me's own such
// refusal (Refresher.Me). It is ErrNeedsReauth, and its text holds the
// answers.
type DeadTokenError struct {
	// Refresh is the refresh's refusal (nil when only /me was asked); Me
	// is /me's.
	Refresh, Me error
}

func (e *DeadTokenError) Error() string {
	if e.Refresh == nil {
		return e.Me.Error() + "; the token no longer works"
	}
	return e.Refresh.Error() + "; the token fails /me too, so it no longer works: " + e.Me.Error()
}

func (e *DeadTokenError) Unwrap() []error {
	if e.Refresh == nil {
		return []error{e.Me}
	}
	return []error{e.Refresh, e.Me}
}

// Is makes a DeadTokenError ErrNeedsReauth.
func (e *DeadTokenError) Is(target error) bool { return target == ErrNeedsReauth }
