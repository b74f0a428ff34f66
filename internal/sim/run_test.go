package sim

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/httpapi"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/syncbuf"
)

// start is when every simulated run begins (a bubble's clock starts in
// 2000; the driver sleeps to here first).
var start = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// Cloud Scheduler's retry of a failed run, as terraform/scheduler.tf sets
// it: 3 retries, waits from 60 s doubling up to 600 s.
const (
	schedulerRetries    = 3
	schedulerMinBackoff = 60 * time.Second
	schedulerMaxBackoff = 600 * time.Second
)

// config selects one run.
type config struct {
	seed  uint64
	days  int
	rates rates
	// outages are added to the ones drawn from the seed (scripted runs).
	outages []window
	// accounts are the accounts simulated; nil means threeAccounts.
	accounts []simAccount
	// firstTokenAge is the age of each account's first token when the run
	// starts; zero draws it, up to 50 days.
	firstTokenAge time.Duration
	// deployment, when set, replaces the one the seed picks.
	deployment *deployment
	// personAt are times after the start at which a person adds a token to
	// the first account (scripted runs).
	personAt []time.Duration
}

// threeAccounts: two with the usual JSON payload and one with a bare
// string. main is a Threads tester's, with a private profile (a 90-day
// data-access grant); the others' tokens Meta inspects only with an
// inspector account's (deployment.inspector). Whether Meta kills an
// account's old token when it refreshes it (Meta does not say) is drawn
// for each seed (drawRetire): some accounts of every seed, at least one.
var threeAccounts = []simAccount{{id: "main", tester: true, private: true}, {id: "brand"}, {id: "bare", bare: true}}

// simAccount is one account and what the invariants remember of it.
type simAccount struct {
	id     string
	acct   refresh.Account
	bare   bool // its payload is the bare token, not JSON
	retire bool // a refresh kills its old token
	// tester: its token may inspect tokens (debug_token); private: a
	// private profile, whose data access is a 90-day grant. A private
	// account is a tester here, so that the engine can learn its grant.
	tester, private bool

	// tokens maps version numbers to the tokens they hold (versions never
	// change, so each is read once).
	tokens map[int64]*token
	// Seen at the last inspection: the enabled versions, the newest one
	// and its token, their count and the state.
	versions  []refresh.Version
	newest    refresh.Version
	newestTok *token
	enabled   int
	state     refresh.State
	// allowance is how many more enabled versions than KEEP_VERSIONS+1
	// invariant 3 tolerates: versions a person added, destroys that failed,
	// passes that died between adding and pruning; it resets once the
	// secret is back to KEEP_VERSIONS.
	allowance int
	history   []told // completed passes' results over the last 15 days
	pending   bool   // a person is on the way
	mourned   *token // the last dead token counted in the summary
	// reauthFrom is when the latest pass that reported needs_reauth
	// began; zero once checked. handAdded is when a person last added a
	// token.
	reauthFrom, handAdded time.Time
	// deniedUntil: the function may not add versions to the secret until
	// then (rates.addDenied).
	deniedUntil time.Time
	dirty       bool // its secret was written since the last inspection
}

// told is one completed pass's result for an account.
type told struct {
	// at is when the pass ended, began when it began (and decided).
	at, began time.Time
	result    refresh.Result
	actor     int
}

// delivery is one Cloud Scheduler run of the hourly job: its first
// delivery and its retries.
type delivery struct{ hour int }

type event struct {
	at  time.Time
	seq int
	do  func()
}

type violation struct {
	inv  int
	at   time.Time
	what string
}

type stats struct {
	passes, calls, refreshed, crashes, duplicates, retries, handAdds, relogins, dead int
	// migrated: first tokens brought from elsewhere, issued long before
	// they were added; oldAdds: tokens a person added later that were;
	// accessRelogins: logins answering the life-left alert about data
	// access.
	migrated, oldAdds, accessRelogins int
	faults                            map[faultKind]int
	leastLife, longestGap             time.Duration
	// cancels: passes whose caller went away (or that met SIGTERM or the
	// function's timeout); lost: tokens Meta issued to the engine that no
	// version holds (invariant 10).
	cancels, lost int
}

// sim is one run: the driver's state. Only the driver goroutine touches it,
// except where a field says otherwise.
type sim struct {
	t      *testing.T
	cfg    config
	deploy deployment
	be     *backend
	clock  *clock
	ts     *turnstile
	model  *model
	engine *refresh.Engine
	logs   *syncbuf.Buffer
	rng    *rand.Rand
	// lat draws how long calls take (calls_test.go), apart from the faults.
	lat     *rand.Rand
	denied  *rand.Rand // draws rates.addDenied's refusals
	handler *httpapi.Handler
	plan    plan
	accts   map[string]*simAccount
	order   []*simAccount
	end     time.Time

	jitterMu sync.Mutex
	jitter   *rand.Rand

	events  []event
	seq     int
	actors  int
	running atomic.Int64
	// finished is appended to by actor goroutines.
	finMu    sync.Mutex
	finished []*actor

	// stateDirty: state was written since the last inspection.
	stateDirty bool
	quiet      bool // faults have stopped
	stopping   bool // an invariant broke: wind down
	first      *violation
	stats      stats
	// settle: the driver cancelled a pass's context while deciding a call;
	// the goroutines that woke must block again before the call goes on.
	settle bool
	digest hash.Hash64
	watch  []string // tokens whose middles the output scan looks for
	// verbose (SIM_TRACE set) logs every released call, for replaying a
	// failure with SIM_DAYS cut to just past it.
	verbose bool
}

// run simulates cfg on the backend open returns and reports its summary.
// The test fails at the first broken invariant.
func run(t *testing.T, cfg config, clk *clock, open func() *backend) (summary string) {
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(time.Until(start))
		s := newSim(t, cfg, clk, open())
		s.setup()
		s.loop()
		s.final()
		summary = s.summary()
		if s.first != nil {
			t.Error(s.report(t.Name()))
		}
	})
	return summary
}

func newSim(t *testing.T, cfg config, clk *clock, be *backend) *sim {
	s := &sim{
		t: t, cfg: cfg, be: be, clock: clk,
		ts:      newTurnstile(),
		logs:    &syncbuf.Buffer{},
		rng:     rand.New(rand.NewPCG(cfg.seed, streamFaults)),
		lat:     rand.New(rand.NewPCG(cfg.seed, streamLatency)),
		denied:  rand.New(rand.NewPCG(cfg.seed, streamDenied)),
		jitter:  rand.New(rand.NewPCG(cfg.seed, streamJitter)),
		accts:   map[string]*simAccount{},
		end:     start.Add(time.Duration(cfg.days) * 24 * time.Hour),
		digest:  fnv.New64a(),
		stats:   stats{faults: map[faultKind]int{}, leastLife: tokenLife},
		verbose: os.Getenv("SIM_TRACE") != "",
	}
	clk.set(start)
	s.deploy = deploymentOf(cfg.seed)
	if cfg.deployment != nil {
		s.deploy = *cfg.deployment
	}
	accounts := cfg.accounts
	if accounts == nil {
		accounts = drawRetire(cfg.seed, threeAccounts)
	}
	for _, a := range accounts {
		acct := a
		acct.acct = be.account(a.id)
		acct.tokens = map[int64]*token{}
		acct.dirty = true
		s.accts[a.id] = &acct
		s.order = append(s.order, &acct)
	}
	retire := map[string]bool{}
	clocks := metaClocks{testers: map[string]bool{}, private: map[string]bool{}, grants: map[string]time.Time{}, told: map[string]bool{},
		json: map[string]bool{}, shortLife: cfg.rates.shortLife}
	ids := make([]refresh.Account, len(s.order))
	for i, a := range s.order {
		retire[a.id] = a.retire
		clocks.testers[a.id], clocks.private[a.id], clocks.json[a.id] = a.tester, a.private, !a.bare
		ids[i] = a.acct
	}
	s.model = newModel(clk, cfg.seed, retire, clocks)
	s.plan = newPlan(s.rng, cfg.rates, start, s.end.Sub(start))
	s.plan.threads = append(s.plan.threads, cfg.outages...)
	logger := newAlertLogger(s.logs)
	s.engine = newEngine(s.deploy, faultySecrets{s, be.secrets}, faultyStates{s, be.states}, transport{s}, ids, logger, s.drawJitter)
	// As function.go serves it, PASS_TIMEOUT bounding each pass.
	s.handler = &httpapi.Handler{Engine: recordingEngine{s.engine}, Logger: logger, PassTimeout: s.deploy.passTimeout}
	return s
}

// drawRetire copies accounts with, for each, whether Meta kills its old
// token when it refreshes it: half of them on average, at least one, drawn
// from the seed's own stream.
func drawRetire(seed uint64, accounts []simAccount) []simAccount {
	rng := rand.New(rand.NewPCG(seed, streamAccounts))
	out := slices.Clone(accounts)
	any := false
	for i := range out {
		out[i].retire = rng.IntN(2) == 0
		any = any || out[i].retire
	}
	if !any {
		out[rng.IntN(len(out))].retire = true
	}
	return out
}

// drawJitter is the engine's jitter source. Draws happen right after a
// released call returns, in the goroutine that made it, so they come one
// at a time in the order of the releases.
func (s *sim) drawJitter() float64 {
	s.jitterMu.Lock()
	defer s.jitterMu.Unlock()
	return s.jitter.Float64()
}

// setup creates each account's secret and its first token, with no state
// yet: either added when it was issued, up to 50 days before the run
// starts, or (two in three, drawn) migrated: brought from a spreadsheet or
// a cron script and added as the run starts, issued up to 59.5 days
// before, so that it may have hours to live.
func (s *sim) setup() {
	ctx := context.Background()
	now := time.Now()
	for _, a := range s.order {
		s.clock.set(now)
		if err := s.be.create(ctx, a.acct); err != nil {
			s.t.Fatalf("creating the secret of %s: %v", a.id, err)
		}
		age := time.Duration(s.rng.Int64N(int64(50 * 24 * time.Hour)))
		added := now.Add(-age)
		migrated := s.rng.IntN(3) != 0
		if old := s.oldAge(); migrated {
			age, added = old, now
		}
		if s.cfg.firstTokenAge > 0 {
			age, added, migrated = s.cfg.firstTokenAge, now.Add(-s.cfg.firstTokenAge), false
		}
		if migrated {
			s.stats.migrated++
		}
		tok := s.model.login(a.id, now.Add(-age))
		s.clock.set(added)
		if _, err := calm(s.be, func() (refresh.Version, error) { return s.be.secrets.Add(ctx, a.acct, s.payloadOf(a, tok)) }); err != nil {
			s.t.Fatalf("adding the first token of %s: %v", a.id, err)
		}
		s.scheduleHandAdd(a, now)
	}
	for _, d := range s.cfg.personAt {
		s.push(now.Add(d), func() {
			s.stats.handAdds++
			s.personAdds(s.order[0], 0)
		})
	}
	s.clock.set(now)
	s.stateDirty = true
	s.push(now, func() { s.tick(0) })
}

func (s *sim) payloadOf(a *simAccount, t *token) []byte {
	if a.bare {
		return []byte(t.value)
	}
	return payload.New(t.value, "1789"+a.id, "user_"+a.id)
}

// loop is the driver: it releases waiting calls one at a time, in an order
// drawn from the seed, starts events when their time comes, and checks
// the invariants whenever no pass is running. Simulated time moves only
// when nothing waits and the driver blocks for the next event.
func (s *sim) loop() {
	for {
		synctest.Wait()
		// Everything due now starts before any call is released, so that
		// passes started at one instant run at once.
		if len(s.events) > 0 && !time.Now().Before(s.events[0].at) {
			next := s.events[0]
			s.events = s.events[1:]
			next.do()
			continue
		}
		if t := s.ts.take(s.rng.IntN); t != nil {
			now := time.Now()
			s.clock.set(now)
			v := s.decide(t, now)
			if s.settle {
				// A cancellation woke goroutines of the pass: they block again
				// (at the turnstile) before this call goes on.
				s.settle = false
				synctest.Wait()
			}
			t.ch <- v
			continue
		}
		if s.collect() && s.running.Load() == 0 {
			s.check()
		}
		if s.first != nil && !s.stopping {
			// Wind down: every call still to come finds its pass dead.
			s.stopping = true
			s.events = nil
		}
		if len(s.events) == 0 {
			if s.running.Load() == 0 {
				return
			}
			<-s.ts.wake
			continue
		}
		timer := time.NewTimer(time.Until(s.events[0].at))
		select {
		case <-s.ts.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// push schedules do at t; events at the same time run in the order pushed.
func (s *sim) push(t time.Time, do func()) {
	s.seq++
	e := event{at: t, seq: s.seq, do: do}
	i, _ := slices.BinarySearchFunc(s.events, e, func(x, y event) int {
		return cmp.Or(x.at.Compare(y.at), cmp.Compare(x.seq, y.seq))
	})
	s.events = slices.Insert(s.events, i, e)
}

func (s *sim) newActor() *actor {
	s.actors++
	return &actor{
		id: s.actors, started: time.Now(),
		perAcct: map[string]int{}, added: map[string]bool{}, pruned: map[string]bool{},
	}
}

// spawn runs body as actor a in a goroutine of the bubble, with ctx, a
// context carrying a.
func (s *sim) spawn(a *actor, ctx context.Context, body func(ctx context.Context)) {
	s.running.Add(1)
	go func() {
		defer func() {
			a.ended.Store(true)
			s.finMu.Lock()
			s.finished = append(s.finished, a)
			s.finMu.Unlock()
			s.running.Add(-1)
			s.ts.signal()
		}()
		body(ctx)
	}()
}

// scheduleHandAdd plans the next token a person adds to a unprompted
// (logging in again for their own reasons), if it falls within the run.
func (s *sim) scheduleHandAdd(a *simAccount, from time.Time) {
	if s.cfg.rates.handAddEvery <= 0 {
		return
	}
	at := from.Add(time.Duration(s.rng.ExpFloat64() * float64(s.cfg.rates.handAddEvery)))
	if at.Before(s.end) {
		s.push(at, func() {
			s.stats.handAdds++
			s.personAdds(a, 0)
			s.scheduleHandAdd(a, at)
		})
	}
}

// oldAge draws the age of a token a person brings from other glue: half
// the time one about to die (58 to 59.5 days old: the glue is being
// replaced because it failed), else any age up to 59.5 days.
func (s *sim) oldAge() time.Duration {
	if s.rng.IntN(2) == 0 {
		return oldestHandAdd - time.Duration(s.rng.Int64N(int64(36*time.Hour)))
	}
	return time.Duration(s.rng.Int64N(int64(oldestHandAdd)))
}

// oldestHandAdd is the oldest a token a person brings may be: 59.5 days, a
// token with half a day to live. People bring such tokens when they start
// (setup) and, now and then (rates.oldHandAdd), when a needs_reauth alert
// sends them to find a token and they paste one they had lying around.
const oldestHandAdd = 59*24*time.Hour + 12*time.Hour

// personAdds is a person adding a token issued age ago (zero: logging in
// again now) as a new version, as `gcloud secrets versions add` does
// (nothing beside the token says its age), without faults: a person
// retries until it works.
func (s *sim) personAdds(a *simAccount, age time.Duration) {
	p := s.newActor()
	p.person = true
	s.spawn(p, withActor(context.Background(), p), func(ctx context.Context) {
		v := s.ts.pass(ctx, a.id, opPersonAdd, "")
		tok := s.model.login(a.id, v.now.Add(-age))
		if _, err := calm(s.be, func() (refresh.Version, error) { return s.be.secrets.Add(ctx, a.acct, s.payloadOf(a, tok)) }); err != nil {
			s.t.Errorf("a person could not add a token to %s: %v", a.id, err)
		}
	})
	a.allowance++
}

// collect takes the actors that ended, in launch order, records what their
// passes reported, and schedules what follows: Cloud Scheduler's retries
// and a person answering an alert. It reports whether any ended.
func (s *sim) collect() bool {
	s.finMu.Lock()
	done := s.finished
	s.finished = nil
	s.finMu.Unlock()
	slices.SortFunc(done, func(x, y *actor) int { return cmp.Compare(x.id, y.id) })
	now := time.Now()
	for _, a := range done {
		if a.person {
			continue
		}
		s.record(a, now)
		if a.crashed || a.status >= 500 {
			s.retryLater(a, now)
		}
	}
	return len(done) > 0
}

// trace folds every release into the run's digest, which the summary
// prints: two runs of one seed that print the same digest made the same
// calls in the same order at the same simulated times.
func (s *sim) trace(t *ticket, now time.Time) {
	fmt.Fprintf(s.digest, "%d|%s|%s|%s|", t.actor.id, t.account, t.op, t.detail)
	_ = binary.Write(s.digest, binary.LittleEndian, now.UnixNano())
	if s.verbose {
		s.t.Logf("%s pass %d %s %s (phase %d) %s", now.Format(time.RFC3339Nano), t.actor.id, t.account, t.op, t.phase, t.detail)
	}
}
