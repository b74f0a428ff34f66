package sim

import (
	"context"
	"errors"
	"math"
	"time"
)

// Time as it really passes: every store and Threads call takes time, drawn
// from the seed when it starts. Most take milliseconds (a log-normal around
// a median); now and then one is slow, from a second to past its client's
// own timeout, and in a slowdown (plan.slow: Google's or Meta's latency
// incidents) every call is. A slow call takes effect part of the way
// through (the server applies it when it gets to it), so a deadline can
// end it before it lands (it did not happen) or after (it happened and the
// answer is lost); a fast one takes effect as it starts.
const (
	storeMedian   = 20 * time.Millisecond
	threadsMedian = 150 * time.Millisecond
	// callSpread is the log-normal's sigma: nine calls in ten within a
	// factor of two of the median.
	callSpread = 0.6
	// slowFrom is the least a slow call takes.
	slowFrom = time.Second
	// storeCallTimeout is the Google clients' own timeout of one call
	// (secretmanager and firestore apiv1: 60 s); storeSlowest, past it,
	// is the most a slow store call would take.
	storeCallTimeout = 60 * time.Second
	storeSlowest     = 75 * time.Second
	// threadsSlowest is past the threads client's per-request timeout
	// (threadsTimeout): Meta answering later than that is an answer lost.
	threadsSlowest = 15 * time.Second
	// slowWrite is the time a finishing write's store may take to carry it
	// out before invariant 12 holds it against the store rather than the
	// engine: a store that answers within it must see every commit and
	// release of a live pass land (the engine gives them 30 s of their own).
	slowWrite = 20 * time.Second
)

// timing draws how long a call of op started at now takes, and when within
// that it takes effect (zero: as it starts). It draws from the latency
// stream, so that timing never shifts the faults.
func (s *sim) timing(o op, now time.Time) (latency, land time.Duration) {
	r := s.cfg.rates
	median, slowest, rate, windows := storeMedian, storeSlowest, r.slowStore, s.plan.slowState
	switch o {
	case opThreads, opInspect:
		median, slowest, rate, windows = threadsMedian, threadsSlowest, r.slowThreads, s.plan.slowThreads
	case opVersions, opAccess, opAdd, opDestroy:
		windows = s.plan.slowSecrets
	}
	if !s.quiet && (at(windows, now) != "" || s.lat.Float64() < rate) {
		latency = logUniform(s.lat, slowFrom, slowest)
		return latency, time.Duration(s.lat.Float64() * float64(latency))
	}
	return time.Duration(float64(median) * math.Exp(callSpread*s.lat.NormFloat64())), 0
}

// flight is one call in flight, as its caller's goroutine lives it: the
// start's verdict (fate and timing), and the context it runs under.
type flight struct {
	s       *sim
	ctx     context.Context
	account string
	op      op
	detail  string
	v       verdict
}

// takeOff passes the turnstile as a call starts.
func (s *sim) takeOff(ctx context.Context, account string, o op, detail string) *flight {
	return &flight{s: s, ctx: ctx, account: account, op: o, detail: detail, v: s.ts.pass(ctx, account, o, detail)}
}

// waitUntil waits until d after the call's start, or until its context
// ends, and reports whether the context has ended: a wake-up and the end
// of the context at one instant count as the end, whichever woke it.
func (f *flight) waitUntil(d time.Duration) (ended bool) {
	if left := time.Until(f.v.now.Add(d)); left > 0 && f.ctx.Err() == nil {
		timer := time.NewTimer(left)
		select {
		case <-timer.C:
		case <-f.ctx.Done():
		}
		timer.Stop()
	}
	return f.ctx.Err() != nil
}

// waitForEnd waits for the call's context to end: an answer that never
// comes.
func (f *flight) waitForEnd() { <-f.ctx.Done() }

// next passes the turnstile in phase ph and reports whether the pass's
// process has died since the call began.
func (f *flight) next(ph phase) (dead bool) {
	return f.s.ts.passAt(f.ctx, f.account, f.op, f.detail, ph).crash
}

// cutByDeadline reports whether err is what a call gets when its context
// ends: then the call may have been cut short by time, not refused.
func cutByDeadline(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
