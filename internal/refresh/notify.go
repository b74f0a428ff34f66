package refresh

import (
	"context"
	"time"
)

// ChangeEvent names what consumers are told of an account: a new current
// token, or a change of its health.
type ChangeEvent string

// Change events: two for a new current token, four for a change of health
// (README, "For consumers").
const (
	// ChangeRefreshed: the engine refreshed the token and stored the new one.
	ChangeRefreshed ChangeEvent = "refreshed"
	// ChangeAdopted: the engine adopted a newer secret version it did not
	// make: a token added by hand (or by `refresher add`), the first version
	// of a new account, or a refresh whose state write was lost.
	ChangeAdopted ChangeEvent = "adopted"
	// ChangeNeedsReauth: Meta refused the token; a person must log in again.
	ChangeNeedsReauth ChangeEvent = "needs_reauth"
	// ChangeFailing: refreshes fail; the previous token stays current.
	ChangeFailing ChangeEvent = "failing"
	// ChangeRecovered: an account that was failing or needs_reauth is ok
	// again.
	ChangeRecovered ChangeEvent = "recovered"
	// ChangeExpiring: the token's remaining life, the earliest of Meta's
	// clocks, fell under the warning threshold (Engine.WarnWithin).
	ChangeExpiring ChangeEvent = "expiring"
)

// TokenChange reports whether e is news of a new current token (refreshed,
// adopted), which carries the version, rather than of health.
func (e ChangeEvent) TokenChange() bool { return e == ChangeRefreshed || e == ChangeAdopted }

// Change is news of one account: a new current token, the version
// consumers reading "latest" now get, or a change of its health. It names
// the version, never the token.
type Change struct {
	// Account is the account's ID (its secret ID).
	Account string
	// Secret is the full name of the account's secret.
	Secret string
	// Version is the full name of the new version, as the secret store
	// returned it; set for token changes (refreshed, adopted) only.
	Version string
	Event   ChangeEvent
	// Platform is "threads" or "instagram"; empty when not known.
	Platform string
	// Health is the account's health once the change is recorded.
	Health Health
	// HoursLeft is the whole hours left until the earlier of the token's
	// expiry and its data-access expiry, as AccountReport.HoursLeft; nil
	// when neither is known.
	HoursLeft *int
	// Error is the last error's sentence (failing, needs_reauth), as the
	// state records it: it never holds a token.
	Error string
	// Fix is the command that brings the account back, where a person is
	// needed (needs_reauth, expiring); empty otherwise.
	Fix string
	// At is when the engine decided the change.
	At time.Time
}

// Notifier tells consumers of each change of an account's current token
// and of its health, so that they can reload, pause or resume at once
// instead of polling. The engine calls it before the state write that
// records the change as told, and only once the new token is stored: a
// pass that dies in between tells it again on the next pass (at least
// once), and a failure is logged and told again on the next pass; the new
// token stays current either way. Announce must return when ctx ends:
// that is how the engine bounds its time.
type Notifier interface {
	Announce(ctx context.Context, c Change) error
}

// DefaultNotifyTimeout bounds one Notifier call. Publishing takes
// milliseconds; the bound keeps an unreachable notifier from eating the
// pass's time (an account's work must fit in the skip rule's margin).
const DefaultNotifyTimeout = 5 * time.Second

func (e *Engine) notifyTimeout() time.Duration {
	if e.NotifyTimeout > 0 {
		return e.NotifyTimeout
	}
	return DefaultNotifyTimeout
}

// announce tells the Notifier one change of the account whose state is
// being built, and reports whether it was told. It runs even when the pass
// has been cancelled (what it tells is stored), and never longer than
// NotifyTimeout.
func (w *work) announce(ctx context.Context, event ChangeEvent, health Health, now time.Time) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.e.notifyTimeout())
	defer cancel()
	end, _ := lifeEnds(w.st.ExpiresAt, w.st.DataAccessExpiresAt)
	c := Change{Account: w.a.ID, Secret: w.a.Secret, Platform: w.st.Platform, Event: event,
		Health: health, HoursLeft: hoursLeft(end, now), Error: w.st.LastError, Fix: fixFor(health, w.a.ID, w.st.Platform), At: now}
	if event.TokenChange() {
		c.Version = w.st.Version
	}
	err := w.e.Notifier.Announce(ctx, c)
	if err == nil {
		return true
	}
	if event.TokenChange() {
		w.log.Warn("token change not published; consumers reading latest still get the new token",
			"event", string(event), "version", c.Version, "error", err.Error())
	} else {
		w.log.Warn("health change not published; the next pass publishes it again",
			"event", string(event), "health", string(health), "error", err.Error())
	}
	return false
}
