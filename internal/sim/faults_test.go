package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// faultKind names an injected failure; the summary counts them by kind.
type faultKind string

const (
	faultThreadsHTML    faultKind = "threads-html-502"
	faultThreads5xx     faultKind = "threads-503"
	faultThreadsTimeout faultKind = "threads-timeout"
	// faultThreadsLost: Meta refreshed the token, then the answer was lost
	// (the client times out).
	faultThreadsLost      faultKind = "threads-lost-answer"
	faultRateApp          faultKind = "threads-rate-limit-4"
	faultRateUser         faultKind = "threads-rate-limit-17"
	faultRateCustom       faultKind = "threads-rate-limit-613"
	faultSecretsDown      faultKind = "secrets-unavailable"
	faultSecretsUncertain faultKind = "secrets-uncertain"
	faultStateDown        faultKind = "state-unavailable"
	faultStateUncertain   faultKind = "state-uncertain"
)

// Streams of the seed: each kind of chance draws from its own PCG stream,
// so that the engine drawing one more jitter does not shift every fault.
const (
	streamFaults uint64 = iota + 1
	streamTokens
	streamJitter
)

// rates are the chances of the faults. Zero values inject nothing.
type rates struct {
	// threadsCall: a Threads call fails on its own, outside any outage.
	threadsCall float64
	// storeCall: a Secret Manager or state store call is unavailable.
	storeCall float64
	// uncertain: a store write lands but its caller sees a deadline.
	uncertain float64
	// crash: a pass's process dies just before one of its calls, each
	// call alike, so that a pass working on more accounts dies more often.
	crash float64
	// duplicate: a scheduled run is delivered two or three times.
	duplicate float64
	// handAddEvery: the mean time between tokens a person adds unprompted
	// (new logins); oldHandAdd: the chance that the token a person adds
	// after a needs_reauth was issued long before (up to 59.5 days), one
	// kept from other glue.
	handAddEvery time.Duration
	oldHandAdd   float64
	// shortLife: the chance that a refresh answer gives the new token a
	// short life (30 hours to 10 days; Meta says "use the value").
	shortLife float64
	// Outages per simulated year: of Threads, each from a minute to 30
	// days, and of each store, from a minute to six hours.
	threadsOutages, storeOutages float64
}

// defaultRates are the faults of an ordinary run: a harsher year than any
// real one.
func defaultRates() rates {
	return rates{
		threadsCall:    0.03,
		storeCall:      0.01,
		uncertain:      0.01,
		crash:          0.005,
		duplicate:      0.05,
		handAddEvery:   90 * 24 * time.Hour,
		oldHandAdd:     0.5,
		shortLife:      0.05,
		threadsOutages: 4,
		storeOutages:   6,
	}
}

// denseRates are the faults of a short run (the Google adapters' 30 days):
// several times as frequent, so that a month meets every kind.
func denseRates() rates {
	r := defaultRates()
	r.threadsCall = 0.05
	r.storeCall = 0.03
	r.uncertain = 0.03
	r.crash = 0.02
	r.duplicate = 0.05
	r.handAddEvery = 20 * 24 * time.Hour
	r.threadsOutages = 36
	r.storeOutages = 24
	return r
}

// window is a span of simulated time in which every call of one kind fails.
type window struct {
	from, to time.Time
	kind     faultKind
}

// plan is every outage of a run, drawn before it starts.
type plan struct {
	threads, secrets, state []window
}

// Threads failures, by weight, for calls failing on their own and for
// outages.
var threadsKinds = []struct {
	kind   faultKind
	weight int
}{
	{faultThreadsHTML, 20}, {faultThreads5xx, 20}, {faultThreadsTimeout, 20}, {faultThreadsLost, 8},
	{faultRateApp, 11}, {faultRateUser, 11}, {faultRateCustom, 10},
}

func drawThreadsKind(rng *rand.Rand, outage bool) faultKind {
	total := 0
	for _, k := range threadsKinds {
		total += k.weight
	}
	for {
		n := rng.IntN(total)
		for _, k := range threadsKinds {
			if n < k.weight {
				// An outage answers nothing at all rather than losing
				// answers to calls it served.
				if outage && k.kind == faultThreadsLost {
					break
				}
				return k.kind
			}
			n -= k.weight
		}
	}
}

// logUniform draws a duration between lo and hi whose logarithm is uniform:
// most outages are short, a few are long.
func logUniform(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	l, h := math.Log(float64(lo)), math.Log(float64(hi))
	return time.Duration(math.Exp(l + rng.Float64()*(h-l)))
}

// count draws how many of a thing happening perYear times a year happen in
// a year.
func count(rng *rand.Rand, perYear float64) int {
	n := int(perYear)
	if rng.Float64() < perYear-float64(n) {
		n++
	}
	return n
}

// year is the span the plan is drawn in: a run draws the outages of whole
// years, so that cutting SIM_DAYS replays the same days (to trace a failure).
const year = 365 * 24 * time.Hour

func newPlan(rng *rand.Rand, r rates, from time.Time, span time.Duration) plan {
	var p plan
	threads := func() faultKind { return drawThreadsKind(rng, true) }
	for y := from; y.Before(from.Add(span)); y = y.Add(year) {
		windows := func(perYear float64, lo, hi time.Duration, kind func() faultKind) []window {
			var ws []window
			for range count(rng, perYear) {
				at := y.Add(time.Duration(rng.Int64N(int64(year))))
				ws = append(ws, window{from: at, to: at.Add(logUniform(rng, lo, hi)), kind: kind()})
			}
			return ws
		}
		p.threads = append(p.threads, windows(r.threadsOutages, time.Minute, 30*24*time.Hour, threads)...)
		p.secrets = append(p.secrets, windows(r.storeOutages, time.Minute, 6*time.Hour, func() faultKind { return faultSecretsDown })...)
		p.state = append(p.state, windows(r.storeOutages, time.Minute, 6*time.Hour, func() faultKind { return faultStateDown })...)
	}
	end := from.Add(span)
	for _, ws := range []*[]window{&p.threads, &p.secrets, &p.state} {
		*ws = slices.DeleteFunc(*ws, func(w window) bool { return !w.from.Before(end) })
		slices.SortFunc(*ws, func(a, b window) int { return a.from.Compare(b.from) })
	}
	return p
}

// at returns the kind of the outage under way at t, or "".
func at(ws []window, t time.Time) faultKind {
	for _, w := range ws {
		if !t.Before(w.from) && t.Before(w.to) {
			return w.kind
		}
	}
	return ""
}

// errCrashed is what every call of a dead pass gets: nothing it asks for
// happens. The engine goes on with its goroutines (they are real), but its
// report and every later call are the dead process's and count for nothing.
var errCrashed = errors.New("sim: the pass's process is dead")

// storeCall passes a store call through the turnstile and applies the
// driver's verdict: a dead pass's call does nothing, an unavailable store
// does nothing, an uncertain write lands and then fails as a deadline.
// Secret Manager errors carry the refresh sentinels as secretstore sets
// them; state store errors are plain gRPC statuses, as statestore returns
// them.
func storeCall[T any](s *sim, ctx context.Context, account string, o op, detail string, do func() (T, error)) (T, error) {
	var zero T
	v := s.ts.pass(ctx, account, o, detail)
	switch {
	case v.crash:
		return zero, errCrashed
	case v.fault == faultSecretsDown:
		return zero, fmt.Errorf("sim: %s: %w: %w", o, refresh.ErrUnavailable, status.Error(codes.Unavailable, "injected outage"))
	case v.fault == faultStateDown:
		return zero, fmt.Errorf("sim: %s: %w", o, status.Error(codes.Unavailable, "injected outage"))
	}
	r, err := do()
	switch {
	case err != nil:
		return r, err
	case v.fault == faultSecretsUncertain:
		return zero, fmt.Errorf("sim: %s: %w: %w", o, refresh.ErrUncertain, status.Error(codes.DeadlineExceeded, "injected: the write landed, its answer was lost"))
	case v.fault == faultStateUncertain:
		return zero, fmt.Errorf("sim: %s: %w", o, status.Error(codes.DeadlineExceeded, "injected: the write landed, its answer was lost"))
	}
	return r, nil
}

// faultySecrets and faultyStates wrap a backend's stores with the
// turnstile and the faults, the same for every backend.
type faultySecrets struct {
	s     *sim
	inner refresh.SecretStore
}

func (f faultySecrets) Versions(ctx context.Context, a refresh.Account) ([]refresh.Version, error) {
	return storeCall(f.s, ctx, a.ID, opVersions, "", func() ([]refresh.Version, error) { return f.inner.Versions(ctx, a) })
}

func (f faultySecrets) Access(ctx context.Context, a refresh.Account, v refresh.Version) ([]byte, error) {
	return storeCall(f.s, ctx, a.ID, opAccess, strconv.FormatInt(v.Number, 10), func() ([]byte, error) { return f.inner.Access(ctx, a, v) })
}

func (f faultySecrets) Add(ctx context.Context, a refresh.Account, payload []byte) (refresh.Version, error) {
	return storeCall(f.s, ctx, a.ID, opAdd, "", func() (refresh.Version, error) { return f.inner.Add(ctx, a, payload) })
}

func (f faultySecrets) Destroy(ctx context.Context, a refresh.Account, v refresh.Version) error {
	_, err := storeCall(f.s, ctx, a.ID, opDestroy, strconv.FormatInt(v.Number, 10), func() (struct{}, error) { return struct{}{}, f.inner.Destroy(ctx, a, v) })
	return err
}

type faultyStates struct {
	s     *sim
	inner refresh.StateStore
}

func (f faultyStates) Load(ctx context.Context, accounts []refresh.Account) (map[string]refresh.State, error) {
	return storeCall(f.s, ctx, "", opLoad, "", func() (map[string]refresh.State, error) { return f.inner.Load(ctx, accounts) })
}

func (f faultyStates) Lease(ctx context.Context, a refresh.Account, owner string, until time.Time, read refresh.State) (refresh.State, error) {
	return storeCall(f.s, ctx, a.ID, opLease, "", func() (refresh.State, error) { return f.inner.Lease(ctx, a, owner, until, read) })
}

func (f faultyStates) Commit(ctx context.Context, a refresh.Account, owner string, st refresh.State) error {
	_, err := storeCall(f.s, ctx, a.ID, opCommit, "", func() (struct{}, error) { return struct{}{}, f.inner.Commit(ctx, a, owner, st) })
	return err
}

func (f faultyStates) Release(ctx context.Context, a refresh.Account, owner string, leased refresh.State) error {
	_, err := storeCall(f.s, ctx, a.ID, opRelease, "", func() (struct{}, error) { return struct{}{}, f.inner.Release(ctx, a, owner, leased) })
	return err
}

// decide draws the fate of a released call: the driver's only source of
// chance while passes run, called one call at a time.
func (s *sim) decide(t *ticket, now time.Time) verdict {
	v := verdict{now: now}
	a := t.actor
	a.perAcct[t.account]++
	s.trace(t, now)
	s.stats.calls++
	switch t.op {
	case opPersonAdd:
		s.accts[t.account].dirty = true
		s.accts[t.account].handAdded = now
	case opAdd, opDestroy:
		s.accts[t.account].dirty = true
	case opLease, opCommit, opRelease:
		s.stateDirty = true
	}
	if a.person {
		return v
	}
	if !a.crashed && !s.stopping && !s.quiet && t.op != opThreadsEnd && s.rng.Float64() < s.cfg.rates.crash {
		s.crashed(a)
	}
	if a.crashed || s.stopping {
		v.crash = true
		return v
	}
	if !s.quiet && t.op != opThreadsEnd {
		v.fault = s.fault(t.op, now)
	}
	if v.fault != "" {
		s.stats.faults[v.fault]++
		if s.verbose {
			s.t.Logf("  fault: %s", v.fault)
		}
	}
	switch {
	case t.op == opAdd && v.fault != faultSecretsDown:
		a.added[t.account] = true
	case t.op == opDestroy && v.fault == faultSecretsDown:
		// A version the engine meant to destroy stays: invariant 3 allows
		// one more.
		s.accts[t.account].allowance++
	case t.op == opDestroy:
		a.pruned[t.account] = true
	}
	return v
}

// fault draws the failure, if any, of a call of op at now.
func (s *sim) fault(o op, now time.Time) faultKind {
	r := s.cfg.rates
	switch o {
	case opThreads, opInspect:
		if k := at(s.plan.threads, now); k != "" {
			return k
		}
		if s.rng.Float64() < r.threadsCall {
			return drawThreadsKind(s.rng, false)
		}
	case opVersions, opAccess, opAdd, opDestroy:
		return s.storeFault(o, now, s.plan.secrets, faultSecretsDown, faultSecretsUncertain)
	case opLoad, opLease, opCommit, opRelease:
		return s.storeFault(o, now, s.plan.state, faultStateDown, faultStateUncertain)
	}
	return ""
}

func (s *sim) storeFault(o op, now time.Time, outages []window, down, uncertain faultKind) faultKind {
	if at(outages, now) != "" {
		return down
	}
	r, x := s.cfg.rates, s.rng.Float64()
	switch {
	case x < r.storeCall:
		return down
	case o.write() && x < r.storeCall+r.uncertain:
		return uncertain
	}
	return ""
}

// crashed records that pass a died before its current call.
func (s *sim) crashed(a *actor) {
	a.crashed = true
	s.stats.crashes++
	for acct := range a.added {
		if !a.pruned[acct] {
			// It died between adding a version and destroying the oldest.
			s.accts[acct].allowance++
		}
	}
}
