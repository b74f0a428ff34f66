package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/threads-token-refresher/threads-token-refresher/internal/config"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/statusview"
)

func init() {
	commands["run"] = func() *command {
		return &command{
			summary: "run one refresh pass and print its result as JSON",
			example: "  refresher run\n  GOOGLE_CLOUD_PROJECT=my-project THREADS_SECRETS=main refresher run | jq .accounts",
			run:     runPass,
		}
	}
}

// runPass runs one pass. It exits 1 exactly when the function would answer
// 500: an account failed or needs re-authorisation, or the state could not
// be read.
func runPass(ctx context.Context, e *env, args []string) error {
	if err := noArgs("run", args); err != nil {
		return err
	}
	svc, _, err := start(ctx, e)
	if err != nil {
		return err
	}
	defer svc.Close()
	if t := svc.Config.PassTimeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	rep, err := svc.Engine.Pass(ctx)
	if err != nil {
		return err
	}
	if len(rep.Accounts) == 0 && svc.Config.Store == config.StoreLocal {
		fmt.Fprintf(e.stderr, "refresher run: %s\n", noAccountsHint)
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("writing the result: %w", err)
	}
	if !rep.OK() {
		msg := fmt.Sprintf("%d of %d accounts failed or need a new login; `refresher status` shows each one's last error", rep.Failed, len(rep.Accounts))
		for _, r := range rep.Accounts {
			if r.Result == refresh.ResultNeedsReauth {
				msg += "; " + r.Account + " needs a new login: " + statusview.LoginCommands(r)
			}
		}
		return &exitError{code: exitFailure, msg: msg}
	}
	return nil
}
