// Package localengine builds a real refresh engine for tests: the engine's
// own and those of what sits around it (the HTTP layer, the notifiers). The
// engine runs on the embedded store (a real bbolt file), against the
// Threads fake, with one fake clock shared by the engine, the store and the
// fake, so that days pass in microseconds, and a JSON log in a buffer.
package localengine

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/localstore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/logging"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/fakeclock"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/syncbuf"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
	"github.com/threads-token-refresher/threads-token-refresher/internal/threads"
)

// T0 is where the clock starts: a fixed instant, so that failures replay.
var T0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// ThreadsTimeout bounds one Threads call, in the client and the engine.
const ThreadsTimeout = 2 * time.Second

// Rig is one engine with its store, Threads fake, clock and log.
type Rig struct {
	t      testing.TB
	Clock  *fakeclock.Clock
	TH     *threadsfake.Server
	Store  *localstore.Store
	Engine *refresh.Engine
	Logger *slog.Logger
	// Logs holds every log line; tests may append other output to it (an
	// HTTP answer, a message) for the token search.
	Logs syncbuf.Buffer
}

// New builds a rig whose Threads fake starts with opts. The engine is
// configured as the deployed defaults would have it, with ThreadsTimeout;
// a test may change it before its first pass. When t ends New checks that
// no token the fake issued appears in Logs, if anything was logged (an
// engine refused for its configuration logs nothing); a test that must
// have logged calls CheckNoToken itself.
func New(t testing.TB, opts ...threadsfake.Option) *Rig {
	t.Helper()
	r := &Rig{t: t, TH: threadsfake.Start(t, opts...)}
	r.Clock = &fakeclock.Clock{OnSet: r.TH.SetNow}
	r.Clock.Set(T0)
	store, err := localstore.Open(filepath.Join(t.TempDir(), "refresher.db"), localstore.Options{Now: r.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r.Store = store
	r.Logger = logging.New(&r.Logs, slog.LevelDebug)
	r.Engine = &refresh.Engine{
		Secrets: store, States: store, Accounts: store.Accounts, Logger: r.Logger,
		Platforms: map[string]refresh.Platform{
			payload.PlatformThreads: threads.New(r.TH.URL(), ThreadsTimeout, nil).Refresher(),
		},
		RefreshAfter: 24 * time.Hour, KeepVersions: 2, Concurrency: 4, ThreadsTimeout: ThreadsTimeout,
		Now: r.Clock.Now, RetryBase: time.Millisecond,
	}
	t.Cleanup(func() {
		if r.Logs.String() != "" {
			r.CheckNoToken()
		}
	})
	return r
}

// Seed issues a token age old and stores it as the account's newest
// version, created then, as `refresher add` would have.
func (r *Rig) Seed(id string, age time.Duration) string {
	r.t.Helper()
	tok, _ := r.SeedVersion(id, age)
	return tok
}

// SeedVersion is Seed that also returns the version it stored.
func (r *Rig) SeedVersion(id string, age time.Duration) (string, refresh.Version) {
	r.t.Helper()
	tok := r.TH.IssueLongLived("1789"+id, "user_"+id, r.Clock.Now().Add(-age))
	return tok, r.AddVersion(id, age, payload.New(tok, "1789"+id, "user_"+id))
}

// AddVersion stores p as a new version of id's secret (creating the
// secret) as if it had been added age ago.
func (r *Rig) AddVersion(id string, age time.Duration, p []byte) refresh.Version {
	r.t.Helper()
	ctx := context.Background()
	now := r.Clock.Now()
	r.Clock.Set(now.Add(-age))
	defer r.Clock.Set(now)
	a, err := r.Store.CreateSecret(ctx, id)
	if err != nil {
		r.t.Fatalf("creating secret %s: %v", id, err)
	}
	v, err := r.Store.Add(ctx, a, p)
	if err != nil {
		r.t.Fatalf("adding a version to %s: %v", id, err)
	}
	return v
}

// State is the account's stored state.
func (r *Rig) State(id string) refresh.State {
	r.t.Helper()
	states, err := r.Store.Load(context.Background(), []refresh.Account{r.Store.Account(id)})
	if err != nil {
		r.t.Fatal(err)
	}
	return states[id]
}

// Newest is the account's newest enabled version: what "latest" gives.
func (r *Rig) Newest(id string) refresh.Version {
	r.t.Helper()
	v, _, err := refresh.Current(context.Background(), r.Store, r.Store.Account(id))
	if err != nil {
		r.t.Fatal(err)
	}
	return v
}

// CheckNoToken fails the test when Logs is empty (the search would prove
// nothing) or holds a token the fake issued, or one of extra; it reports
// whether the search found nothing.
func (r *Rig) CheckNoToken(extra ...string) bool {
	out := r.Logs.String()
	if out == "" {
		r.t.Error("no log was captured; the token search would prove nothing")
		return false
	}
	for _, s := range append(r.TH.Tokens(), extra...) {
		if strings.Contains(out, s) {
			r.t.Errorf("a token appears in the log or an answer:\n%s", out)
			return false
		}
	}
	return true
}
