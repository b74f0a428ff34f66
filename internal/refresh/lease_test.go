package refresh_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/leases"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// quickerPass marks the record staleLoad's other pass leaves.
const quickerPass = "left by the quicker pass"

// staleLoad lets another pass lease an account and record it after the
// pass's batched read: the read the pass then leases from is stale.
type staleLoad struct {
	refresh.StateStore
	h    *harness
	id   string
	once sync.Once
}

func (s *staleLoad) Load(ctx context.Context, accounts []refresh.Account) (map[string]refresh.State, error) {
	states, err := s.StateStore.Load(ctx, accounts)
	s.once.Do(func() {
		a := s.h.account(s.id)
		leased, lerr := leases.Take(ctx, s.StateStore, a, "quicker-pass", s.h.Clock.Now().Add(time.Minute))
		if lerr == nil {
			leased.LastError = quickerPass
			lerr = s.StateStore.Commit(ctx, a, "quicker-pass", leased)
		}
		if lerr != nil {
			err = errors.Join(err, lerr)
		}
	})
	return states, err
}

// TestStaleReadIsBusy: another pass wrote the account's record after this
// pass read it; this pass's lease is refused (busy), and it neither calls
// Threads nor writes anything.
func TestStaleReadIsBusy(t *testing.T) {
	t.Parallel()
	for _, known := range []bool{false, true} {
		t.Run("state="+strconv.FormatBool(known), func(t *testing.T) {
			t.Parallel()
			var stale *staleLoad
			h := newHarness(t, func(e *refresh.Engine) {
				stale = &staleLoad{StateStore: e.States, id: "main"}
				e.States = stale
			})
			stale.h = h
			_, v := h.seed("main", 72*time.Hour)
			if known {
				h.writeState("main", refresh.State{
					Secret: h.account("main").Secret, Version: v.Name, Status: refresh.StatusOK,
					RefreshedAt: v.CreateTime, ExpiresAt: v.CreateTime.Add(60 * 24 * time.Hour),
				})
			}
			rep := h.pass()
			if r := result(t, rep, "main"); r.Result != refresh.ResultBusy || !rep.OK() {
				t.Fatalf("%+v, want busy", rep)
			}
			if h.TH.TotalCalls() != 0 || len(h.versions("main")) != 1 {
				t.Error("an account leased from a stale read was worked on")
			}
			if st, _ := h.state("main"); st.LastError != quickerPass || st.Failures != 0 {
				t.Errorf("the record is %+v, not as the quicker pass left it", st)
			}
		})
	}
}

// TestBusy: an account whose lease another pass holds is reported busy and
// left alone; once that lease expires the next pass works on it.
func TestBusy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		state bool // the account already has state (ok, due)
	}{
		{"no state yet", false},
		{"due state", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil)
			ctx := context.Background()
			a := h.account("main")
			_, v := h.seed("main", 72*time.Hour)
			if tt.state {
				h.writeState("main", refresh.State{
					Secret: a.Secret, Version: v.Name, Status: refresh.StatusOK,
					RefreshedAt: v.CreateTime, ExpiresAt: v.CreateTime.Add(60 * 24 * time.Hour),
				})
			}
			if _, err := leases.Take(ctx, h.Store, a, "another-pass", h.Clock.Now().Add(10*time.Minute)); err != nil {
				t.Fatal(err)
			}
			before, _ := h.state("main")

			rep := h.pass()
			if r := result(t, rep, "main"); r.Result != refresh.ResultBusy || !rep.OK() {
				t.Fatalf("%+v, want busy without failing the pass", rep)
			}
			if h.TH.TotalCalls() != 0 || len(h.versions("main")) != 1 {
				t.Error("a busy account was worked on")
			}
			// Not even the record's revision moved: a busy account costs
			// no write.
			if after, _ := h.state("main"); !reflect.DeepEqual(after, before) {
				t.Errorf("busy account's record changed: %+v, was %+v", after, before)
			}
			if _, err := leases.Take(ctx, h.Store, a, "third-pass", h.Clock.Now().Add(time.Minute)); !errors.Is(err, refresh.ErrBusy) {
				t.Errorf("the other pass's lease was not left in place: leasing gave %v", err)
			}

			h.Clock.Advance(10*time.Minute + time.Second)
			if r := result(t, h.pass(), "main"); r.Result != refresh.ResultRefreshed {
				t.Fatalf("after the lease expired: %+v, want refreshed", r)
			}
		})
	}
}

// A pass cancelled while Threads is answering (Ctrl-C on `refresher run`,
// Cloud Scheduler giving up, SIGTERM) still gets the token Meta issues,
// stores it and records it, and gives the lease back: Meta may kill the
// old token with the refresh (RetireOnRefresh), so hanging up on the
// answer would leave the account with no working token, and a lease kept
// would keep the next pass out for the lease's lifetime.
func TestCancelledPassKeepsTheRefreshedToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil, threadsfake.Latency(time.Second), threadsfake.RetireOnRefresh())
	old, _ := h.seed("main", 72*time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	// Cancelled as soon as the refresh reaches Meta, a second before the
	// answer.
	go func() {
		for h.refreshCalls() == 0 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	rep := h.passCtx(ctx)
	cancel()
	if r := rep.Accounts[0]; r.Result != refresh.ResultRefreshed {
		t.Fatalf("cancelled pass: %+v, want refreshed (the token Meta issued kept)", r)
	}
	if h.TH.Valid(old) {
		t.Fatal("Meta did not retire the old token; the test proves nothing")
	}
	tok, v := h.currentToken("main")
	if !h.TH.Valid(tok) {
		t.Fatalf("the newest version (%d) holds a token Meta does not accept", v.Number)
	}
	states, err := h.Store.Load(context.Background(), []refresh.Account{h.account("main")})
	if err != nil {
		t.Fatal(err)
	}
	if st := states["main"]; st.Status != refresh.StatusOK || st.Version != v.Name {
		t.Errorf("state after the cancelled pass: %+v, want ok at %s", st, v.Name)
	}
	if r := h.pass().Accounts[0]; r.Result != refresh.ResultFresh {
		t.Errorf("next pass: %+v, want fresh (not busy)", r)
	}
}

// slowMeta is a platform whose first refresh takes as long as the work
// on one account may take: during it, the fake clock moves on by took,
// and during then, another pass runs (during).
type slowMeta struct {
	refresh.Platform
	took   time.Duration
	h      *harness
	slowed atomic.Bool
	during func()
}

func (m *slowMeta) Refresh(ctx context.Context, token string) (graph.Token, error) {
	// Not sync.Once: the other pass's refresh, if it gets one, must not
	// wait for this one.
	if m.slowed.CompareAndSwap(false, true) {
		m.h.Clock.Advance(m.took)
		m.during()
	}
	return m.Platform.Refresh(ctx, token)
}

// An account's work may last up to AccountTimeout (three Threads attempts
// under THREADS_TIMEOUT, up to ten minutes) and more for the writes that
// end it: a pass that starts meanwhile finds the account busy, however
// late in that work, so that two passes never refresh one token. A lease
// shorter than the work (the outside campaign of issue 21 planted 90
// seconds, and nothing caught it) lets the second pass in.
func TestLeaseOutlivesAnAccountsWork(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.seed("main", 72*time.Hour)
	var second refresh.Report
	slow := &slowMeta{Platform: h.Engine.Platforms[payload.PlatformThreads], took: refresh.AccountTimeout - time.Second, h: h}
	slow.during = func() {
		rep, err := h.Engine.Pass(context.Background())
		if err != nil {
			t.Errorf("second pass: %v", err)
		}
		second = rep
	}
	h.Engine.Platforms[payload.PlatformThreads] = slow
	// Not h.pass: its check of one line per account would count the
	// second pass's lines too.
	first, err := h.Engine.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r := result(t, first, "main"); r.Result != refresh.ResultRefreshed {
		t.Fatalf("first pass: %+v, want refreshed", r)
	}
	if r := result(t, second, "main"); r.Result != refresh.ResultBusy {
		t.Errorf("a pass started %v into another's work on the account: %+v, want busy", slow.took, r)
	}
	if n := h.refreshCalls(); n != 1 {
		t.Errorf("Meta was asked %d times to refresh one token, want once", n)
	}
}
