// Package service assembles the refresher from its configuration: it builds
// the store clients once, a Graph API client per platform, and the engine
// that uses them.
// The function and every command start from here, so that they cannot drift
// apart.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/config"
	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
	"github.com/threads-token-refresher/threads-token-refresher/internal/instagram"
	"github.com/threads-token-refresher/threads-token-refresher/internal/localstore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/notify"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/secretstore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/statestore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/threads"
)

// Service is an assembled refresher.
type Service struct {
	Config *config.Config
	Engine *refresh.Engine
	// Platforms are the Graph API clients, under the names payloads give
	// their platforms (payload.PlatformThreads, payload.PlatformInstagram).
	Platforms map[string]*graph.Client

	// Exactly one of these is set, after the store in use.
	Google *GoogleStores
	Local  *localstore.Store

	close func() error
}

// GoogleStores are the Secret Manager and Firestore adapters.
type GoogleStores struct {
	Secrets *secretstore.Store
	States  *statestore.Store
}

// Options are what a caller may set beyond the configuration. The zero
// value is the refresher as deployed; the sandbox (`refresher sandbox`)
// sets them to run the same service against a simulated Meta on a fast
// clock.
type Options struct {
	// HTTPClient makes every Graph API call; nil: a client of each
	// platform's own.
	HTTPClient *http.Client
	// Now is the engine's and the local store's clock; nil: time.Now.
	Now func() time.Time
	// RetryBase is the engine's first wait between refresh attempts; zero:
	// the engine's default.
	RetryBase time.Duration
}

// New builds the service. Store clients are built here, once; an error
// leaves nothing half-built behind.
func New(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*Service, error) {
	return Options{}.New(ctx, cfg, logger)
}

// New is New with o.
func (o Options) New(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*Service, error) {
	return o.build(ctx, cfg, logger, localstore.Options{Now: o.Now})
}

// Existing builds the service for a command that only reads: in local mode
// the database must exist already (the error wraps localstore.ErrNoDatabase
// otherwise), so that a mistyped REFRESHER_DB is neither created nor
// reported as a store without accounts.
func Existing(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*Service, error) {
	return Options{}.Existing(ctx, cfg, logger)
}

// Existing is Existing with o.
func (o Options) Existing(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*Service, error) {
	return o.build(ctx, cfg, logger, localstore.Options{MustExist: true, Now: o.Now})
}

func (o Options) build(ctx context.Context, cfg *config.Config, logger *slog.Logger, local localstore.Options) (*Service, error) {
	s := &Service{
		Config: cfg,
		Platforms: map[string]*graph.Client{
			payload.PlatformThreads:   threads.New(cfg.ThreadsAPIBaseURL, cfg.ThreadsTimeout, o.HTTPClient),
			payload.PlatformInstagram: instagram.New(cfg.InstagramAPIBaseURL, cfg.InstagramOAuthBaseURL, cfg.ThreadsTimeout, o.HTTPClient),
		},
	}
	e := &refresh.Engine{
		Platforms:      make(map[string]refresh.Platform, len(s.Platforms)),
		Logger:         logger,
		RefreshAfter:   cfg.RefreshAfter,
		KeepVersions:   cfg.KeepVersions,
		Concurrency:    cfg.Concurrency,
		ThreadsTimeout: cfg.ThreadsTimeout,
		Inspector:      cfg.InspectorAccount,
		Now:            o.Now,
		RetryBase:      o.RetryBase,
		// Accounts that come due together spread over the day by their
		// next refresh (README, "The clocks").
		Spread:     true,
		WarnWithin: cfg.WarnWithin,
	}
	if cfg.TokenEventsFile != "" {
		// Each event a JSON line in a file: the configuration allows it in
		// either store, never beside a topic.
		e.Notifier = notify.NewFile(cfg.TokenEventsFile)
	}
	for name, c := range s.Platforms {
		e.Platforms[name] = c.Refresher()
	}
	switch cfg.Store {
	case config.StoreGoogle:
		budgets := Budgets(cfg)
		secrets, err := secretstore.New(ctx, secretstore.Options{EmulatorHost: cfg.SecretManagerEmulatorHost, Budgets: &budgets})
		if err != nil {
			return nil, fmt.Errorf("connecting to Secret Manager: %w", err)
		}
		states, err := statestore.New(ctx, cfg.Project, cfg.FirestoreDatabase, cfg.TokensCollection)
		if err != nil {
			secrets.Close()
			return nil, fmt.Errorf("connecting to Firestore database %s: %w", cfg.FirestoreDatabase, err)
		}
		closers := []func() error{secrets.Close, states.Close}
		s.close = func() error {
			var errs []error
			for _, c := range closers {
				errs = append(errs, c())
			}
			return errors.Join(errs...)
		}
		if cfg.TokenChangesTopic != "" {
			// Publishes each change of a current token and of an account's
			// health; none without a topic (local mode refuses one).
			changes, err := notify.New(ctx, cfg.TokenChangesTopic, notify.Options{EmulatorHost: cfg.PubSubEmulatorHost})
			if err != nil {
				_ = s.close()
				return nil, fmt.Errorf("connecting to Pub/Sub for TOKEN_CHANGES_TOPIC: %w", err)
			}
			e.Notifier = changes
			closers = append(closers, changes.Close)
		}
		s.Google = &GoogleStores{Secrets: secrets, States: states}
		e.Secrets, e.States = secrets, states
		e.StoreWork = StoreWork(budgets)
		e.Accounts = refresh.Fixed(cfg.Accounts)
		if cfg.AccountsDocument != "" {
			e.Accounts = documentAccounts(states, cfg.AccountsDocument, cfg.Project)
		}
	case config.StoreLocal:
		store, err := localstore.Open(cfg.LocalDB, local)
		if err != nil {
			return nil, fmt.Errorf("opening the local store (REFRESHER_DB): %w", err)
		}
		s.Local = store
		e.Secrets, e.States = store, store
		e.Accounts = localAccounts(store, cfg.Accounts)
		s.close = store.Close
	default:
		return nil, fmt.Errorf("unknown store %q", cfg.Store)
	}
	s.Engine = e
	return s, nil
}

// Budgets are the Secret Manager budgets cfg sets, a minute each.
func Budgets(cfg *config.Config) secretstore.Budgets {
	return secretstore.Budgets{Reads: cfg.ReadsPerMinute, Writes: cfg.WritesPerMinute, Accesses: cfg.AccessesPerMinute, Window: time.Minute}
}

// StoreWork bounds the accounts a pass works on at once under the write
// budget (refresh.Engine.StoreWork). Each account in flight holds up to
// two writes (the new token's add, then the destroy of an old version),
// and the last ones queued are stored after the pass stops starting
// accounts (refresh.StartBudget before PASS_TIMEOUT). They must be stored
// within the request: Cloud Run gives an instance CPU only while a
// request runs, and ends the request at the function's timeout, which the
// Terraform module sets 30 s after PASS_TIMEOUT. So the queue of writes
// the accounts in flight can hold drains in storeDrain: 125 accounts at
// the default budget, which leaves the default 4 × CONCURRENCY alone up
// to a CONCURRENCY of 31 (the default is 8).
func StoreWork(b secretstore.Budgets) int {
	return max(1, int(int64(b.Writes)*int64(storeDrain)/int64(b.Window)/2))
}

// storeDrain is how long the writes queued behind the last accounts a
// pass starts may take: the 30 s the Terraform module leaves between
// PASS_TIMEOUT and the function's timeout, well inside
// refresh.DefaultStoreRetryFor, how long the engine holds a refreshed
// token for its write.
const storeDrain = 30 * time.Second

// documentAccounts lists the accounts of the document path names in the
// state store, at each pass (config.Config.AccountsDocument).
func documentAccounts(states *statestore.Store, path, project string) refresh.AccountsFunc {
	return func(ctx context.Context) ([]refresh.Account, error) {
		list, err := states.AccountList(ctx, path)
		if err != nil {
			return nil, err
		}
		return config.SecretList(list, path, project)
	}
}

// localAccounts lists the accounts stored locally, or, when THREADS_SECRETS
// names some, those only.
func localAccounts(store *localstore.Store, named []refresh.Account) refresh.AccountsFunc {
	if len(named) > 0 {
		accounts := make([]refresh.Account, len(named))
		for i, a := range named {
			accounts[i] = store.Account(a.ID)
		}
		return refresh.Fixed(accounts)
	}
	return store.Accounts
}

// Account returns the account named id in the store in use.
func (s *Service) Account(id string) refresh.Account {
	if s.Local != nil {
		return s.Local.Account(id)
	}
	for _, a := range s.Config.Accounts {
		if a.ID == id {
			return a
		}
	}
	return refresh.Account{ID: id, Secret: "projects/" + s.Config.Project + "/secrets/" + id}
}

// Now is the service's clock: the engine's (Options.Now, or time.Now).
func (s *Service) Now() time.Time {
	if s.Engine.Now != nil {
		return s.Engine.Now()
	}
	return time.Now()
}

// Secrets is the secret store in use.
func (s *Service) Secrets() refresh.SecretStore { return s.Engine.Secrets }

// Close releases the store clients.
func (s *Service) Close() error {
	if s.close == nil {
		return nil
	}
	return s.close()
}
