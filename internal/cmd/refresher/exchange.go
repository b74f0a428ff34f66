package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/threads-token-refresher/threads-token-refresher/internal/service"
)

func init() {
	commands["exchange"] = func() *command {
		var tokenFile, appSecretFile string
		var create bool
		return &command{
			summary: "exchange a short-lived token (from standard input) for a long-lived one and store it",
			usage:   "[--token-file FILE] [--app-secret-file FILE] [--create] ACCOUNT",
			example: "  export THREADS_APP_SECRET=...   # or --app-secret-file\n  refresher exchange main < short-lived-token.txt",
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&tokenFile, "token-file", "", "read the short-lived token from `FILE` instead of standard input")
				fs.StringVar(&appSecretFile, "app-secret-file", "", "read the Threads app secret from `FILE` instead of THREADS_APP_SECRET")
				fs.BoolVar(&create, "create", false, "create the Secret Manager secret when it does not exist")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				account, err := accountArg("exchange", args)
				if err != nil {
					return err
				}
				appSecret, err := appSecret(e, appSecretFile)
				if err != nil {
					return err
				}
				short, err := readSecret(e, tokenFile, "short-lived token", "--token-file")
				if err != nil {
					return err
				}
				return onboard(ctx, e, account, create, func(ctx context.Context, svc *service.Service) (string, error) {
					tok, err := svc.Threads.Exchange(ctx, appSecret, short)
					if err != nil {
						return "", fmt.Errorf("exchanging the short-lived token: %w", err)
					}
					return tok.AccessToken, nil
				})
			},
		}
	}
}

// appSecret reads the Threads app secret from a file or THREADS_APP_SECRET.
func appSecret(e *env, path string) (string, error) {
	if path != "" {
		return readSecret(&env{stdin: strings.NewReader(""), stderr: e.stderr}, path, "app secret", "--app-secret-file")
	}
	if v, _ := e.lookup("THREADS_APP_SECRET"); strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v), nil
	}
	return "", &usageError{errMissingAppSecret.Error()}
}
