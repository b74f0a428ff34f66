package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
)

func init() {
	commands["exchange"] = func() *command {
		var tokenFile, appSecretFile, platformName string
		var o onboardOptions
		return &command{
			summary: "exchange a short-lived token (from standard input) for a long-lived one and store it",
			usage:   "[--platform threads|instagram] [--token-file FILE] [--app-secret-file FILE] [--create] [--replace-user] ACCOUNT",
			example: "  export THREADS_APP_SECRET=...   # or --app-secret-file\n  refresher exchange main < short-lived-token.txt\n" +
				"  export INSTAGRAM_APP_SECRET=...\n  refresher exchange --platform instagram shop < short-lived-token.txt",
			flags: func(fs *flag.FlagSet) {
				platformFlag(fs, &platformName)
				fs.StringVar(&tokenFile, "token-file", "", "read the short-lived token from `FILE` instead of standard input")
				fs.StringVar(&appSecretFile, "app-secret-file", "", "read the app secret from `FILE` instead of THREADS_APP_SECRET (INSTAGRAM_APP_SECRET with --platform instagram)")
				o.flags(fs, "create the Secret Manager secret when it does not exist")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				p, err := platformNamed(platformName)
				if err != nil {
					return err
				}
				account, err := accountArg("exchange", args)
				if err != nil {
					return err
				}
				appSecret, err := appSecret(e, p, appSecretFile)
				if err != nil {
					return err
				}
				short, err := readSecret(e, tokenFile, "short-lived token", "--token-file")
				if err != nil {
					return err
				}
				return onboard(ctx, e, account, o, p, func(ctx context.Context, client *graph.Client, _ existing) (obtained, error) {
					tok, err := client.Exchange(ctx, appSecret, short)
					if err != nil {
						return obtained{}, fmt.Errorf("exchanging the short-lived token: %w", err)
					}
					return obtained{token: tok.AccessToken, expiresIn: tok.ExpiresIn, receivedAt: e.now()}, nil
				})
			},
		}
	}
}
