// Package refresh is the refresh engine: it decides, account by account,
// whether a token is due, refreshes it, stores the new token before
// anything else, and records the outcome. It talks to its stores only
// through the SecretStore and StateStore interfaces, and to Meta only
// through the Platform each payload names, and never learns which
// implementation it has.
package refresh

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
)

// Platform is one Meta platform as the engine needs it: graph.Refresher
// implements it, for Threads and for Instagram.
type Platform interface {
	// Refresh exchanges a long-lived token for a new one. Errors wrap
	// graph.ErrNeedsReauth when only a new login helps, graph.ErrTransient
	// when the same call may succeed later, and graph.ErrRefusedLiveToken
	// when Meta refused to refresh a token that works.
	Refresh(ctx context.Context, token string) (graph.Token, error)
	// Inspect asks Meta what it knows of token (its clocks, its scopes),
	// with inspector's token as the credential. graph.ErrCannotInspect
	// means Meta will not say (a platform without inspection, an
	// inspector that is not a tester): the token's clocks stay as the
	// engine knows them. No error of Inspect says anything of the token.
	Inspect(ctx context.Context, inspector, token string) (graph.TokenInfo, error)
	// Me reads the user the token belongs to: the cheapest call that
	// tells whether it works. Errors wrap graph.ErrNeedsReauth when Meta
	// refused the token (code 190 or 102, a missing permission, or a
	// refusal a dead token gets).
	Me(ctx context.Context, token string) (graph.User, error)
}

// AccountsFunc lists the accounts a pass covers.
type AccountsFunc func(ctx context.Context) ([]Account, error)

// Fixed lists the same accounts every time.
func Fixed(accounts []Account) AccountsFunc {
	return func(context.Context) ([]Account, error) { return accounts, nil }
}

// Engine runs refresh passes. Its fields are set once and never changed.
type Engine struct {
	Secrets SecretStore
	States  StateStore
	// Platforms holds each platform under the name payloads give it
	// ("threads", "instagram"). An account's payload names its platform;
	// one naming none is Threads.
	Platforms map[string]Platform
	Accounts  AccountsFunc
	Logger    *slog.Logger
	// Notifier, when set, hears of each new current token and each change
	// of an account's health; nil means no one is told.
	Notifier Notifier

	// RefreshAfter is the age at which a token is due.
	RefreshAfter time.Duration
	// KeepVersions is how many of the newest secret versions survive pruning.
	KeepVersions int
	// Concurrency bounds the requests to Meta (Threads or Instagram) in
	// flight at once; the store work around them runs beside, for up to
	// four times as many accounts (accountsPerSlot).
	Concurrency int
	// ThreadsTimeout is the timeout of one request to Meta (Threads or
	// Instagram); the pass uses it to decide when too little time is left
	// to start another account.
	ThreadsTimeout time.Duration

	// Optional knobs; zero values give the defaults.

	// LeaseTTL is how long a lease holds before another pass may take it.
	LeaseTTL time.Duration
	// Now is the clock.
	Now func() time.Time
	// RetryBase is the first wait between refresh attempts (then doubled).
	RetryBase time.Duration
	// StoreRetryFor bounds how long a refreshed token is retried into the
	// secret store.
	StoreRetryFor time.Duration
	// NotifyTimeout bounds one Notifier call (DefaultNotifyTimeout).
	NotifyTimeout time.Duration
	// WarnWithin is the remaining life under which an account's health is
	// expiring (DefaultWarnWithin, WARN_WITHIN).
	WarnWithin time.Duration
	// Inspector is the ID of the account whose token inspects the tokens
	// of every account of the same platform (INSPECTOR_ACCOUNT): on
	// Threads it must be a tester's. Empty means each token inspects
	// itself, which works for the app's own developers and testers.
	Inspector string
	// Spread gives each account a phase of its own in a cycle of
	// SpreadPeriod, and a token that comes due by age waits for its
	// account's next phase (spread.go), so that accounts that came due
	// together spread over the cycle by their next refresh. The function
	// and the command spread (internal/service); off, a token is due at
	// RefreshAfter exactly.
	Spread bool
	// StoreWork, when positive, bounds further the accounts worked on at
	// once, their store calls around their Meta calls, which are at most
	// accountsPerSlot × Concurrency. A store that paces its calls under
	// per-minute budgets needs fewer when those budgets could not store
	// that many refreshed tokens within StoreRetryFor (internal/service
	// sets it).
	StoreWork int
	// Rand draws the jitter that spreads retry waits, uniformly in [0, 1);
	// nil means math/rand/v2. It is called from several goroutines. A
	// seeded source makes the waits, and so a whole simulated run, replay
	// exactly (internal/sim).
	Rand func() float64
}

// Defaults of the optional knobs.
const (
	// DefaultLeaseTTL outlasts the longest pass the deployed function
	// allows (its timeout is at most 30 minutes) and the work on one account
	// (bounded by AccountTimeout).
	DefaultLeaseTTL = 45 * time.Minute
	// AccountTimeout bounds the work on one account, so that a lease always
	// outlives the work done under it; the configuration bounds
	// THREADS_TIMEOUT by it (MaxThreadsTimeout).
	AccountTimeout = 10 * time.Minute
	// finishTimeout bounds the writes that end an account's work, which
	// run even after the pass is cancelled.
	finishTimeout = 30 * time.Second
	// loadTimeout bounds the batched state read, so that an unreachable
	// state store fails the pass instead of hanging it.
	loadTimeout = 2 * time.Minute
	// DefaultStoreRetryFor is how long a refreshed token is retried into
	// the secret store (StoreRetryFor) by default.
	DefaultStoreRetryFor = 5 * time.Minute
	// threadsAttempts is the number of refresh calls, in all, for one
	// account whose failures are transient.
	threadsAttempts = 3
	// MinRefreshAge is the youngest a token Meta refreshes: 24 hours.
	MinRefreshAge = 24 * time.Hour
	// DueMargin is the remaining life under which a token at least
	// MinRefreshAge old is due, whatever RefreshAfter says. It is the 14
	// days that the bound on RefreshAfter (MaxRefreshAfter) leaves of a
	// 60-day token, so that it never makes a healthy token due early, and
	// the default life-left alert (336 hours): a token Meta gave a short
	// life is refreshed as soon as Meta allows, and the alert fires only
	// for one the engine could not refresh.
	DueMargin = 14 * 24 * time.Hour
	// MaxRefreshAfter is the longest RefreshAfter may be: 60 days less the
	// DueMargin, so that a token is refreshed with 14 days of its life
	// left, time for a person to step in if it cannot be.
	MaxRefreshAfter = 60*24*time.Hour - DueMargin
	// minTokenLife is the least a long-lived token lives, for the bound on
	// a token whose issue time is known only roughly: Meta documents 60
	// days and answers expires_in a little under (5183944 s); a day less
	// errs on the side that tells a person sooner.
	minTokenLife = 59 * 24 * time.Hour
)

// ErrConfig marks an Engine that cannot run: a field is missing.
var ErrConfig = errors.New("refresh engine misconfigured")

// checkStatus checks what a status view needs: the state store and the
// accounts.
func (e *Engine) checkStatus() error {
	if e.States == nil || e.Accounts == nil {
		return errors.Join(ErrConfig, errors.New("a state store and accounts are required"))
	}
	return nil
}

// check checks what a pass needs: everything.
func (e *Engine) check() error {
	if err := e.checkStatus(); err != nil {
		return err
	}
	switch {
	case e.Secrets == nil, len(e.Platforms) == 0:
		return errors.Join(ErrConfig, errors.New("a secret store and at least one platform are required"))
	case e.RefreshAfter <= 0, e.KeepVersions < 1, e.Concurrency < 1, e.ThreadsTimeout <= 0:
		return errors.Join(ErrConfig, errors.New("RefreshAfter, KeepVersions, Concurrency and ThreadsTimeout must be positive"))
	case e.RefreshAfter > MaxRefreshAfter:
		return errors.Join(ErrConfig, fmt.Errorf("RefreshAfter must be at most %s", MaxRefreshAfter))
	case e.WarnWithin < 0:
		return errors.Join(ErrConfig, errors.New("WarnWithin must not be negative"))
	}
	return nil
}

// platform returns the named platform, or an error that says which
// platforms there are.
func (e *Engine) platform(name string) (Platform, error) {
	if r, ok := e.Platforms[name]; ok && r != nil {
		return r, nil
	}
	var known []string
	for _, n := range slices.Sorted(maps.Keys(e.Platforms)) {
		known = append(known, strconv.Quote(n))
	}
	return nil, fmt.Errorf("it names the platform %q, which this refresher does not keep tokens for; use %s", name, strings.Join(known, " or "))
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (e *Engine) leaseTTL() time.Duration {
	if e.LeaseTTL > 0 {
		return e.LeaseTTL
	}
	return DefaultLeaseTTL
}

func (e *Engine) retryBase() time.Duration {
	if e.RetryBase > 0 {
		return e.RetryBase
	}
	return time.Second
}

func (e *Engine) rand() func() float64 {
	if e.Rand != nil {
		return e.Rand
	}
	return rand.Float64
}

func (e *Engine) storeRetryFor() time.Duration {
	if e.StoreRetryFor > 0 {
		return e.StoreRetryFor
	}
	return DefaultStoreRetryFor
}

// newOwner names one pass in the leases it takes: host, process and a random
// part, so that a person reading a stuck lease can tell where it came from.
func newOwner() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = cryptorand.Read(b[:])
	return host + "/" + strconv.Itoa(os.Getpid()) + "/" + hex.EncodeToString(b[:])
}
