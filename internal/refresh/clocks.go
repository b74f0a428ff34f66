package refresh

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
)

// This file holds what the engine knows of each token's clocks, and how
// it learns them: Meta's inspection first, then what the answer that
// issued the token said, then a bound on the safe side (README, "The
// clocks").

// due reports whether the token st records should be refreshed at now: it
// is at least MinRefreshAge old, by Meta's issue time or the time the
// refresher received it, and either older than RefreshAfter (and, when the
// engine spreads, at its account's phase p: spread.go) or with less than
// DueMargin of its own life left. An unknown expiry counts as short, and
// so does an estimated one: it rests on Meta's documented 60 days, which
// an answer the engine no longer remembers may have cut short, and a
// refresh tells the real one. The data-access clock does not make a token
// due: Meta does not say that a refresh extends it, only a new login; it
// is reported (hoursLeft) so that a person logs in again.
func (e *Engine) due(st State, p phase, now time.Time) bool { return !now.Before(e.dueAt(st, p)) }

// dueAt is the instant the token st records comes due by the rule above,
// so that the pass (due) and the watchdog (Watch, which asks since when an
// account has waited) cannot disagree.
func (e *Engine) dueAt(st State, p phase) time.Time {
	// Issue times come in whole seconds (Meta's issued_at, the payload's
	// note): the token may have been issued up to a second later. Counting
	// from the end of that second never takes a token for older than it
	// is (one 23h59m59.4s old is not sent to be refreshed because its
	// issue time was rounded down); a time the refresher took itself is
	// later than Meta's anyway.
	born := st.IssuedAt.Add(time.Second)
	// The phase delays only the rule by age: the margin below and the
	// youngest age Meta refreshes stay as they are.
	at := p.pin(born.Add(e.RefreshAfter))
	switch {
	case st.ExpiryFrom == ClockEstimate, st.ExpiresAt.IsZero():
		// An estimate or an unknown expiry is short: due at the youngest
		// age Meta refreshes.
		at = born
	case st.ExpiresAt.Add(-DueMargin).Before(at):
		// Less than DueMargin left: due from the first instant past
		// ExpiresAt - DueMargin.
		at = st.ExpiresAt.Add(-DueMargin + time.Nanosecond)
	}
	return latest(at, born.Add(MinRefreshAge))
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// fresh reports whether an account can be left alone without any further
// call: its stored status is ok, its clocks are known and its token is not
// due. Failing and needs_reauth accounts are always looked at, so that a
// new version added by hand is adopted on the next pass; so is one whose
// clocks are unknown (recorded before clocks were kept), so that Meta is
// asked once.
func (e *Engine) fresh(st State, p phase, now time.Time) bool {
	return st.Status == StatusOK && st.ExpiryFrom != "" && !st.IssuedAt.IsZero() && !e.due(st, p, now) &&
		!dataAccessEnding(st, now)
}

// dataAccessEnding reports whether the app's access to the user's data
// ends within DueMargin. Such an account is looked at every pass (its
// versions listed, no more) though it is not due: the person the life-left
// alert sends to log in again adds a new token, which must be adopted, and
// its renewed data access learned, at once rather than when the old token
// comes due.
func dataAccessEnding(st State, now time.Time) bool {
	return !st.DataAccessExpiresAt.IsZero() && st.DataAccessExpiresAt.Sub(now) < DueMargin
}

// setClocks records c as the token's clocks, Meta's when c says so.
func (w *work) setClocks(c payload.Clocks) {
	src := ClockRefresh
	if c.FromMeta {
		src = ClockMeta
	}
	w.st.IssuedAt, w.st.IssuedFrom = c.IssuedAt, sourceOf(c.IssuedAt, src)
	w.st.ExpiresAt, w.st.ExpiryFrom = c.ExpiresAt, sourceOf(c.ExpiresAt, src)
	w.st.DataAccessExpiresAt = c.DataAccessExpiresAt
	w.changed = true
}

func sourceOf(t time.Time, src ClockSource) ClockSource {
	if t.IsZero() {
		return ""
	}
	return src
}

// learnClocks asks Meta for the clocks of the token the payload holds,
// if the pass leaves room for minRoom more.
func (w *work) learnClocks(minRoom time.Duration) {
	w.inspectToken(w.payload.Token(), minRoom)
}

// inspectToken asks Meta what it knows of token and records what it says,
// when the pass has at least minRoom left (an inspection must not eat the
// time its refresh needs). What Meta will not say leaves the clocks as
// they were: an inspection never fails an account.
func (w *work) inspectToken(token string, minRoom time.Duration) {
	if deadline, ok := w.ctx.Deadline(); ok && time.Until(deadline) < minRoom {
		w.log.Debug("token not inspected: too little time left in the pass")
		return
	}
	info, err := w.inspect(token)
	switch {
	case errors.Is(err, graph.ErrCannotInspect):
		w.log.Debug("token not inspected; its clocks stay as the refresher knows them", "error", err.Error())
		return
	case errors.Is(err, errNoSlot):
		w.log.Debug("token not inspected: no Threads slot came free in time")
		return
	case err != nil:
		w.log.Warn("token not inspected; its clocks stay as the refresher knows them", "error", err.Error())
		return
	}
	if !info.IssuedAt.IsZero() {
		w.st.IssuedAt, w.st.IssuedFrom = info.IssuedAt, ClockMeta
	}
	if !info.ExpiresAt.IsZero() {
		w.st.ExpiresAt, w.st.ExpiryFrom = info.ExpiresAt, ClockMeta
	}
	if now := w.e.now(); !info.Valid && (w.st.ExpiresAt.IsZero() || w.st.ExpiresAt.After(now)) {
		// Meta says the token no longer works (revoked, or expired): its
		// life has ended, whatever its expiry said. The refresh, or its
		// refusal, tells why.
		w.log.Warn("Meta's inspection says the token does not work")
		w.st.ExpiresAt, w.st.ExpiryFrom = now, ClockMeta
	}
	w.st.DataAccessExpiresAt = info.DataAccessExpiresAt
	w.st.Scopes = info.Scopes
	w.changed = true
	w.log.LogAttrs(w.ctx, slog.LevelDebug, "token inspected",
		slog.String("issuedAt", timestamp(info.IssuedAt)), slog.String("expiresAt", timestamp(info.ExpiresAt)),
		slog.String("dataAccessExpiresAt", timestamp(info.DataAccessExpiresAt)))
}

// inspect makes one inspection of token, with the pass's inspecting token
// when there is one for this platform, else with token itself, in a
// Threads slot: an inspection is a call to Meta like a refresh.
func (w *work) inspect(token string) (graph.TokenInfo, error) {
	credential := token
	if t, ok := w.inspector.tokenFor(w.ctx, w.a, w.st.Platform); ok {
		credential = t
	}
	release, err := w.takeSlot(true)
	if err != nil {
		return graph.TokenInfo{}, err
	}
	defer release()
	return w.platform.Inspect(w.ctx, credential, token)
}

// tooYoung records a token of unknown age, stored in version v less than
// 24 hours ago, that Meta refused to refresh although it works. Meta does
// not document what it answers for a token younger than 24 hours; this is
// how such a refusal looks, so the token is taken to be that young: it was
// issued after 24 hours ago and no later than v was made, so it lives at
// least until 24 hours ago plus the shortest life of a long-lived token.
// Both clocks are estimates, on the safe side: the token's age counts from
// v (it comes due no earlier than it may), its expiry is a lower bound.
// Not a failure, and nothing to alert on.
func (w *work) tooYoung(v Version, refusal error) AccountReport {
	now := w.e.now()
	w.st.IssuedAt, w.st.IssuedFrom = v.CreateTime, ClockEstimate
	w.st.ExpiresAt, w.st.ExpiryFrom = now.Add(-MinRefreshAge).Add(minTokenLife), ClockEstimate
	w.st.Status, w.st.LastError, w.st.Failures = StatusOK, "", 0
	w.changed = true
	w.log.Info("refresh refused for a token of unknown age whose version is younger than 24 hours: taken as too young to refresh; it is refreshed when its version is 24 hours old",
		"refusal", refusal.Error())
	if w.adopted {
		return w.commit(ResultRolledForward)
	}
	return w.commit(ResultFresh)
}

// passRun is what the accounts of one pass share.
type passRun struct {
	slots     *slots
	inspector *inspector
	// phases are the accounts' places in the spread cycle (spread.go);
	// nil when the engine does not spread.
	phases map[string]phase
}

// inspector is the token that inspects the others in one pass: the
// Inspector account's current token, read when first needed, once.
type inspector struct {
	e *Engine
	a Account

	mu      sync.Mutex
	started bool
	// done is closed once the token is read (or could not be). Waiting on
	// a channel, not a mutex, keeps the simulation's goroutines durably
	// blocked (internal/sim).
	done            chan struct{}
	token, platform string
	ok              bool
}

// newInspector returns the pass's inspector, or nil when each token
// inspects itself (no Inspector, or one not among the pass's accounts).
func (e *Engine) newInspector(accounts []Account) *inspector {
	if e.Inspector == "" {
		return nil
	}
	for _, a := range accounts {
		if a.ID == e.Inspector {
			return &inspector{e: e, a: a, done: make(chan struct{})}
		}
	}
	e.logger().Warn("the inspector account is not among the accounts; each token inspects itself", "inspector", e.Inspector)
	return nil
}

// tokenFor returns the inspecting token for an account of the platform,
// or false when the account should inspect its own: there is no inspector,
// the account is the inspector, its token could not be read, or it belongs
// to another platform.
func (in *inspector) tokenFor(ctx context.Context, self Account, platform string) (string, bool) {
	if in == nil || self.ID == in.a.ID {
		return "", false
	}
	in.mu.Lock()
	first := !in.started
	in.started = true
	in.mu.Unlock()
	if first {
		in.load(ctx)
		close(in.done)
	} else {
		// A token already read is used even by a cancelled pass: a select
		// between the two would choose at random.
		select {
		case <-in.done:
		default:
			select {
			case <-in.done:
			case <-ctx.Done():
				return "", false
			}
		}
	}
	return in.token, in.ok && in.platform == platform
}

func (in *inspector) load(ctx context.Context) {
	log := in.e.logger().With("inspector", in.a.ID)
	_, raw, err := Current(ctx, in.e.Secrets, in.a)
	if err != nil {
		log.Warn("the inspector account's token could not be read; tokens inspect themselves this pass", "error", err.Error())
		return
	}
	p, err := payload.Parse(raw)
	if err != nil {
		log.Warn("the inspector account's payload cannot be read; tokens inspect themselves this pass", "error", err.Error())
		return
	}
	in.token, in.platform, in.ok = p.Token(), p.Platform(), true
}
