package refresh

import (
	"context"
	"errors"
	"time"
)

// Watch is what a pipeline check found in the stored state: whether passes
// still reach every account, and how long the tokens have left. It is the
// daily watchdog's view (README, "What you are told, and when"), read
// without running a pass, so that it tells a stopped pipeline (the
// scheduler job paused or deleted, passes that skip or lose an account
// every time) from a working one, whatever the passes themselves log.
type Watch struct {
	// Accounts is how many accounts are configured; Unprocessed how many of
	// them no pass has recorded yet (they are not counted as overdue: a
	// deployment that never completed a pass is told by the other alerts).
	Accounts    int `json:"accounts"`
	Unprocessed int `json:"unprocessed"`
	// Overdue is how many accounts are due and have not been refreshed or
	// tried by any pass for longer than the check allows.
	Overdue int `json:"overdue"`
	// OldestOverdue is the account that has waited longest, and
	// OverdueHours how long, in whole hours, since it was due (or last
	// tried, for an account that was tried and is due again).
	OldestOverdue string `json:"oldestOverdue,omitempty"`
	OverdueHours  int    `json:"overdueHours,omitempty"`
	// FirstToDie is the account whose token's life ends first (the earlier
	// of its expiry and its data-access expiry), FirstExpiresAt
	// when (RFC 3339) and HoursLeft its remaining life in whole hours,
	// rounded down, negative once expired; unset without any known expiry.
	FirstToDie     string `json:"firstToDie,omitempty"`
	FirstExpiresAt string `json:"firstExpiresAt,omitempty"`
	HoursLeft      *int   `json:"hoursLeft,omitempty"`
}

// ErrOverdueAfter: the check was asked with a wait that is not positive.
var ErrOverdueAfter = errors.New("the wait before an account counts as overdue must be positive")

// Watch reads every account's state, in one batched read and without any
// other call, and reports which accounts passes no longer reach: an account
// is overdue once overdueAfter has passed since a pass should have worked
// on it: since it became due (RefreshAfter after its last refresh), or
// since it was last tried if that is later (an account that failed or
// needs a new login is tried on every pass). A healthy deployment never has one: each pass
// refreshes or tries every due account, and writes down when.
func (e *Engine) Watch(ctx context.Context, overdueAfter time.Duration) (Watch, error) {
	if err := e.checkStatus(); err != nil {
		return Watch{}, err
	}
	if e.RefreshAfter <= 0 {
		return Watch{}, errors.Join(ErrConfig, errors.New("RefreshAfter must be positive"))
	}
	if overdueAfter <= 0 {
		return Watch{}, ErrOverdueAfter
	}
	accounts, states, err := e.load(ctx)
	if err != nil {
		return Watch{}, err
	}
	now := e.now()
	phases := e.phases(accounts)
	w := Watch{Accounts: len(accounts)}
	var oldest, first time.Time
	for _, a := range accounts {
		st, ok := states[a.ID]
		if !ok || !st.Known() {
			w.Unprocessed++
			continue
		}
		if exp, _ := lifeEnds(st.ExpiresAt, st.DataAccessExpiresAt); !exp.IsZero() && (first.IsZero() || exp.Before(first)) {
			first, w.FirstToDie = exp, a.ID
		}
		since := e.expectedBy(st, phases[a.ID])
		if since.IsZero() || now.Sub(since) <= overdueAfter {
			continue
		}
		w.Overdue++
		if oldest.IsZero() || since.Before(oldest) {
			oldest, w.OldestOverdue = since, a.ID
		}
	}
	if w.Overdue > 0 {
		w.OverdueHours = int(now.Sub(oldest) / time.Hour)
	}
	if !first.IsZero() {
		w.FirstExpiresAt = timestamp(first)
		w.HoursLeft = hoursLeft(first, now)
	}
	return w, nil
}

// expectedBy is when a pass should last have worked on an account in state
// st: since then every pass refreshes or tries it, and records the attempt.
// That is when it became due, or, if a pass tried it since (one that
// failed or needs a new login is tried on every pass), that attempt. Zero
// means the state does not say. p is the account's phase, as the passes
// see it.
func (e *Engine) expectedBy(st State, p phase) time.Time {
	if st.RefreshedAt.IsZero() {
		return st.LastAttemptAt
	}
	if due := e.dueAt(st, p); due.After(st.LastAttemptAt) {
		return due
	}
	return st.LastAttemptAt
}
