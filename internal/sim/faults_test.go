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
	// The Google backend's own (grpcfaults_test.go): another tenant has
	// spent the project's Secret Manager quota for the minute, so smfake
	// refuses the call (RESOURCE_EXHAUSTED); an access answer whose payload
	// was damaged on the way, under the checksum the service computed.
	faultSecretsQuota   faultKind = "secrets-quota"
	faultSecretsCorrupt faultKind = "secrets-corrupt"
	// faultSlow marks a slowdown's window.
	faultSlow faultKind = "slow"
)

// Streams of the seed: each kind of chance draws from its own PCG stream,
// so that the engine drawing one more jitter does not shift every fault.
const (
	streamFaults uint64 = iota + 1
	streamTokens
	streamJitter
	streamLatency
	streamAccounts
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

	// Time (calls_test.go). slowStore, slowThreads: a call is slow on its
	// own, from a second to past its client's timeout; slowdowns: latency
	// incidents per simulated year, of Meta and of each Google store, from
	// ten minutes to six hours, in which every call is slow.
	slowStore, slowThreads float64
	slowdowns              float64
	// cancel: a pass's caller goes away just before one of its calls (a
	// closed connection): its context is cancelled there and Cloud
	// Scheduler counts the attempt failed. sigterm: the instance is told
	// to stop just before one of its calls: the context is cancelled and
	// the process dies 10 s later (Cloud Run's grace period). Each call
	// alike, as for crashes. Every pass still running when the function's
	// timeout passes (PASS_TIMEOUT + 30 s, as Terraform sets it) is
	// cancelled too.
	cancel, sigterm float64
}

// sigtermGrace is how long Cloud Run lets an instance run after SIGTERM
// before it kills it.
const sigtermGrace = 10 * time.Second

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
		slowStore:      0.01,
		slowThreads:    0.02,
		slowdowns:      6,
		cancel:         0.002,
		sigterm:        0.001,
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
	r.slowStore = 0.03
	r.slowdowns = 24
	r.cancel = 0.005
	r.sigterm = 0.003
	return r
}

// window is a span of simulated time in which every call of one kind fails.
type window struct {
	from, to time.Time
	kind     faultKind
}

// plan is every outage and slowdown of a run, drawn before it starts.
type plan struct {
	threads, secrets, state             []window
	slowThreads, slowSecrets, slowState []window
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
		slow := func() faultKind { return faultSlow }
		p.slowThreads = append(p.slowThreads, windows(r.slowdowns, 10*time.Minute, 6*time.Hour, slow)...)
		p.slowSecrets = append(p.slowSecrets, windows(r.slowdowns, 10*time.Minute, 6*time.Hour, slow)...)
		p.slowState = append(p.slowState, windows(r.slowdowns, 10*time.Minute, 6*time.Hour, slow)...)
	}
	end := from.Add(span)
	for _, ws := range []*[]window{&p.threads, &p.secrets, &p.state, &p.slowThreads, &p.slowSecrets, &p.slowState} {
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

// injection is one store call's fault as it is applied where the store
// meets its client, and what became of the call there: the Google
// backend's interceptors apply it to the gRPC calls below secretstore and
// statestore (grpcfaults_test.go); for the embedded store, storeCall
// stands in for them.
type injection struct {
	op     op
	kind   faultKind
	outage bool
	// attempts counts the gRPC attempts of the call (the client library
	// retries some codes on some methods).
	attempts int
	// carried: the store carried the call out, whatever it answered; ok:
	// and answered without an error.
	carried, ok bool
}

type injectionKey struct{}

func withInjection(ctx context.Context, inj *injection) context.Context {
	return context.WithValue(ctx, injectionKey{}, inj)
}

func injectionOf(ctx context.Context) *injection {
	inj, _ := ctx.Value(injectionKey{}).(*injection)
	return inj
}

// storeCall is one store call as time passes (calls_test.go). It passes
// the turnstile as it starts, where the driver draws its fate and how long
// it takes; takes effect when it lands (as it starts, for most calls;
// part of the way through a slow one), passing the turnstile there; and
// passes it again as its answer reaches the caller. A call whose context
// has ended, or ends before it lands, does not happen: it fails as the
// store fails a call whose context has ended. One whose context ends after
// it landed has happened; a remote store's client then gives up on the
// answer (Secret Manager's and Firestore's clients answer DEADLINE_EXCEEDED
// or CANCELED, and secretstore makes that ErrUncertain for a write), which
// the call learns by asking the store again with the ended context, sent
// nowhere; the embedded store, in-process, answers anyway. A remote call
// also ends at its client's own timeout (storeCallTimeout). A dead pass's
// call does nothing, from whichever phase it finds its process dead.
//
// The faults: an unavailable store does nothing; an uncertain write lands
// and then fails as a deadline; the Google backend adds quota refusals
// (smfake's own, after another tenant spent the minute's quota) and
// corrupted payloads. Where the backend applies a kind below the adapters
// (injects), the adapters classify what they get; elsewhere the errors are
// made here, carrying the refresh sentinels as secretstore sets them for
// Secret Manager and as plain gRPC statuses, as statestore returns them,
// for the state store. landed, when set, hears whether the call landed.
func storeCall[T any](s *sim, ctx context.Context, account string, o op, detail string, landed func(*injection), do func(context.Context) (T, error)) (T, error) {
	var zero T
	f := s.takeOff(ctx, account, o, detail)
	inj := &injection{op: o, kind: f.v.fault, outage: f.v.outage}
	if f.v.crash {
		s.noteStoreCall(f, inj, "its process had died")
		return zero, errCrashed
	}
	if s.be.remote {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, storeCallTimeout)
		defer cancel()
		f.ctx = ctx
	}
	if ctx.Err() != nil {
		// Sent nowhere: the store's own answer to an ended context.
		s.noteStoreCall(f, inj, "its context had ended before it began")
		return do(ctx)
	}
	if f.v.land > 0 {
		if f.waitUntil(f.v.land) {
			s.noteStoreCall(f, inj, "its context ended before it landed")
			if f.next(phaseAnswer) {
				return zero, errCrashed
			}
			return do(ctx)
		}
		if f.next(phaseLand) {
			s.noteStoreCall(f, inj, "its process had died")
			return zero, errCrashed
		}
	}
	r, err := applyFault(s, ctx, inj, do)
	if landed != nil {
		landed(inj)
	}
	cut := f.waitUntil(f.v.latency)
	s.noteStoreCall(f, inj, "")
	if f.next(phaseAnswer) {
		return zero, errCrashed
	}
	if cut && s.be.remote {
		// The answer is lost: the client says so its own way.
		_, err := do(ctx)
		return zero, err
	}
	return r, err
}

// applyFault makes the call, with its fault. It records in inj whether the
// store carried the call out.
func applyFault[T any](s *sim, ctx context.Context, inj *injection, do func(context.Context) (T, error)) (T, error) {
	var zero T
	o := opOfFault(inj.kind)
	if inj.kind != "" && s.be.injects != nil && s.be.injects(inj) {
		return do(withInjection(ctx, inj))
	}
	switch inj.kind {
	case faultSecretsDown:
		return zero, fmt.Errorf("sim: %s: %w: %w", o, refresh.ErrUnavailable, status.Error(codes.Unavailable, "injected outage"))
	case faultStateDown:
		return zero, fmt.Errorf("sim: %s: %w", o, status.Error(codes.Unavailable, "injected outage"))
	}
	if s.be.remote {
		// The interceptors record what the store did.
		r, err := do(withInjection(ctx, inj))
		if err != nil || inj.kind == "" {
			return r, err
		}
	} else {
		r, err := do(ctx)
		inj.carried, inj.ok = !cutByDeadline(err), err == nil
		if err != nil || inj.kind == "" {
			return r, err
		}
	}
	switch inj.kind {
	case faultSecretsUncertain:
		return zero, fmt.Errorf("sim: %s: %w: %w", o, refresh.ErrUncertain, status.Error(codes.DeadlineExceeded, "injected: the write landed, its answer was lost"))
	case faultStateUncertain:
		return zero, fmt.Errorf("sim: %s: %w", o, status.Error(codes.DeadlineExceeded, "injected: the write landed, its answer was lost"))
	}
	panic("sim: no way to apply fault " + string(inj.kind) + " here")
}

// opOfFault names the store a fault is of, in the errors made for it.
func opOfFault(k faultKind) string {
	switch k {
	case faultStateDown, faultStateUncertain:
		return "state store"
	}
	return "Secret Manager"
}

// faultySecrets and faultyStates wrap a backend's stores with the
// turnstile and the faults, the same for every backend.
type faultySecrets struct {
	s     *sim
	inner refresh.SecretStore
}

func (f faultySecrets) Versions(ctx context.Context, a refresh.Account) ([]refresh.Version, error) {
	return storeCall(f.s, ctx, a.ID, opVersions, "", nil, func(ctx context.Context) ([]refresh.Version, error) { return f.inner.Versions(ctx, a) })
}

func (f faultySecrets) Access(ctx context.Context, a refresh.Account, v refresh.Version) ([]byte, error) {
	return storeCall(f.s, ctx, a.ID, opAccess, strconv.FormatInt(v.Number, 10), nil, func(ctx context.Context) ([]byte, error) { return f.inner.Access(ctx, a, v) })
}

func (f faultySecrets) Add(ctx context.Context, a refresh.Account, payload []byte) (refresh.Version, error) {
	landed := func(inj *injection) {
		if inj.carried && (inj.ok || inj.kind == faultSecretsUncertain) {
			f.s.model.stored(payload)
		}
	}
	return storeCall(f.s, ctx, a.ID, opAdd, "", landed, func(ctx context.Context) (refresh.Version, error) { return f.inner.Add(ctx, a, payload) })
}

func (f faultySecrets) Destroy(ctx context.Context, a refresh.Account, v refresh.Version) error {
	_, err := storeCall(f.s, ctx, a.ID, opDestroy, strconv.FormatInt(v.Number, 10), nil, func(ctx context.Context) (struct{}, error) { return struct{}{}, f.inner.Destroy(ctx, a, v) })
	return err
}

type faultyStates struct {
	s     *sim
	inner refresh.StateStore
}

func (f faultyStates) Load(ctx context.Context, accounts []refresh.Account) (map[string]refresh.State, error) {
	return storeCall(f.s, ctx, "", opLoad, "", nil, func(ctx context.Context) (map[string]refresh.State, error) { return f.inner.Load(ctx, accounts) })
}

func (f faultyStates) Lease(ctx context.Context, a refresh.Account, owner string, until time.Time, read refresh.State) (refresh.State, error) {
	st, err := storeCall(f.s, ctx, a.ID, opLease, "", nil, func(ctx context.Context) (refresh.State, error) { return f.inner.Lease(ctx, a, owner, until, read) })
	if err == nil {
		f.s.leaseOf(ctx, a.ID).held = true
	}
	return st, err
}

func (f faultyStates) Commit(ctx context.Context, a refresh.Account, owner string, st refresh.State) error {
	_, err := storeCall(f.s, ctx, a.ID, opCommit, "", nil, func(ctx context.Context) (struct{}, error) { return struct{}{}, f.inner.Commit(ctx, a, owner, st) })
	return err
}

func (f faultyStates) Release(ctx context.Context, a refresh.Account, owner string, leased refresh.State) error {
	_, err := storeCall(f.s, ctx, a.ID, opRelease, "", nil, func(ctx context.Context) (struct{}, error) { return struct{}{}, f.inner.Release(ctx, a, owner, leased) })
	return err
}

// decide draws the fate of a released call: the driver's only source of
// chance while passes run, called one call at a time. Only a call's start
// draws (its fault, its timing, and whether its pass dies or is cancelled
// just before it); its later phases learn whether the pass has died.
func (s *sim) decide(t *ticket, now time.Time) verdict {
	v := verdict{now: now}
	a := t.actor
	a.perAcct[t.account]++
	s.trace(t, now)
	if t.phase != phaseStart {
		v.crash = a.crashed || s.stopping
		return v
	}
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
	live := !a.crashed && !s.stopping && !s.quiet
	if live && s.rng.Float64() < s.cfg.rates.crash {
		s.crashed(a)
	}
	if a.crashed || s.stopping {
		v.crash = true
		return v
	}
	if live && !a.cancelled {
		switch x := s.rng.Float64(); {
		case x < s.cfg.rates.cancel:
			s.giveUp(a, "its caller went away")
		case x < s.cfg.rates.cancel+s.cfg.rates.sigterm:
			s.giveUp(a, "SIGTERM")
			s.push(now.Add(sigtermGrace), func() { s.kill(a) })
		}
	}
	if !s.quiet {
		v.fault, v.outage = s.fault(t.op, now)
	}
	if v.fault != "" {
		s.stats.faults[v.fault]++
		if s.verbose {
			s.t.Logf("  fault: %s", v.fault)
		}
	}
	if t.op != opPersonAdd {
		v.latency, v.land = s.timing(t.op, now)
	}
	switch {
	case t.op == opAdd && v.fault != faultSecretsDown:
		a.added[t.account] = true
	case t.op == opDestroy:
		a.pruned[t.account] = true
	}
	return v
}

// fault draws the failure, if any, of a call of op at now, and whether it
// is an outage's.
func (s *sim) fault(o op, now time.Time) (faultKind, bool) {
	r := s.cfg.rates
	switch o {
	case opThreads, opInspect:
		if k := at(s.plan.threads, now); k != "" {
			return k, true
		}
		if s.rng.Float64() < r.threadsCall {
			return drawThreadsKind(s.rng, false), false
		}
	case opVersions, opAccess, opAdd, opDestroy:
		k, outage := s.storeFault(o, now, s.plan.secrets, faultSecretsDown, faultSecretsUncertain)
		if k == faultSecretsDown && !outage && s.be.injects != nil {
			// The Google backend: half of Secret Manager's own refusals are
			// a quota another tenant spent; and now and then an access
			// answer comes back damaged.
			switch {
			case o != opAccess && s.rng.IntN(2) == 0:
				k = faultSecretsQuota
			}
		}
		if k == "" && o == opAccess && s.be.injects != nil && s.rng.Float64() < r.storeCall {
			k = faultSecretsCorrupt
		}
		return k, outage
	case opLoad, opLease, opCommit, opRelease:
		return s.storeFault(o, now, s.plan.state, faultStateDown, faultStateUncertain)
	}
	return "", false
}

func (s *sim) storeFault(o op, now time.Time, outages []window, down, uncertain faultKind) (faultKind, bool) {
	if at(outages, now) != "" {
		return down, true
	}
	r, x := s.cfg.rates, s.rng.Float64()
	switch {
	case x < r.storeCall:
		return down, false
	case o.write() && x < r.storeCall+r.uncertain:
		return uncertain, false
	}
	return "", false
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
