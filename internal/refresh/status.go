package refresh

import (
	"context"
	"fmt"
)

// Status reports every account from stored state, without running a pass and
// without touching the secret store or Threads. An account without state
// has result "unknown"; the others have their stored status as result.
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
	for i, a := range accounts {
		st, ok := states[a.ID]
		if !ok || !st.Known() {
			rep.Accounts[i] = AccountReport{Account: a.ID, Result: ResultUnknown}
			continue
		}
		rep.Accounts[i] = reportOf(a.ID, Result(st.Status), st)
		rep.Accounts[i].lifeLeft(now)
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
