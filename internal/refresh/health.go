package refresh

import (
	"context"
	"fmt"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
)

// This file holds an account's health, as consumers are told of it, and
// the outbox that tells them each change once (README, "For consumers").
//
// The state records the health consumers were last told of (Announced) and
// a token change recorded but not told yet (Unannounced). Whatever a pass
// or a check has to tell is told before the state write that records it as
// told (commit): a process that dies after telling and before the write
// tells it again on the next pass, one that dies before telling has
// recorded nothing, so nothing is lost, and nothing is told twice but
// across such a death (Pub/Sub delivers at least once anyway). A new token
// is stored before it is told of, so no message names a version that is
// not stored.

// Health is an account's condition as consumers are told of it: derived
// from its state and its clocks at a given time (Engine.health).
type Health string

// Healths, from the worst.
const (
	// HealthNeedsReauth: Meta refused the token; a person must log in again.
	HealthNeedsReauth Health = "needs_reauth"
	// HealthFailing: refreshes fail; the previous token stays current.
	HealthFailing Health = "failing"
	// HealthExpiring: the token's remaining life, the earlier of its expiry
	// and its data-access expiry, is under the warning threshold.
	HealthExpiring Health = "expiring"
	// HealthOK: none of the above.
	HealthOK Health = "ok"
)

// DefaultWarnWithin is the warning threshold when Engine.WarnWithin is
// zero: 336 hours (14 days), the default of `refresher status
// --warn-within` and of the Terraform module's alert_if_hours_left_below,
// and the due rule's DueMargin, so that with the defaults a token that can
// be refreshed is refreshed before it would be expiring.
const DefaultWarnWithin = DueMargin

func (e *Engine) warnWithin() time.Duration {
	if e.WarnWithin > 0 {
		return e.WarnWithin
	}
	return DefaultWarnWithin
}

// health is the health of the account whose state is st, at now.
func (e *Engine) health(st State, now time.Time) Health {
	end, _ := lifeEnds(st.ExpiresAt, st.DataAccessExpiresAt)
	return healthOf(st.Status, end, now, e.warnWithin())
}

// healthOf is the health of an account whose stored status is status and
// whose token's life ends at end (zero: unknown), at now; empty for an
// account without state.
func healthOf(status Status, end, now time.Time, within time.Duration) Health {
	switch {
	case status == "":
		return ""
	case status == StatusNeedsReauth:
		return HealthNeedsReauth
	case status == StatusFailing:
		return HealthFailing
	case !end.IsZero() && end.Sub(now) < within:
		return HealthExpiring
	}
	return HealthOK
}

// told is the health consumers were last told of: the state's Announced,
// ok when nothing was told yet (an account consumers first hear of as
// adopted, or one recorded before health was told).
func told(st State) Health {
	if st.Announced == "" {
		return HealthOK
	}
	return st.Announced
}

// healthEvent is the event that tells consumers an account's health went
// from what they were told to now; empty when there is nothing to tell.
// Each event is named after the new health, except a return to ok from
// failing or needs_reauth, which is recovered. A return to ok from
// expiring is told by the token change that ends it (refreshed, adopted:
// every message carries the health), so it has no event of its own.
func healthEvent(from, now Health) ChangeEvent {
	if from == now || now == "" {
		return ""
	}
	switch now {
	case HealthNeedsReauth:
		return ChangeNeedsReauth
	case HealthFailing:
		return ChangeFailing
	case HealthExpiring:
		return ChangeExpiring
	}
	if from == HealthFailing || from == HealthNeedsReauth {
		return ChangeRecovered
	}
	return ""
}

// attention reports whether an account that is fresh must be worked on
// all the same: consumers have not been told of something (untold), or it
// is expiring, so that the new version a person adds after being told is
// adopted on the next pass, as for a failing or needs_reauth account
// (dataAccessEnding does the same for the 14 days before data access ends).
func (e *Engine) attention(st State, now time.Time) bool {
	return e.untold(st, now) || e.health(st, now) == HealthExpiring
}

// untold reports whether consumers have not been told of something that
// st records, at now: a token change whose publish failed, or a health
// that differs from the one last told (an account turning expiring as its
// clocks run, while it is fresh). Such an account is worked on though
// fresh, once: a lease, a version list and the write that records it as
// told. Without a Notifier nobody is told, and nothing is untold.
func (e *Engine) untold(st State, now time.Time) bool {
	return e.Notifier != nil && st.Known() && (st.Unannounced != "" || e.health(st, now) != told(st))
}

// tell tells the Notifier, before commit writes w.st, what consumers have
// not heard of: the token change this work made (result refreshed, or a
// version adopted) or one left untold before, and the change of health
// from the one last told; and records in w.st what was told. What could
// not be told stays untold in w.st, and the next pass tells it.
func (w *work) tell(ctx context.Context, result Result) {
	token := w.st.Unannounced
	switch {
	case result == ResultRefreshed:
		token = ChangeRefreshed
	case w.adopted:
		token = ChangeAdopted
	}
	if w.e.Notifier == nil {
		// Nobody to tell: the change stays untold, for a notifier
		// configured later; the health told stays as it was.
		w.st.Unannounced = token
		return
	}
	now := w.e.now()
	health := w.e.health(w.st, now)
	w.st.Unannounced = ""
	if token != "" && !w.announce(ctx, token, health, now) {
		w.st.Unannounced = token
	}
	if event := healthEvent(told(w.st), health); event == "" || w.announce(ctx, event, health, now) {
		w.st.Announced = health
	}
}

// assess sets the report's Health and Fix as of now, from its stored
// status and clocks.
func (r *AccountReport) assess(now time.Time, within time.Duration) {
	end, _ := r.LifeEnds()
	r.Health = healthOf(r.status, end, now, within)
	r.Fix = fixFor(r.Health, r.Account, r.Platform)
}

// fixFor is the command that brings an account of the given health back,
// where a person is needed: a new login (or a token added by hand) cures
// a refused token, and renews both of Meta's clocks.
func fixFor(h Health, account, platform string) string {
	if h == HealthNeedsReauth || h == HealthExpiring {
		return RelinkCommands(account, platform)
	}
	return ""
}

// RelinkCommands names the commands that bring an account back with a new
// token of the same user: a login, or a long-lived token added by hand.
// Reports (Fix), messages, `refresher status` and `refresher run` say it.
func RelinkCommands(account, platform string) string {
	flag := ""
	if platform != "" && platform != payload.DefaultPlatform {
		flag = " --platform " + platform
	}
	return fmt.Sprintf("`refresher login%s --redirect-uri URI %s`, or `refresher add%s %s < long-lived-token.txt`", flag, account, flag, account)
}
