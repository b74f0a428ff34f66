package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/threads-token-refresher/threads-token-refresher/internal/config"
	"github.com/threads-token-refresher/threads-token-refresher/internal/localstore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/logging"
	"github.com/threads-token-refresher/threads-token-refresher/internal/service"
)

// start reads the configuration, refusing a bad one before anything is
// done, and assembles the service. Logs go to standard error, so that
// standard output carries only a command's answer.
func start(ctx context.Context, e *env) (*service.Service, *slog.Logger, error) {
	return assemble(ctx, e, e.service.New)
}

// startExisting is start for a command that only reads (status, token): it
// never creates the local database, and says so when there is none.
func startExisting(ctx context.Context, e *env) (*service.Service, *slog.Logger, error) {
	return assemble(ctx, e, e.service.Existing)
}

func assemble(ctx context.Context, e *env, build func(context.Context, *config.Config, *slog.Logger) (*service.Service, error)) (*service.Service, *slog.Logger, error) {
	cfg, err := config.Load(e.lookup)
	if err != nil {
		return nil, nil, err
	}
	logger := logging.New(e.stderr, cfg.LogLevel)
	svc, err := build(ctx, cfg, logger)
	switch {
	case errors.Is(err, localstore.ErrNoDatabase):
		return nil, nil, usagef("no refresher database at %s; check REFRESHER_DB, or add an account first", cfg.LocalDB)
	case errors.Is(err, localstore.ErrNotDatabase):
		return nil, nil, &config.Error{Variable: "REFRESHER_DB", Problem: fmt.Sprintf("is %s, which is not a refresher database; point it at the refresher's database, or at a path where no file exists yet", cfg.LocalDB)}
	}
	if err != nil {
		return nil, nil, err
	}
	return svc, logger, nil
}

// noAccountsHint says how to add the first account.
const noAccountsHint = "no account yet: add one with `refresher login NAME` (from your Threads app; --platform instagram for Instagram) or `refresher add NAME < token.txt` (from a long-lived token)"
