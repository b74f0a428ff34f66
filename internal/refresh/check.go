package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
)

// ResultAlive is a check's result when Meta accepted the account's token
// (its /me answered): the token works now. The line's Health says whether
// refreshes work too and how long the token has left.
const ResultAlive Result = "alive"

// ErrUnknownAccount: a check named an account the engine does not keep.
var ErrUnknownAccount = errors.New("no such account")

// Check checks one account now, for a consumer that saw Meta refuse its
// token, or a person who just added one, instead of waiting for the next
// pass. It works under the account's lease, like a pass, so that a check
// and a pass never both work on one account (another's lease makes it
// busy, unchecked). It adopts a newer version as a pass does, asks Meta
// for the token's clocks (debug_token, where Meta answers), and calls /me:
// a refusal there (190, 102, a missing permission, a dead token's code
// 100) makes the account needs_reauth at once. It never refreshes, not
// even a due token, and leaves the last attempt's time alone, so that the
// watchdog still sees when a pass last tried the account. It records
// what it learnt and tells the Notifier what changed, as a pass does.
//
// The Report holds the one account: result alive, needs_reauth, failed
// (the check could not be made: Meta did not answer, the secret or the
// state could not be read), busy or skipped. The error is non-nil only
// when the check could not start: the account is not one the engine keeps
// (ErrUnknownAccount) or the state could not be read.
func (e *Engine) Check(ctx context.Context, id string) (Report, error) {
	if err := e.check(); err != nil {
		return Report{}, err
	}
	accounts, err := e.Accounts(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("listing accounts: %w", err)
	}
	i := slices.IndexFunc(accounts, func(a Account) bool { return a.ID == id })
	if i < 0 {
		return Report{}, fmt.Errorf("account %q is not one of the %d accounts kept here: %w", id, len(accounts), ErrUnknownAccount)
	}
	a := accounts[i]
	loadCtx, cancel := context.WithTimeout(ctx, loadTimeout)
	states, err := e.States.Load(loadCtx, []Account{a})
	cancel()
	if err != nil {
		return Report{}, fmt.Errorf("reading account state: %w", err)
	}
	read := states[a.ID]
	run := &passRun{slots: e.newSlots(ctx), inspector: e.newInspector(accounts)}
	r := e.checkAccount(ctx, a, newOwner(), read, run)
	r.knownFrom(read)
	rep := Report{Accounts: []AccountReport{r}}
	rep.count()
	end := e.now()
	rep.Accounts[0].lifeLeft(end)
	rep.Accounts[0].assess(end, e.warnWithin())
	e.logCheck(ctx, rep.Accounts[0])
	return rep, nil
}

// checkAccount is account for a check: the same lease, then the same
// decisions up to the refresh, where checkToken takes over (run).
func (e *Engine) checkAccount(ctx context.Context, a Account, owner string, read State, run *passRun) AccountReport {
	ctx, cancel := context.WithTimeout(ctx, AccountTimeout)
	defer cancel()
	now := e.now()
	st, err := e.States.Lease(ctx, a, owner, now.Add(e.leaseTTL()), read)
	if errors.Is(err, ErrBusy) {
		return AccountReport{Account: a.ID, Result: ResultBusy, Error: "another pass or check holds the account's lease; ask again later"}
	}
	if err != nil {
		return AccountReport{Account: a.ID, Result: ResultFailed, Error: err.Error()}
	}
	w := &work{e: e, ctx: ctx, a: a, owner: owner, log: e.logger().With("account", a.ID), st: st, leased: st,
		slots: run.slots, inspector: run.inspector, checking: true}
	w.st.Secret = a.Secret
	return w.run(now)
}

// checkToken checks the token of version v, the current one, with Meta:
// an inspection where run has not made one, then /me. Only Meta's refusal
// of the token changes the account's status; an answer that says nothing
// of the token (Meta unreachable) leaves it as it was and fails the check.
func (w *work) checkToken(v Version) AccountReport {
	if rep, ok := w.readPayload(v); !ok {
		return rep
	}
	if !w.adopted && w.st.ExpiryFrom != "" {
		// run asked Meta only for a token whose clocks it did not know.
		w.learnClocks(w.e.ThreadsTimeout)
	}
	err := w.me()
	switch {
	case errors.Is(err, errNoSlot):
		w.release()
		rep := reportOf(w.a.ID, ResultSkipped, w.leased)
		rep.Error = skippedMsg
		return rep
	case errors.Is(err, graph.ErrNeedsReauth):
		return w.fail(ResultNeedsReauth, fmt.Sprintf("%v; log in again and add the new token", err))
	case err != nil:
		rep := w.settle(ResultFailed)
		rep.Result, rep.Error = ResultFailed, "the check could not be made: "+err.Error()
		return rep
	}
	return w.settle(ResultAlive)
}

// me calls the platform's /me with the current token, in a slot: it is a
// call to Meta like a refresh.
func (w *work) me() error {
	release, err := w.takeSlot(true)
	if err != nil {
		return err
	}
	defer release()
	_, err = w.platform.Me(w.ctx, w.payload.Token())
	return err
}

// settle ends a check: it records what the check learnt (a version
// adopted, the clocks), or what consumers have not been told, or else
// gives the lease back without a write.
func (w *work) settle(result Result) AccountReport {
	if w.adopted || w.changed || w.e.untold(w.st, w.e.now()) {
		return w.commit(result)
	}
	w.release()
	return reportOf(w.a.ID, result, w.st)
}

// logCheck writes the check's one line, "account checked". It is never an
// ERROR: the alerts read the passes' "account processed" lines, and the
// next pass writes one for an account the check found needs_reauth; a
// check's finding is not a failure of the function.
func (e *Engine) logCheck(ctx context.Context, r AccountReport) {
	level := slog.LevelInfo
	if r.Result != ResultAlive || (r.Health != HealthOK && r.Health != HealthExpiring) {
		level = slog.LevelWarn
	}
	attrs := append([]slog.Attr{slog.String("check", "account")}, lineAttrs(r)...)
	if r.Health != "" {
		attrs = append(attrs, slog.String("health", string(r.Health)))
	}
	e.logger().LogAttrs(ctx, level, "account checked", attrs...)
}
