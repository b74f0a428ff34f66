package refresh

import (
	"context"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/threads-token-refresher/threads-token-refresher/internal/logging"
)

// skipMargin is added to three Threads timeouts to decide that too little
// time is left to start another account: an account may take three Threads
// attempts and a few store calls.
const skipMargin = 10 * time.Second

// StartBudget is the time a pass must have left to start one more account
// (three Threads attempts and a few store calls); with less, the account is
// skipped. The Terraform module's minimum timeout_seconds is derived from
// it, and a test in internal/config keeps the two in step.
func StartBudget(threadsTimeout time.Duration) time.Duration {
	return 3*threadsTimeout + skipMargin
}

// passOverhead is what a pass spends besides an account's Meta calls: the
// batched state read and one account's store calls.
const passOverhead = 20 * time.Second

// MinPassTimeout is the shortest pass deadline under which one due account
// can be refreshed: StartBudget plus the batched state read and the
// account's store calls. Under it every due account is skipped on every
// pass, so the configuration refuses a shorter PASS_TIMEOUT, and the
// Terraform module's minimum timeout_seconds is derived from it (a test in
// internal/config keeps the two in step).
func MinPassTimeout(threadsTimeout time.Duration) time.Duration {
	return StartBudget(threadsTimeout) + passOverhead
}

// MaxThreadsTimeout is the longest a request to Meta can last: the work on
// one account is bounded by AccountTimeout, so a longer per-request timeout
// is never reached.
const MaxThreadsTimeout = AccountTimeout

// Pass runs one refresh pass over every account and reports each one.
//
// It first reads every account's state in one batched read. Accounts that
// are fresh (status ok and younger than RefreshAfter) cost nothing more: no
// write, no secret store call, no Threads call; unless they need
// attention (health.go): an expiring account costs a lease, a version list
// and the lease's release on every pass, like one whose data access ends
// within 14 days, and one whose news consumers have not been told a lease,
// a version list and one write, once. The others are worked on
// concurrently, most urgent first, each under its own lease, as a
// pipeline: at most Concurrency requests to Meta are in flight (slots),
// while up to accountsPerSlot × Concurrency accounts (StoreWork) do their
// store work around them, so that the slots never wait on Google. Every
// goroutine the pass starts has ended when Pass returns. The error is
// non-nil only when the pass could not start (the state could not be
// read); account failures are in the Report.
func (e *Engine) Pass(ctx context.Context) (Report, error) {
	if err := e.check(); err != nil {
		return Report{}, err
	}
	start := e.now()
	accounts, states, err := e.load(ctx)
	if err != nil {
		return Report{}, err
	}
	now := e.now()
	rep := Report{Accounts: make([]AccountReport, len(accounts))}
	owner := newOwner()

	run := &passRun{slots: e.newSlots(ctx), inspector: e.newInspector(accounts), phases: e.phases(accounts)}
	var g errgroup.Group
	g.SetLimit(e.storeWork())
	var panicked atomic.Pointer[Panic]
	// The most urgent accounts start first: when the deadline or the secret
	// store's quotas leave some for the next pass, those are the ones that
	// can wait, and they come first then.
	for _, i := range e.urgency(accounts, states, run.phases) {
		a := accounts[i]
		st, ok := states[a.ID]
		if ok && e.fresh(st, run.phases[a.ID], now) && !e.attention(st, now) {
			rep.Accounts[i] = reportOf(a.ID, ResultFresh, st)
			continue
		}
		g.Go(func() error {
			defer catch(&panicked)
			if e.tooLate(ctx) {
				rep.Accounts[i] = reportOf(a.ID, ResultSkipped, st)
				rep.Accounts[i].Error = skippedMsg
				return nil
			}
			// st is what the batched read found (the zero State when it
			// found no record): the lease is taken on condition that the
			// record is still so.
			rep.Accounts[i] = e.account(ctx, a, owner, st, run)
			rep.Accounts[i].knownFrom(st)
			return nil
		})
	}
	_ = g.Wait() // workers never return errors: each reports into rep
	if p := panicked.Load(); p != nil {
		panic(p) // here, where the caller can recover it
	}
	rep.count()
	end := e.now()
	// The alerts read these lines whatever LOG_LEVEL says (an INFO line
	// at LOG_LEVEL=error too); the mark keeps each one's severity.
	alerts := logging.ForAlerts(ctx)
	for i := range accounts {
		rep.Accounts[i].lifeLeft(end)
		rep.Accounts[i].assess(end, e.warnWithin())
		e.logResult(alerts, rep.Accounts[i])
	}
	e.logger().LogAttrs(alerts, slog.LevelInfo, "refresh pass done",
		slog.Int("accounts", len(rep.Accounts)), slog.Int("refreshed", rep.Refreshed), slog.Int("failed", rep.Failed),
		slog.Float64("seconds", passSeconds(end.Sub(start))))
	return rep, nil
}

// passSeconds is a pass's duration as the "refresh pass done" line gives it
// (seconds, to the millisecond): from before the batched state read to after
// the last account, on the engine's clock. The Terraform module's dashboard
// charts it (a log-based distribution metric), against the pass's deadline.
func passSeconds(d time.Duration) float64 {
	return math.Round(d.Seconds()*1000) / 1000
}

// tooLate reports whether the pass's deadline is too close to start an
// account, so that the pass answers before its caller gives up on it.
func (e *Engine) tooLate(ctx context.Context) bool {
	deadline, ok := ctx.Deadline()
	if !ok {
		return ctx.Err() != nil
	}
	return time.Until(deadline) < StartBudget(e.ThreadsTimeout)
}

// logResult writes the one line per account per pass that alerting reads;
// the "refresh pass done" line after them says the pass completed. Their
// messages and fields are a contract with the Terraform module's alerts
// (README, "Logs and alerts"); tests pin them. ctx is marked ForAlerts, so
// that LOG_LEVEL never drops them.
func (e *Engine) logResult(ctx context.Context, r AccountReport) {
	level := slog.LevelInfo
	if r.Result.Failed() {
		level = slog.LevelError
	}
	e.logger().LogAttrs(ctx, level, "account processed", lineAttrs(r)...)
}

// lineAttrs are the fields of an account's line: what the alerts read of
// a pass's (README, "Logs and alerts"), and of a check's.
func lineAttrs(r AccountReport) []slog.Attr {
	attrs := []slog.Attr{
		slog.String("account", r.Account),
		slog.String("result", string(r.Result)),
	}
	if r.Platform != "" {
		attrs = append(attrs, slog.String("platform", r.Platform))
	}
	if r.ExpiresAt != "" {
		attrs = append(attrs, slog.String("expiresAt", r.ExpiresAt), slog.String("expiryFrom", r.ExpiryFrom))
	}
	if r.DataAccessExpiresAt != "" {
		attrs = append(attrs, slog.String("dataAccessExpiresAt", r.DataAccessExpiresAt))
	}
	if r.HoursLeft != nil {
		attrs = append(attrs, slog.Int("hoursLeft", *r.HoursLeft))
	}
	if r.Error != "" {
		attrs = append(attrs, slog.String("error", r.Error))
	}
	return attrs
}
