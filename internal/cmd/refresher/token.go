package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/service"
)

func init() {
	commands["token"] = func() *command {
		return &command{
			summary: "print ACCOUNT's current token, for scripts (the only command that prints a token)",
			usage:   "ACCOUNT",
			example: "  TOKEN=$(refresher token main)\n  curl -s \"https://graph.threads.net/v1.0/me?fields=id,username&access_token=$TOKEN\"",
			run:     printToken,
		}
	}
}

// printToken prints the token of the newest enabled version: the one
// consumers reading "latest" get.
func printToken(ctx context.Context, e *env, args []string) error {
	account, err := accountArg("token", args)
	if err != nil {
		return err
	}
	sub := *e
	sub.lookup = onboardEnv(e.lookup, account)
	svc, _, err := startExisting(ctx, &sub)
	if err != nil {
		return err
	}
	defer svc.Close()
	p, err := currentPayload(ctx, svc, svc.Account(account))
	if errors.Is(err, refresh.ErrNotFound) {
		return fmt.Errorf("account %s has no token: add one with `refresher add %s`", account, account)
	}
	if err != nil {
		return fmt.Errorf("account %s: %w", account, err)
	}
	_, err = fmt.Fprintln(e.stdout, p.Token())
	return err
}

// currentPayload reads the payload of the account's newest enabled version:
// the one consumers reading "latest" get. No such version is ErrNotFound.
func currentPayload(ctx context.Context, svc *service.Service, a refresh.Account) (payload.Payload, error) {
	_, raw, err := refresh.Current(ctx, svc.Secrets(), a)
	if err != nil {
		return payload.Payload{}, err
	}
	return payload.Parse(raw)
}
