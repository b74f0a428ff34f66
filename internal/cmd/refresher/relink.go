package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/service"
)

// This file is what `add`, `exchange` and `login` do when the account
// already holds a token: a relink. The new token must be the same user's
// (or --replace-user says otherwise), becomes a new version of the same
// secret, so that consumers keep reading the same name, asks for the
// scopes the old one had, and is checked at once, so that consumers hear
// that the account recovered without waiting for a pass.

// existing is what the account held before onboarding: its current
// token's owner, as the payload beside it says, and its state.
type existing struct {
	// token: the account has a current version whose payload was read.
	token bool
	// platform, userID and username are the payload's; userID is empty
	// when it does not say (a bare token, or a payload older than
	// onboarding's).
	platform, userID, username string
	// state: the state store has a record of the account; scopes are
	// from it (nil when Meta never listed them).
	state  bool
	scopes []string
}

// lookUp reads what the account holds. What cannot be read is left out,
// never an error: a payload that cannot be read is often why a person
// relinks.
func lookUp(ctx context.Context, svc *service.Service, a refresh.Account) existing {
	var x existing
	if p, err := currentPayload(ctx, svc, a); err == nil {
		x.token = true
		x.platform, x.userID, x.username = p.Platform(), p.Field("user_id"), p.Field("username")
	}
	if states, err := svc.Engine.States.Load(ctx, []refresh.Account{a}); err == nil {
		if st, ok := states[a.ID]; ok && st.Known() {
			x.state, x.scopes = true, st.Scopes
		}
	}
	return x
}

// errOtherUser: the new token is another user's than the account's.
var errOtherUser = errors.New("the new token belongs to another user")

// sameUser refuses a token of another user, or of another platform, than
// the one the account holds, unless replace: a relink must not wire the
// wrong account to every consumer that reads this one. An account whose
// token does not say whose it is cannot be compared, and is not refused.
func (x existing) sameUser(account string, p platform, u graph.User, replace bool) error {
	switch {
	case !x.token || replace:
		return nil
	case x.platform != p.id:
		return fmt.Errorf("account %s holds %s token of %s; the new token is %s's: nothing stored; log in on %s, or pass --replace-user to make %s an account of %s (%w)",
			account, platformName(x.platform), x.who(), describeUser(p, u), platformName(x.platform), account, describeUser(p, u), errOtherUser)
	case x.userID != "" && x.userID != u.ID:
		return fmt.Errorf("account %s holds the token of %s; the new token is %s's: nothing stored; log in as %s, or pass --replace-user to make %s %s's account (%w)",
			account, x.who(), describeUser(p, u), x.who(), account, "@"+u.Username, errOtherUser)
	}
	return nil
}

// who names the user of the account's current token.
func (x existing) who() string {
	switch {
	case x.username != "" && x.userID != "":
		return fmt.Sprintf("@%s (user %s)", x.username, x.userID)
	case x.username != "":
		return "@" + x.username
	case x.userID != "":
		return "user " + x.userID
	}
	return "an unknown user"
}

// platformName is a payload's platform as people say it.
func platformName(id string) string {
	for _, p := range platforms {
		if p.id == id {
			return "a " + p.Name
		}
	}
	return "a " + id
}

// loginScopes are the scopes a login asks for when --scope is not given:
// the permission a refresh needs, and every scope the account's token had,
// so that a relink does not silently lose one.
func loginScopes(p platform, had []string) []string {
	scopes := []string{p.Permission}
	for _, s := range had {
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	return scopes
}

// lacking are the scopes of wanted that granted does not hold, when
// granted is known (Meta's inspection listed it).
func lacking(wanted, granted []string) []string {
	if granted == nil {
		return nil
	}
	var out []string
	for _, s := range wanted {
		if !slices.Contains(granted, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// sayLacking tells the person which scopes the new grant lacks, of those
// the login asked for and those the previous token had.
func sayLacking(e *env, asked, had, granted []string) {
	missing := lacking(append(slices.Clone(asked), had...), granted)
	if len(missing) == 0 {
		return
	}
	where := "the previous token had"
	for _, s := range missing {
		if !slices.Contains(had, s) {
			where = "the login asked for"
		}
	}
	fmt.Fprintf(e.stdout, "Note: the new grant lacks %s, which %s; log in again and grant all of them to keep what the account could do.\n",
		strings.Join(missing, ", "), where)
}

// checkNow checks the account at once after a relink (refresh.Engine.Check,
// the same work as a pass's): the new version is adopted, and consumers
// are told that it is current and, for an account that needed a person,
// that it recovered, without waiting for a pass. It says what it found in
// one line; a check that cannot be made leaves that to the next pass.
func checkNow(ctx context.Context, e *env, svc *service.Service, account string) {
	rep, err := svc.Engine.Check(ctx, account)
	r, ok := rep.Find(account)
	if err != nil || !ok || (r.Result != refresh.ResultAlive && r.Result != refresh.ResultNeedsReauth) {
		fmt.Fprintln(e.stdout, "The next pass adopts it and keeps it alive; check with `refresher status`.")
		return
	}
	told := "no notifier is configured here (TOKEN_CHANGES_TOPIC, TOKEN_EVENTS_FILE), so the next pass of one that has tells consumers"
	if svc.Engine.Notifier != nil {
		told = "consumers have been told"
	}
	fmt.Fprintf(e.stdout, "Checked: %s is %s with the new token (%s); %s.\n", account, r.Health, r.Result, told)
}
