package refresh

import (
	"context"
	"fmt"
)

// Status reports every account from stored state, without running a pass and
// without touching the secret store or Threads. An account under another
// pass's unexpired lease has result "busy", with the lease's owner and end;
// the others have their stored status as result, or "unknown" without
// state.
func (e *Engine) Status(ctx context.Context) (Report, error) {
	if err := e.checkStatus(); err != nil {
		return Report{}, err
	}
	accounts, states, err := e.load(ctx)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Accounts: make([]AccountReport, len(accounts))}
	now := e.now()
	phases := e.phases(accounts)
	for i, a := range accounts {
		st, ok := states[a.ID]
		r := AccountReport{Account: a.ID, Result: ResultUnknown}
		if ok && st.Known() {
			r = reportOf(a.ID, Result(st.Status), st)
			r.Stored = st.Status
			r.DueAt = e.dueAt(st, phases[a.ID])
			r.lifeLeft(now)
			r.assess(now, e.warnWithin())
		}
		if ok && st.Held.HeldAt(now) {
			r.Result = ResultBusy
			r.LeaseOwner, r.LeaseExpiresAt = st.Held.Owner, timestamp(st.Held.Until)
		}
		rep.Accounts[i] = r
	}
	rep.count()
	return rep, nil
}

// load lists the accounts and reads their state in one batched read.
func (e *Engine) load(ctx context.Context) ([]Account, map[string]State, error) {
	accounts, err := e.Accounts(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("listing accounts: %w", err)
	}
	if len(accounts) == 0 {
		return nil, nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	states, err := e.States.Load(ctx, accounts)
	if err != nil {
		return nil, nil, fmt.Errorf("reading account state: %w", err)
	}
	return accounts, states, nil
}
