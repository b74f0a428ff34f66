package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/threads-token-refresher/threads-token-refresher/internal/config"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/service"
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
	ctx, cancel := passContext(ctx, svc)
	defer cancel()
	rep, err := svc.Engine.Pass(ctx)
	if err != nil {
		return err
	}
	if len(rep.Accounts) == 0 && svc.Config.Store == config.StoreLocal {
		fmt.Fprintf(e.stderr, "refresher run: %s\n", noAccountsHint)
	}
	if err := writeReport(e, rep); err != nil {
		return err
	}
	if !rep.OK() {
		msg := fmt.Sprintf("%d of %d accounts failed or need a new login; `refresher status` shows each one's last error", rep.Failed, len(rep.Accounts))
		for _, r := range rep.Accounts {
			if r.Result == refresh.ResultNeedsReauth {
				msg += "; " + r.Account + " needs a new login: " + refresh.RelinkCommands(r.Account, r.Platform)
			}
		}
		return &exitError{code: exitFailure, msg: msg}
	}
	return nil
}

// passContext bounds work started like a pass (run, check) by PASS_TIMEOUT,
// as the function bounds a POST.
func passContext(ctx context.Context, svc *service.Service) (context.Context, context.CancelFunc) {
	if t := svc.Config.PassTimeout; t > 0 {
		return context.WithTimeout(ctx, t)
	}
	return ctx, func() {}
}

// writeReport prints a pass's (or a check's) report as the function
// answers it.
func writeReport(e *env, rep refresh.Report) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("writing the result: %w", err)
	}
	return nil
}
