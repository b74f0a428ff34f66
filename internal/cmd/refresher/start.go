package main

import (
	"context"
	"log/slog"

	"github.com/threads-token-refresher/threads-token-refresher/internal/config"
	"github.com/threads-token-refresher/threads-token-refresher/internal/logging"
	"github.com/threads-token-refresher/threads-token-refresher/internal/service"
)

// start reads the configuration, refusing a bad one before anything is
// done, and assembles the service. Logs go to standard error, so that
// standard output carries only a command's answer.
func start(ctx context.Context, e *env) (*service.Service, *slog.Logger, error) {
	cfg, err := config.Load(e.lookup)
	if err != nil {
		return nil, nil, err
	}
	logger := logging.New(e.stderr, cfg.LogLevel)
	svc, err := service.New(ctx, cfg, logger)
	if err != nil {
		return nil, nil, err
	}
	return svc, logger, nil
}

// noAccountsHint says how to add the first account.
const noAccountsHint = "no account yet: add one with `refresher login NAME` (from your Threads app; --platform instagram for Instagram) or `refresher add NAME < token.txt` (from a long-lived token)"
