package refresh_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/leases"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
	"github.com/threads-token-refresher/threads-token-refresher/internal/threads"
)

// These tests check how a pass spends its time and its Threads slots:
// CONCURRENCY bounds the Threads calls made at once, a slot holds one
// Threads call and nothing else, and an account that cannot start or get a
// slot in time is skipped, never refreshed too late.

// tracedSecrets, tracedStates and tracedThreads write a line into the
// engine's own log before each call, so that the log is one ordered record
// of the engine's slot lines and the calls made around them. They wrap the
// engine's interfaces, not a Google client.
type tracedSecrets struct {
	refresh.SecretStore
	log *slog.Logger
}

func (s tracedSecrets) Versions(ctx context.Context, a refresh.Account) ([]refresh.Version, error) {
	s.log.Info("traced store call", "account", a.ID, "op", "versions")
	return s.SecretStore.Versions(ctx, a)
}

func (s tracedSecrets) Access(ctx context.Context, a refresh.Account, v refresh.Version) ([]byte, error) {
	s.log.Info("traced store call", "account", a.ID, "op", "access")
	return s.SecretStore.Access(ctx, a, v)
}

func (s tracedSecrets) Add(ctx context.Context, a refresh.Account, p []byte) (refresh.Version, error) {
	s.log.Info("traced store call", "account", a.ID, "op", "add")
	return s.SecretStore.Add(ctx, a, p)
}

func (s tracedSecrets) Destroy(ctx context.Context, a refresh.Account, v refresh.Version) error {
	s.log.Info("traced store call", "account", a.ID, "op", "destroy")
	return s.SecretStore.Destroy(ctx, a, v)
}

type tracedStates struct {
	refresh.StateStore
	log *slog.Logger
}

func (s tracedStates) Lease(ctx context.Context, a refresh.Account, owner string, until time.Time, read refresh.State) (refresh.State, error) {
	s.log.Info("traced store call", "account", a.ID, "op", "lease")
	return s.StateStore.Lease(ctx, a, owner, until, read)
}

func (s tracedStates) Commit(ctx context.Context, a refresh.Account, owner string, st refresh.State) error {
	s.log.Info("traced store call", "account", a.ID, "op", "commit")
	return s.StateStore.Commit(ctx, a, owner, st)
}

func (s tracedStates) Release(ctx context.Context, a refresh.Account, owner string, leased refresh.State) error {
	s.log.Info("traced store call", "account", a.ID, "op", "release")
	return s.StateStore.Release(ctx, a, owner, leased)
}

// tracedThreads logs each Threads call with its account (known from the
// token) and fails the first call of the accounts in flaky with a
// transient error, so that they retry.
type tracedThreads struct {
	refresh.Platform // its Inspect is the real one
	log              *slog.Logger
	owner            map[string]string // token → account
	mu               sync.Mutex
	flaky            map[string]bool
}

func (r *tracedThreads) Refresh(ctx context.Context, token string) (graph.Token, error) {
	r.mu.Lock()
	id := r.owner[token]
	fail := r.flaky[id]
	delete(r.flaky, id)
	r.mu.Unlock()
	r.log.Info("traced threads call", "account", id)
	if fail {
		return graph.Token{}, fmt.Errorf("injected: %w", graph.ErrTransient)
	}
	tok, err := r.Platform.Refresh(ctx, token)
	if err == nil {
		r.mu.Lock()
		r.owner[tok.AccessToken] = id
		r.mu.Unlock()
	}
	return tok, err
}

// Inspect is a call to Meta too, made in a slot like a refresh.
func (r *tracedThreads) Inspect(ctx context.Context, inspector, token string) (graph.TokenInfo, error) {
	r.mu.Lock()
	id := r.owner[token]
	r.mu.Unlock()
	r.log.Info("traced threads call", "account", id)
	return r.Platform.Inspect(ctx, inspector, token)
}

// TestSlotsHoldOnlyThreadsCalls: while an account holds a Threads slot it
// makes one call to Meta (a refresh, or an inspection) and no store call;
// a retry takes a slot again after its backoff wait, which holds none.
func TestSlotsHoldOnlyThreadsCalls(t *testing.T) {
	t.Parallel()
	threads := &tracedThreads{owner: map[string]string{}, flaky: map[string]bool{"acct1": true, "acct4": true}}
	h := newHarness(t, func(e *refresh.Engine) {
		e.Concurrency = 2
		e.RetryBase = 50 * time.Millisecond
		e.Secrets = tracedSecrets{e.Secrets, e.Logger}
		e.States = tracedStates{e.States, e.Logger}
		threads.Platform, threads.log = e.Platforms[payload.PlatformThreads], e.Logger
		e.Platforms[payload.PlatformThreads] = threads
	})
	const n = 7
	for i := range n {
		id := "acct" + strconv.Itoa(i)
		tok, _ := h.seed(id, 72*time.Hour)
		threads.owner[tok] = id
	}
	mark := len(h.Logs.String())
	if rep := h.pass(); rep.Refreshed != n {
		t.Fatalf("%+v, want %d refreshed", rep, n)
	}

	type account struct {
		inSlot      bool
		threadsCall int // in the current slot
		slots       int
	}
	accounts := map[string]*account{}
	for _, raw := range strings.Split(strings.TrimSpace(h.Logs.String()[mark:]), "\n") {
		var line struct {
			Message string `json:"message"`
			Account string `json:"account"`
			Op      string `json:"op"`
		}
		if err := json.Unmarshal([]byte(raw), &line); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, raw)
		}
		a := accounts[line.Account]
		if a == nil {
			a = &account{}
			accounts[line.Account] = a
		}
		switch line.Message {
		case "threads slot taken":
			if a.inSlot {
				t.Errorf("%s took a second slot while holding one", line.Account)
			}
			a.inSlot, a.threadsCall = true, 0
			a.slots++
		case "threads slot given back":
			if !a.inSlot || a.threadsCall != 1 {
				t.Errorf("%s gave back a slot in which it made %d Threads calls, want 1", line.Account, a.threadsCall)
			}
			a.inSlot = false
		case "traced threads call":
			if !a.inSlot {
				t.Errorf("%s called Threads without a slot", line.Account)
			}
			a.threadsCall++
		case "traced store call":
			if a.inSlot {
				t.Errorf("%s made a store call (%s) while holding a Threads slot", line.Account, line.Op)
			}
		}
	}
	for i := range n {
		id := "acct" + strconv.Itoa(i)
		// Adopting the version, Meta is asked for its clocks; then the
		// refresh; then Meta is asked for the new token's clocks.
		want := 3
		if id == "acct1" || id == "acct4" {
			want = 4 // the failed attempt and its retry
		}
		if a := accounts[id]; a == nil || a.slots != want || a.inSlot {
			t.Errorf("%s: %+v, want %d slots taken and given back", id, a, want)
		}
	}
}

// blockingThreads holds the first Threads call until release is closed.
type blockingThreads struct {
	refresh.Platform // its Inspect is the real one
	once             sync.Once
	release          chan struct{}
}

func (r *blockingThreads) Refresh(ctx context.Context, token string) (graph.Token, error) {
	first := false
	r.once.Do(func() { first = true })
	if first {
		select {
		case <-r.release:
		case <-ctx.Done():
			return graph.Token{}, ctx.Err()
		}
	}
	return r.Platform.Refresh(ctx, token)
}

// TestSkippedWaitingForASlot: an account that has its lease but gets no
// Threads slot before too little time is left (StartBudget) is skipped: it
// gives its lease back, records nothing, and Threads never hears of it.
func TestSkippedWaitingForASlot(t *testing.T) {
	t.Parallel()
	threads := &blockingThreads{release: make(chan struct{})}
	h := newHarness(t, func(e *refresh.Engine) {
		e.Concurrency = 1
		threads.Platform = e.Platforms[payload.PlatformThreads]
		e.Platforms[payload.PlatformThreads] = threads
	})
	h.seed("a", 72*time.Hour)
	h.seed("b", 72*time.Hour)
	// StartBudget is 3 × 2 s + 10 s: the cutoff for a slot is 300 ms
	// after the start, and the first Threads call holds its slot past it.
	budget := refresh.StartBudget(h.Engine.ThreadsTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), budget+300*time.Millisecond)
	defer cancel()
	time.AfterFunc(time.Second, func() { close(threads.release) })

	rep := h.passCtx(ctx)
	var skipped string
	for _, id := range []string{"a", "b"} {
		switch r := result(t, rep, id); r.Result {
		case refresh.ResultRefreshed:
		case refresh.ResultSkipped:
			skipped = id
			if r.Error == "" {
				t.Errorf("%s skipped without saying why", id)
			}
		default:
			t.Errorf("%s: %+v, want refreshed or skipped", id, r)
		}
	}
	if skipped == "" || rep.Refreshed != 1 || !rep.OK() {
		t.Fatalf("%+v, want one refreshed and one skipped, the pass ok", rep)
	}
	if n := h.TH.TotalCalls(); n != 1 {
		t.Errorf("Threads called %d times, want once (the skipped account never)", n)
	}
	if len(h.versions(skipped)) != 1 {
		t.Errorf("skipped %s got a new version", skipped)
	}
	if st, ok := h.state(skipped); ok {
		t.Errorf("skipped %s has a record %+v: the bare lease was not given back", skipped, st)
	}
	if r := result(t, h.pass(), skipped); r.Result != refresh.ResultRefreshed {
		t.Errorf("next pass: %s %+v, want refreshed", skipped, r)
	}
}

// TestSkippedNearDeadline: with less than 3 x ThreadsTimeout + 10s left, a
// pass starts no account, and still reports fresh ones as fresh.
func TestSkippedNearDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		deadline time.Duration
		want     refresh.Result
	}{
		{10 * time.Second, refresh.ResultSkipped}, // 3 x 2s + 10s = 16s needed
		{15 * time.Second, refresh.ResultSkipped},
		{time.Minute, refresh.ResultRefreshed},
	}
	for _, tt := range tests {
		t.Run(tt.deadline.String(), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil)
			h.seed("fresh", time.Hour)
			if r := result(t, h.pass(), "fresh"); r.Result != refresh.ResultRolledForward {
				t.Fatalf("setting up: %+v", r)
			}
			h.seed("due", 72*time.Hour)
			h.seed("new", 48*time.Hour)
			calls := h.TH.TotalCalls()
			ctx, cancel := context.WithTimeout(context.Background(), tt.deadline)
			defer cancel()

			rep := h.passCtx(ctx)
			if r := result(t, rep, "fresh"); r.Result != refresh.ResultFresh {
				t.Errorf("fresh account: %+v, want fresh", r)
			}
			for _, id := range []string{"due", "new"} {
				r := result(t, rep, id)
				if r.Result != tt.want {
					t.Errorf("%s: %+v, want %s", id, r, tt.want)
				}
				if tt.want != refresh.ResultSkipped {
					continue
				}
				if r.Error == "" {
					t.Errorf("%s skipped without saying why", id)
				}
				if len(h.versions(id)) != 1 {
					t.Errorf("skipped %s got a new version", id)
				}
				if _, ok := h.state(id); ok {
					t.Errorf("skipped %s got state", id)
				}
				// No lease was left behind.
				if _, err := leases.Take(ctx, h.Store, h.account(id), "next-pass", h.Clock.Now().Add(time.Minute)); err != nil {
					t.Errorf("leasing skipped %s: %v", id, err)
				}
			}
			if tt.want == refresh.ResultSkipped {
				if n := h.TH.TotalCalls() - calls; n != 0 {
					t.Errorf("Threads called %d times in a pass that skipped everything", n)
				}
				if !rep.OK() || rep.Failed != 0 {
					t.Errorf("skipped accounts made the pass fail: %+v", rep)
				}
			}
		})
	}
}

// inflight counts concurrent Threads calls. It wraps the real client: the
// engine's own Platform interface, not a Google client.
type inflight struct {
	refresh.Platform // its Inspect is the real one
	cur, max         atomic.Int32
}

func (f *inflight) Refresh(ctx context.Context, token string) (threads.Token, error) {
	n := f.cur.Add(1)
	defer f.cur.Add(-1)
	for {
		m := f.max.Load()
		if n <= m || f.max.CompareAndSwap(m, n) {
			break
		}
	}
	return f.Platform.Refresh(ctx, token)
}

// TestConcurrencyBound: CONCURRENCY bounds the accounts worked on at once.
func TestConcurrencyBound(t *testing.T) {
	t.Parallel()
	const latency = 200 * time.Millisecond
	tests := []struct {
		concurrency int
		accounts    int
	}{
		{2, 6},
		{3, 6},
	}
	for _, tt := range tests {
		t.Run("CONCURRENCY="+strconv.Itoa(tt.concurrency), func(t *testing.T) {
			t.Parallel()
			counter := &inflight{}
			h := newHarness(t, func(e *refresh.Engine) {
				e.Concurrency = tt.concurrency
				counter.Platform = e.Platforms[payload.PlatformThreads]
				e.Platforms[payload.PlatformThreads] = counter
			}, threadsfake.Latency(latency))
			for i := range tt.accounts {
				h.seed("acct"+strconv.Itoa(i), 72*time.Hour)
			}
			start := time.Now()
			rep := h.pass()
			elapsed := time.Since(start)
			if rep.Refreshed != tt.accounts {
				t.Fatalf("%+v, want %d refreshed", rep, tt.accounts)
			}
			waves := (tt.accounts + tt.concurrency - 1) / tt.concurrency
			if least := time.Duration(waves) * latency; elapsed < least {
				t.Errorf("pass took %s, less than %d waves of %s", elapsed, waves, latency)
			}
			if got := int(counter.max.Load()); got != tt.concurrency {
				t.Errorf("at most %d Threads calls at once, want exactly %d", got, tt.concurrency)
			}
		})
	}
}
