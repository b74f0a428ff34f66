package refresh

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// accountsPerSlot is how many accounts a pass works on at once for each
// Threads slot. An account spends most of its time outside a slot, on
// store calls before its Threads call (lease, list, access) and after it
// (add, commit, prune): about six round trips to Google. To keep every slot
// busy, the accounts in flight must cover a slot's Threads call and those
// round trips, Concurrency × (1 + store time / Threads time): 2.8 ×
// Concurrency with 100 ms Threads answers and 30 ms Google calls. Four
// leaves room for slower calls, and bounds the Google calls in flight (and
// the leases held waiting for a slot) to 4 × Concurrency.
const accountsPerSlot = 4

// skippedMsg says why an account was left for the next pass.
const skippedMsg = "not started: the pass was too close to its deadline"

// errNoSlot: an account waited for its first Threads slot until too little
// time was left in the pass to make the call (StartBudget).
var errNoSlot = errors.New("no Threads slot came free before the pass's deadline")

// slots bounds the requests to Meta (Threads or Instagram) in flight in one
// pass to Concurrency: Meta's rate limits are per app and per user, so they
// are what Concurrency is for. A slot is held for one refresh attempt
// (with, after a refusal, the /me request that checks it) and nothing else:
// store calls before and after it, and the backoff waits between attempts,
// run outside, so that slots never wait on Google.
type slots struct {
	ch chan struct{}
	// cutoff is when an account still waiting for its first slot gives up
	// and is skipped; zero when the pass has no deadline.
	cutoff time.Time
}

func (e *Engine) newSlots(ctx context.Context) *slots {
	s := &slots{ch: make(chan struct{}, e.Concurrency)}
	if deadline, ok := ctx.Deadline(); ok {
		s.cutoff = deadline.Add(-StartBudget(e.ThreadsTimeout))
	}
	return s
}

// takeSlot waits for a slot and returns the function that gives it back.
// The first attempt of an account waits no later than the cutoff: an account
// that has its lease but no slot by then is skipped (errNoSlot), as one not
// started at all would be, so that nothing is refreshed too late to be
// stored. A retry waits as long as the account's context allows.
func (w *work) takeSlot(first bool) (release func(), err error) {
	ctx := w.ctx
	if err := ctx.Err(); err != nil {
		// A cancelled pass asks Meta nothing more. Decided here, not by the
		// select below, which with a slot free would choose at random.
		return nil, err
	}
	if first && !w.slots.cutoff.IsZero() && !time.Now().Before(w.slots.cutoff) {
		// Decided here rather than by a select between a free slot and
		// an ended context, which would choose at random.
		return nil, errNoSlot
	}
	if first && !w.slots.cutoff.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, w.slots.cutoff)
		defer cancel()
	}
	start := time.Now()
	select {
	case w.slots.ch <- struct{}{}:
	case <-ctx.Done():
		if err := w.ctx.Err(); err != nil {
			return nil, err
		}
		return nil, errNoSlot
	}
	// DEBUG lines for a person asking where a pass's time went (a long
	// wait means Concurrency is the bound); internal/bench reads them to
	// check that no Google call is made while a slot is held.
	w.log.LogAttrs(w.ctx, slog.LevelDebug, "threads slot taken",
		slog.String("waited", time.Since(start).Round(time.Millisecond).String()))
	return func() {
		w.log.LogAttrs(w.ctx, slog.LevelDebug, "threads slot given back")
		<-w.slots.ch
	}, nil
}
