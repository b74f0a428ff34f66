package refresh

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// This file is how a pass lives within a secret store's per-minute quotas
// (Secret Manager's: README, "Secret Manager: the calls a refresh needs,
// and the quotas"). The store paces its own calls under budgets below the
// quotas; the engine only has to treat what the store says: a call the
// budget had no room for before the account must start its Meta calls
// leaves the account for the next pass (skipped, not failed), and a call
// the quota refused all the same (another application of the project took
// it) is waited out and tried again within the pass.

// Errors that paced stores wrap.
var (
	// ErrQuota: a quota of the store refused the call (Secret Manager's
	// RESOURCE_EXHAUSTED); it did not happen, and may succeed once the
	// quota refills. Stores wrap ErrUnavailable with it, so that a write
	// refused so is retried as any unavailable one.
	ErrQuota = errors.New("store quota exceeded")
	// ErrNoBudget: the store's own pacing had no room for the call before
	// the context's deadline, so it never sent it; a later try within that
	// deadline cannot do better.
	ErrNoBudget = errors.New("no room in the store's budget before the deadline")
)

// quotaWaitMax bounds one wait before a call a quota refused is tried
// again. Quotas per minute refill at the next minute at the latest, which
// waits from RetryBase doubling to this reach within about a minute.
const quotaWaitMax = 30 * time.Second

// noBudgetMsg says why an account was left for the next pass when the
// store's quotas had no room for it.
const noBudgetMsg = "not started: the secret store's quotas left no room for it before the pass's deadline; it comes first next pass"

// errNoBudget: an account's store calls before its Meta calls could not
// be made before its start cutoff (ErrNoBudget, or a quota refusal that
// lasted): Meta was never asked, and the account is left for the next
// pass.
var errNoBudget = errors.New("the secret store's quotas left no room before the account's start cutoff")

// storeWork is how many accounts a pass works on at once.
func (e *Engine) storeWork() int {
	n := e.Concurrency * accountsPerSlot
	if e.StoreWork > 0 {
		n = min(n, e.StoreWork)
	}
	return n
}

// startCutoff is when the account must have made its store calls to go on
// to Meta: StartBudget before the end of the pass (the slots' cutoff) or
// of its own AccountTimeout, whichever comes first. Zero when neither has
// a deadline.
func (w *work) startCutoff() time.Time {
	cutoff := w.slots.cutoff
	if deadline, ok := w.ctx.Deadline(); ok {
		if own := deadline.Add(-StartBudget(w.e.ThreadsTimeout)); cutoff.IsZero() || own.Before(cutoff) {
			cutoff = own
		}
	}
	return cutoff
}

// early makes a secret store call of the account's before its first call
// to Meta (listing, reading the payload), with a context that ends at the
// account's start cutoff, as the wait for its first Threads slot does: a
// store pacing its calls refuses at once a wait past that (ErrNoBudget).
// A call a quota refused (ErrQuota) is tried again after a backoff until
// the cutoff. Either way, an account that could not make the call in time
// gets errNoBudget, and is skipped: it has spent nothing of Meta's, and
// comes first next pass. Other errors are the call's.
func (w *work) early(call func(context.Context) error) error {
	ctx, cancel := w.ctx, context.CancelFunc(func() {})
	if cutoff := w.startCutoff(); !cutoff.IsZero() {
		ctx, cancel = context.WithDeadline(w.ctx, cutoff)
	}
	defer cancel()
	op := func() (struct{}, error) {
		err := call(ctx)
		switch {
		case err == nil:
			return struct{}{}, nil
		case errors.Is(err, ErrQuota) && !errors.Is(err, ErrNoBudget):
			w.log.Warn("a quota of the secret store refused a call; waiting for it to refill", "error", err.Error())
			return struct{}{}, err
		}
		return struct{}{}, backoff.Permanent(err)
	}
	_, err := retry(ctx, op, backoff.WithBackOff(w.e.backOff(quotaWaitMax)), backoff.WithMaxElapsedTime(0))
	if err != nil && w.ctx.Err() == nil && (errors.Is(err, ErrNoBudget) || errors.Is(err, ErrQuota) || ctx.Err() != nil) {
		return fmt.Errorf("%w: %w", errNoBudget, err)
	}
	return err
}

// skip leaves the account for the next pass, as one not started at all:
// the lease given back, nothing recorded, why in the report.
func (w *work) skip(why string) AccountReport {
	w.release()
	rep := reportOf(w.a.ID, ResultSkipped, w.leased)
	rep.Error = why
	return rep
}
