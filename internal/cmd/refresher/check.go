package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/threads-token-refresher/threads-token-refresher/internal/httpapi"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

func init() {
	commands["check"] = func() *command {
		return &command{
			summary: "check one account's token with Meta now (/me and its clocks), record its health and tell consumers what changed",
			usage:   "ACCOUNT",
			example: "  refresher check main\n  refresher check main || echo 'main needs a person'",
			run:     runCheck,
		}
	}
}

// runCheck checks one account (refresh.Engine.Check) and prints the
// answer the function's HTTP check gives, the one account's line. Exit 0:
// the token works and so do its refreshes (health ok); exitWarn: the
// account needs a person (needs_reauth, failing, or expiring within
// WARN_WITHIN), as `status --warn-within` says it; 1: the check could not
// be made (Meta unreachable, the account busy, the state unreadable).
func runCheck(ctx context.Context, e *env, args []string) error {
	account, err := accountArg("check", args)
	if err != nil {
		return err
	}
	svc, _, err := startExisting(ctx, e)
	if err != nil {
		return err
	}
	defer svc.Close()
	ctx, cancel := passContext(ctx, svc)
	defer cancel()
	rep, err := svc.Engine.Check(ctx, account)
	if errors.Is(err, refresh.ErrUnknownAccount) {
		return usagef("%v; `refresher status` lists them", err)
	}
	if err != nil {
		return err
	}
	if err := writeReport(e, rep); err != nil {
		return err
	}
	r, _ := rep.Find(account)
	return checkVerdict(r)
}

// checkVerdict is the exit of a check whose line is r.
func checkVerdict(r refresh.AccountReport) error {
	switch {
	case r.Result != refresh.ResultAlive && r.Result != refresh.ResultNeedsReauth:
		return &exitError{code: exitFailure, msg: fmt.Sprintf("%s could not be checked (%s): %s", r.Account, r.Result, r.Error)}
	case r.Health == refresh.HealthOK:
		return nil
	case r.Health == refresh.HealthFailing:
		return &exitError{code: exitWarn, msg: fmt.Sprintf("%s's token works, but its refreshes fail: %s", r.Account, r.Error)}
	case httpapi.Alive(r):
		return &exitError{code: exitWarn, msg: fmt.Sprintf("%s's token works, but has %s left; log in again before then: %s", r.Account, hoursText(r.HoursLeft), r.Fix)}
	}
	return &exitError{code: exitWarn, msg: fmt.Sprintf("%s needs a new login: %s. %s", r.Account, r.Error, r.Fix)}
}

// hoursText says a HoursLeft for people.
func hoursText(h *int) string {
	if h == nil {
		return "an unknown time"
	}
	return fmt.Sprintf("%d hours", *h)
}
