package refresh

import (
	"context"
	"time"
)

// ChangeEvent says how an account's current token changed.
type ChangeEvent string

// Change events.
const (
	// ChangeRefreshed: the engine refreshed the token and stored the new one.
	ChangeRefreshed ChangeEvent = "refreshed"
	// ChangeAdopted: the engine adopted a newer secret version it did not
	// make: a token added by hand (or by `refresher add`), the first version
	// of a new account, or a refresh whose state write was lost.
	ChangeAdopted ChangeEvent = "adopted"
)

// Change is a new current token for an account: the version consumers
// reading "latest" now get. It names the version, never the token.
type Change struct {
	// Account is the account's ID (its secret ID).
	Account string
	// Secret is the full name of the account's secret.
	Secret string
	// Version is the full name of the new version, as the secret store
	// returned it.
	Version string
	Event   ChangeEvent
	// Platform is "threads" or "instagram"; empty when not known.
	Platform string
}

// Notifier hears of each change of an account's current token, so that
// consumers can reload at once instead of polling. The engine calls it only
// once the change is stored and recorded, never before, and a failure is
// logged and changes nothing: the new token stays current. TokenChanged
// must return when ctx ends: that is how the engine bounds its time.
type Notifier interface {
	TokenChanged(ctx context.Context, c Change) error
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

// announce tells the Notifier, if there is one, that the state now records
// a new current version. It runs after the commit, even when the pass has
// been cancelled (the change happened), and never longer than NotifyTimeout.
func (w *work) announce(event ChangeEvent) {
	if w.e.Notifier == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), w.e.notifyTimeout())
	defer cancel()
	c := Change{Account: w.a.ID, Secret: w.a.Secret, Version: w.st.Version, Platform: w.st.Platform, Event: event}
	if err := w.e.Notifier.TokenChanged(ctx, c); err != nil {
		w.log.Warn("token change not published; consumers reading latest still get the new token",
			"event", string(event), "version", c.Version, "error", err.Error())
	}
}
