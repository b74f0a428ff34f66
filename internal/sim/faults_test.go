package sim

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
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
	// faultSecretsDenied: the function may not add versions to one
	// secret for a while (rates.addDenied).
	faultSecretsDenied faultKind = "secrets-add-denied"
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
	streamDenied
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
	// addDenied: a change to one secret's IAM policy (Terraform applied
	// from a branch without the function's role on it, a person tidying
	// permissions) refuses the function's adds to that secret with
	// PERMISSION_DENIED for 10 minutes to 6 hours; drawn at this share of
	// the adds of accounts whose old token survives a refresh. There the
	// refreshed token is lost and the old one still works, so the engine
	// must say so where an alert reads it (invariant 10). Where Meta kills
	// the old token no engine could keep the account alive through it, so
	// none is drawn there.
	addDenied float64
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
		addDenied:      0.01,
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
	r.addDenied = 0.03
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
		if t.op == opAdd && s.addDenied(s.accts[t.account], now) && v.fault == "" {
			v.fault = faultSecretsDenied
		}
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
	case t.op == opAdd && v.fault != faultSecretsDown && v.fault != faultSecretsDenied:
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

// addDenied reports whether the function may not add versions to acct's
// secret at now (rates.addDenied), drawing a new refusal from its own
// stream, so that it never shifts the other faults.
func (s *sim) addDenied(acct *simAccount, now time.Time) bool {
	if acct.retire {
		return false
	}
	if now.Before(acct.deniedUntil) {
		return true
	}
	if s.denied.Float64() < s.cfg.rates.addDenied {
		acct.deniedUntil = now.Add(logUniform(s.denied, 10*time.Minute, 6*time.Hour))
		return true
	}
	return false
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
