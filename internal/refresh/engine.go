// Package refresh is the refresh engine: it decides, account by account,
// whether a token is due, refreshes it, stores the new token before
// anything else, and records the outcome. It talks to its stores only
// through the SecretStore and StateStore interfaces, and to Meta only
// through the TokenRefresher of the platform each payload names, and never
// learns which implementation it has.
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

// TokenRefresher exchanges one platform's long-lived token for a new one.
// Errors wrap graph.ErrNeedsReauth when only a new login helps and
// graph.ErrTransient when the same call may succeed later. graph.Refresher
// implements it, for Threads and for Instagram.
type TokenRefresher interface {
	Refresh(ctx context.Context, token string) (graph.Token, error)
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
	// Platforms holds each platform's refresher under the name payloads
	// give it ("threads", "instagram"). An account's payload names its
	// platform; one naming none is Threads.
	Platforms map[string]TokenRefresher
	Accounts  AccountsFunc
	Logger    *slog.Logger
	// Notifier, when set, hears of each new current token; nil means no one
	// is told.
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
	// threadsAttempts is the number of refresh calls, in all, for one
	// account whose failures are transient.
	threadsAttempts = 3
	// tokenLifetimeEstimate is the lifetime assumed for a token adopted from
	// a secret version whose refresh time is unknown: Threads and Instagram
	// long-lived tokens live 60 days.
	tokenLifetimeEstimate = 60 * 24 * time.Hour
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
		return errors.Join(ErrConfig, errors.New("a secret store and at least one platform's refresher are required"))
	case e.RefreshAfter <= 0, e.KeepVersions < 1, e.Concurrency < 1, e.ThreadsTimeout <= 0:
		return errors.Join(ErrConfig, errors.New("RefreshAfter, KeepVersions, Concurrency and ThreadsTimeout must be positive"))
	}
	return nil
}

// platform returns the refresher of the named platform, or an error that
// says which platforms there are.
func (e *Engine) platform(name string) (TokenRefresher, error) {
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
	return 5 * time.Minute
}

// newOwner names one pass in the leases it takes: host, process and a random
// part, so that a person reading a stuck lease can tell where it came from.
func newOwner() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = cryptorand.Read(b[:])
	return host + "/" + strconv.Itoa(os.Getpid()) + "/" + hex.EncodeToString(b[:])
}
