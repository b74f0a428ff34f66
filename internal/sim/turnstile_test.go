package sim

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// An actor is one thread of the story whose calls the turnstile orders: a
// refresh pass (one delivery of Cloud Scheduler's request) or a person
// adding a token by hand.
type actor struct {
	id     int // launch order: the first part of every ordering key
	person bool
	// delivery is the scheduler job run a pass answers; nil for a person.
	delivery *delivery
	// attempt: 0 the first delivery, 1 to 3 Cloud Scheduler's retries, -1
	// a duplicate delivery.
	attempt int
	started time.Time

	// Set and read by the driver only (at release time).
	// crashed: its process died before one of its calls; from that call
	// on nothing it asks for happens.
	crashed bool
	// cancel ends the pass's context, as its caller going away does
	// (Cloud Run's request timeout, a closed connection, SIGTERM);
	// cancelled says it has; retried, that Cloud Scheduler saw the attempt
	// fail then, and scheduled its retry without waiting for the pass.
	cancel             context.CancelFunc
	cancelled, retried bool
	perAcct            map[string]int  // calls released so far, by account: the ordering key
	added              map[string]bool // accounts this pass added a version to
	pruned             map[string]bool // accounts this pass called Destroy for

	// Written by the actor's goroutine before it exits.
	report  refresh.Report
	passErr error
	// status and body are internal/httpapi's answer: what Cloud
	// Scheduler sees of the run.
	status int
	body   string
	// ended is set when the actor's goroutine returns; the model reads it
	// (invariant 11) from the goroutines of other passes.
	ended atomic.Bool

	// What the actor's calls left behind, by account (invariant 12):
	// written by its goroutines as their calls return, read by the driver
	// once the actor has ended.
	mu     sync.Mutex
	leases map[string]*leaseLife
	// lines are the "account processed" lines it logged, by account, as
	// Cloud Logging would store them (alerts_test.go), and errorLines its
	// other ERROR lines.
	lines      map[string]alertLine
	errorLines []string
	// asked: the accounts whose token it asked Meta to refresh; young:
	// those Meta refused as too young (invariant 13).
	asked, young map[string]bool
}

type actorKey struct{}

func withActor(ctx context.Context, a *actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// actorOf returns the actor a call belongs to. The engine derives every
// context it uses from the one given to Pass, so the pass travels with
// every call it makes, whatever goroutine makes it.
func actorOf(ctx context.Context) *actor {
	a, _ := ctx.Value(actorKey{}).(*actor)
	return a
}

// op names a call that passes the turnstile.
type op string

const (
	opLoad     op = "state.load"
	opLease    op = "state.lease"
	opCommit   op = "state.commit"
	opRelease  op = "state.release"
	opVersions op = "secrets.versions"
	opAccess   op = "secrets.access"
	opAdd      op = "secrets.add"
	opDestroy  op = "secrets.destroy"
	opThreads  op = "threads.refresh"
	// opInspect is a debug_token call, about the account of its input
	// token.
	opInspect   op = "threads.inspect"
	opPersonAdd op = "person.add"
)

// phase is where a call is in its life: starting (the driver decides its
// fate and how long it takes), landing (it takes effect, when that is not
// at once) or answering (its answer, or its caller's deadline, reaches
// the caller). A call passes the turnstile at each, so that the
// goroutines one instant wakes together still go on one at a time.
type phase int8

const (
	phaseStart phase = iota
	phaseLand
	phaseAnswer
)

func (o op) write() bool {
	switch o {
	case opLease, opCommit, opRelease, opAdd, opDestroy, opPersonAdd:
		return true
	}
	return false
}

// ticket is one call waiting at the turnstile.
type ticket struct {
	actor   *actor
	account string
	op      op
	phase   phase
	detail  string // tells apart two otherwise equal calls (a version number)
	ch      chan verdict
}

// verdict is what the driver decided for a released call.
type verdict struct {
	crash bool      // the actor's process is dead: the call has no effect
	fault faultKind // "" for none
	// outage: the fault is an outage's, which outlasts the client
	// library's own retries.
	outage bool
	now    time.Time
	// latency is how long the call takes from its start to its answer,
	// and land when, within that, it takes effect (zero: as it starts).
	latency, land time.Duration
}

// turnstile holds every store and Threads call of every actor until the
// driver releases it. The driver releases one call at a time, and only once
// every goroutine of the bubble is durably blocked (synctest.Wait), so the
// calls of concurrent passes interleave in an order chosen by the seed
// alone, whatever goroutines the engine runs them on.
type turnstile struct {
	mu      sync.Mutex
	waiting []*ticket
	// wake tells the driver that a call arrived or an actor ended. It is
	// buffered so that senders never block; a stale signal only makes the
	// driver look again.
	wake chan struct{}
}

func newTurnstile() *turnstile {
	return &turnstile{wake: make(chan struct{}, 1)}
}

func (ts *turnstile) signal() {
	select {
	case ts.wake <- struct{}{}:
	default:
	}
}

// pass blocks the calling goroutine until the driver releases its call and
// returns the driver's verdict. A call from no actor is a bug in the
// simulation (or a context the engine did not derive from the pass's).
func (ts *turnstile) pass(ctx context.Context, account string, o op, detail string) verdict {
	return ts.passAt(ctx, account, o, detail, phaseStart)
}

// passAt is pass for a call in phase ph.
func (ts *turnstile) passAt(ctx context.Context, account string, o op, detail string, ph phase) verdict {
	a := actorOf(ctx)
	if a == nil {
		panic("sim: a " + string(o) + " call carries no pass in its context")
	}
	t := &ticket{actor: a, account: account, op: o, phase: ph, detail: detail, ch: make(chan verdict, 1)}
	ts.mu.Lock()
	ts.waiting = append(ts.waiting, t)
	ts.mu.Unlock()
	ts.signal()
	return <-t.ch
}

// take removes and returns the waiting call at index pick(n) of the waiting
// calls in a canonical order, or nil when none waits. The order depends on
// what the calls are, never on when their goroutines got there.
func (ts *turnstile) take(pick func(n int) int) *ticket {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if len(ts.waiting) == 0 {
		return nil
	}
	slices.SortFunc(ts.waiting, func(x, y *ticket) int {
		return cmp.Or(
			cmp.Compare(x.actor.id, y.actor.id),
			cmp.Compare(x.account, y.account),
			cmp.Compare(x.actor.perAcct[x.account], y.actor.perAcct[y.account]),
			cmp.Compare(x.op, y.op),
			cmp.Compare(x.phase, y.phase),
			cmp.Compare(x.detail, y.detail),
		)
	})
	i := pick(len(ts.waiting))
	t := ts.waiting[i]
	ts.waiting = slices.Delete(ts.waiting, i, i+1)
	return t
}

// clock is the simulated time as the stores and Secret Manager see it. The
// bubble's own clock (time.Now inside it) cannot be read from outside the
// bubble, where the Google clients' calls run, so the driver copies it here
// before it releases each call; no simulated time passes during a call.
type clock struct{ ns atomic.Int64 }

func (c *clock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

// Now fits every `Now func() time.Time` knob.
func (c *clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }
