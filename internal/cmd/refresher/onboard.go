package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/config"
	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/secretstore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/service"
	"github.com/threads-token-refresher/threads-token-refresher/internal/statusview"
)

// managedLabels mark secrets this tool creates, as Terraform's do.
var managedLabels = map[string]string{"managed-by": "threads-token-refresher"}

func init() {
	commands["add"] = func() *command {
		var tokenFile, platformName string
		var o onboardOptions
		return &command{
			summary: "store a long-lived token (from standard input) for ACCOUNT",
			usage:   "[--platform threads|instagram] [--token-file FILE] [--create] [--replace-user] ACCOUNT",
			example: "  refresher add main < long-lived-token.txt\n  pbpaste | refresher add --create main\n  refresher add --platform instagram shop < instagram-token.txt",
			flags: func(fs *flag.FlagSet) {
				platformFlag(fs, &platformName)
				fs.StringVar(&tokenFile, "token-file", "", "read the long-lived token from `FILE` instead of standard input")
				o.flags(fs, "create the Secret Manager secret when it does not exist (Terraform normally creates it)")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				p, err := platformNamed(platformName)
				if err != nil {
					return err
				}
				account, err := accountArg("add", args)
				if err != nil {
					return err
				}
				token, err := readSecret(e, tokenFile, "long-lived token", "--token-file")
				if err != nil {
					return err
				}
				return onboard(ctx, e, account, o, p, func(context.Context, *graph.Client, existing) (obtained, error) {
					return obtained{token: token}, nil
				})
			},
		}
	}
}

// onboardEnv lets onboarding run with only the project (or nothing) set:
// the account being added is the one the configuration is about.
func onboardEnv(lookup config.LookupFunc, account string) config.LookupFunc {
	return func(k string) (string, bool) {
		v, ok := lookup(k)
		if k == "THREADS_SECRETS" && v == "" {
			return account, true
		}
		return v, ok
	}
}

// onboardOptions are the flags every onboarding command has.
type onboardOptions struct {
	// create: create the secret when it does not exist.
	create bool
	// replaceUser: store a token of another user than the account's.
	replaceUser bool
}

func (o *onboardOptions) flags(fs *flag.FlagSet, createUsage string) {
	fs.BoolVar(&o.create, "create", false, createUsage)
	fs.BoolVar(&o.replaceUser, "replace-user", false, "store the token even if it belongs to another user (or platform) than the account's current token; without it, such a token is refused")
}

// obtained is a long-lived token as onboarding got it.
type obtained struct {
	token string
	// expiresIn is the expires_in of the answer that issued it (exchange,
	// login); zero for a token a person pasted (add).
	expiresIn  int64
	receivedAt time.Time
	// asked are the scopes a login asked for; nil otherwise.
	asked []string
}

// onboard gets a long-lived token of platform p from obtain, checks it with
// the platform (/me), asks Meta for its clocks, and stores it as a new
// version of the account's secret, with the platform, the user's ID and
// name and the clocks beside it. Into an account that holds a token
// already (a relink, relink.go) it stores only a token of the same user,
// unless o.replaceUser, says which scopes the new grant lacks, and checks
// the account at once; otherwise the next pass adopts the version.
func onboard(ctx context.Context, e *env, account string, o onboardOptions, p platform, obtain func(context.Context, *graph.Client, existing) (obtained, error)) error {
	sub := *e
	sub.lookup = onboardEnv(e.lookup, account)
	svc, _, err := start(ctx, &sub)
	if err != nil {
		return err
	}
	defer svc.Close()

	// The secret is looked up before the token is obtained: a login must
	// not send a person through the browser only to fail here afterwards.
	a := svc.Account(account)
	createGoogle := false
	if svc.Google != nil {
		exists, err := svc.Google.Secrets.SecretExists(ctx, a)
		if err != nil {
			return fmt.Errorf("account %s: %w", account, err)
		}
		if !exists && !o.create {
			return fmt.Errorf("account %s: secret %s does not exist; create it with terraform apply, or pass --create", account, a.Secret)
		}
		createGoogle = !exists
	}

	had := lookUp(ctx, svc, a)
	client := svc.Platforms[p.id]
	got, err := obtain(ctx, client, had)
	if err != nil {
		return fmt.Errorf("account %s: %w", account, err)
	}
	user, err := client.Me(ctx, got.token)
	if err != nil {
		return fmt.Errorf("account %s: checking the token with %s: %w", account, p.Name, err)
	}
	if err := had.sameUser(account, p, user, o.replaceUser); err != nil {
		return err
	}
	clocks, granted, said := learnClocks(ctx, svc, client, p, got)

	// Nothing is created until the platform has accepted the token.
	switch {
	case svc.Local != nil:
		if a, err = svc.Local.CreateSecret(ctx, account); err != nil {
			return fmt.Errorf("account %s: %w", account, err)
		}
	case createGoogle:
		if err := svc.Google.Secrets.CreateSecret(ctx, a, managedLabels); err != nil && !errors.Is(err, secretstore.ErrExists) {
			return fmt.Errorf("account %s: %w", account, err)
		}
	}

	v, err := svc.Secrets().Add(ctx, a, payload.NewWithClocks(p.id, got.token, user.ID, user.Username, clocks))
	if err != nil {
		return fmt.Errorf("account %s: storing the token: %w", account, err)
	}
	fmt.Fprintf(e.stdout, "Stored the token of %s as version %d of %s.\n", describeUser(p, user), v.Number, a.Secret)
	fmt.Fprintln(e.stdout, said)
	sayLacking(e, got.asked, had.scopes, granted)
	if svc.Config.Store == config.StoreGoogle && !listed(e.lookup, account) {
		fmt.Fprintf(e.stdout, "Note: %s is not in THREADS_SECRETS here; the deployed function refreshes only the secrets it lists.\n", account)
	}
	if !had.state {
		fmt.Fprintln(e.stdout, "The next pass adopts it and keeps it alive; check with `refresher status`.")
		return nil
	}
	checkNow(ctx, e, svc, account)
	return nil
}

// learnClocks asks Meta for the token's clocks (with the inspector
// account's token where INSPECTOR_ACCOUNT names one of this platform, else
// with the token itself); where Meta will not say, the answer's expires_in
// gives them. It returns them, the scopes Meta listed (nil when it did
// not say), and one line telling the person what is known.
func learnClocks(ctx context.Context, svc *service.Service, client *graph.Client, p platform, got obtained) (payload.Clocks, []string, string) {
	credential := got.token
	if id := svc.Config.InspectorAccount; id != "" {
		if _, raw, err := refresh.Current(ctx, svc.Secrets(), svc.Account(id)); err == nil {
			if ip, err := payload.Parse(raw); err == nil && ip.Platform() == p.id {
				credential = ip.Token()
			}
		}
	}
	info, err := client.Inspect(ctx, credential, got.token)
	if err == nil && info.Valid && !info.ExpiresAt.IsZero() {
		c := payload.Clocks{IssuedAt: info.IssuedAt, ExpiresAt: info.ExpiresAt, DataAccessExpiresAt: info.DataAccessExpiresAt, FromMeta: true}
		said := fmt.Sprintf("%s says the token expires %s (in %s)", p.Name, statusview.Minute(info.ExpiresAt), statusview.Human(info.ExpiresAt.Sub(svc.Now())))
		if !c.DataAccessExpiresAt.IsZero() {
			said += fmt.Sprintf(", and the app may read the account's data until %s, when a new login renews it", statusview.Minute(c.DataAccessExpiresAt))
		}
		return c, info.Scopes, said + "."
	}
	if got.expiresIn > 0 {
		expires := got.receivedAt.Add(time.Duration(got.expiresIn) * time.Second)
		return payload.Clocks{IssuedAt: got.receivedAt, ExpiresAt: expires}, nil,
			fmt.Sprintf("The token expires %s (in %s), as %s's answer said.", statusview.Minute(expires), statusview.Human(expires.Sub(svc.Now())), p.Name)
	}
	return payload.Clocks{}, nil, fmt.Sprintf("%s does not say when this token was issued; the next pass finds out, and refreshes it at once if it is due.", p.Name)
}

// listed reports whether THREADS_SECRETS names account.
func listed(lookup config.LookupFunc, account string) bool {
	cfg, err := config.Load(lookup)
	if err != nil {
		return false
	}
	for _, a := range cfg.Accounts {
		if a.ID == account {
			return true
		}
	}
	return false
}
