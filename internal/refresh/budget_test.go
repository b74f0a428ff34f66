package refresh_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/leases"
)

// quotaSecrets stands for a secret store that paces its calls under
// per-minute budgets and meets quotas, as secretstore does with Secret
// Manager: the calls it is told to refuse are refused the way such a
// store refuses them, before they happen.
type quotaSecrets struct {
	refresh.SecretStore
	mu sync.Mutex
	// refuse is the error of the next calls of an operation ("versions",
	// "access"), for as many calls as left says (-1: every call).
	refuse map[string]error
	left   map[string]int
	// deadlines are the deadlines of the contexts the calls got.
	deadlines map[string][]time.Time
}

func newQuotaSecrets() *quotaSecrets {
	return &quotaSecrets{refuse: map[string]error{}, left: map[string]int{}, deadlines: map[string][]time.Time{}}
}

func (s *quotaSecrets) set(op string, err error, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse[op], s.left[op] = err, n
}

func (s *quotaSecrets) call(ctx context.Context, op string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, _ := ctx.Deadline()
	s.deadlines[op] = append(s.deadlines[op], d)
	if s.left[op] == 0 {
		return nil
	}
	if s.left[op] > 0 {
		s.left[op]--
	}
	return s.refuse[op]
}

func (s *quotaSecrets) Versions(ctx context.Context, a refresh.Account) ([]refresh.Version, error) {
	if err := s.call(ctx, "versions"); err != nil {
		return nil, fmt.Errorf("listing versions of %s: %w", a.Secret, err)
	}
	return s.SecretStore.Versions(ctx, a)
}

func (s *quotaSecrets) Access(ctx context.Context, a refresh.Account, v refresh.Version) ([]byte, error) {
	if err := s.call(ctx, "access"); err != nil {
		return nil, fmt.Errorf("accessing %s: %w", a.Secret, err)
	}
	return s.SecretStore.Access(ctx, a, v)
}

// quotaHarness is an engine on quotaSecrets, with one account "main" due.
func quotaHarness(t *testing.T) (*harness, *quotaSecrets) {
	secrets := newQuotaSecrets()
	h := newHarness(t, func(e *refresh.Engine) {
		secrets.SecretStore = e.Secrets
		e.Secrets = secrets
	})
	h.seed("main", 72*time.Hour)
	return h, secrets
}

// Refusals as a paced store wraps them.
var (
	quotaRefusal = fmt.Errorf("rpc error: code = ResourceExhausted desc = Quota exceeded: %w: %w", refresh.ErrUnavailable, refresh.ErrQuota)
	noBudget     = fmt.Errorf("waiting for the read budget: rate: Wait(n=1) would exceed context deadline: %w", refresh.ErrNoBudget)
)

// TestQuotaRefusalWaitedOut: a list or a read that a quota refuses (another
// application of the project spent it) is waited out and made again
// within the pass: the account is refreshed, not failed.
func TestQuotaRefusalWaitedOut(t *testing.T) {
	t.Parallel()
	for _, op := range []string{"versions", "access"} {
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			h, secrets := quotaHarness(t)
			secrets.set(op, quotaRefusal, 3)
			rep := h.pass()
			if r := result(t, rep, "main"); r.Result != refresh.ResultRefreshed || !rep.OK() {
				t.Fatalf("%+v, want refreshed after the quota refilled", r)
			}
			if n := len(secrets.deadlines[op]); n < 4 {
				t.Errorf("%d %s calls, want the 3 refused and the one that went through", n, op)
			}
			if !strings.Contains(h.Logs.String(), "waiting for it to refill") {
				t.Error("the waits for the quota were not logged")
			}
		})
	}
}

// TestSkippedForTheBudget: when the store's pacing has no room for a list
// or a read before the account must start its Meta calls (its start
// cutoff), the account is skipped, not failed: Meta is never asked, the
// lease is given back and nothing is recorded, and the next pass refreshes
// it. So is an account whose calls a quota keeps refusing until then.
func TestSkippedForTheBudget(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, op string
		err      error
	}{
		{"no budget for the list", "versions", noBudget},
		{"no budget for the read", "access", noBudget},
		{"quota refusals until the cutoff", "versions", quotaRefusal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, secrets := quotaHarness(t)
			secrets.set(tt.op, tt.err, -1)
			// The start cutoff is StartBudget (3 × 2 s + 10 s) before the
			// deadline: a second after the pass starts.
			deadline := time.Now().Add(refresh.StartBudget(h.Engine.ThreadsTimeout) + time.Second)
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			defer cancel()

			rep := h.passCtx(ctx)
			r := result(t, rep, "main")
			if r.Result != refresh.ResultSkipped || !rep.OK() || !strings.Contains(r.Error, "quotas") {
				t.Fatalf("%+v, want skipped for the store's quotas, the pass ok", r)
			}
			if n := h.TH.TotalCalls(); n != 0 {
				t.Errorf("Meta was called %d times for a skipped account", n)
			}
			if st, ok := h.state("main"); ok {
				t.Errorf("the skipped account has a record %+v: its lease was not given back", st)
			}
			leased, err := leases.Take(context.Background(), h.Store, h.account("main"), "another-pass", h.Clock.Now().Add(time.Minute))
			if err != nil {
				t.Errorf("leasing the skipped account: %v", err)
			} else if err := h.Store.Release(context.Background(), h.account("main"), "another-pass", leased); err != nil {
				t.Fatal(err)
			}
			cutoff := deadline.Add(-refresh.StartBudget(h.Engine.ThreadsTimeout))
			for _, d := range secrets.deadlines[tt.op] {
				if d.IsZero() || d.After(cutoff) {
					t.Errorf("a %s call had the deadline %v, want the start cutoff %v at the latest", tt.op, d, cutoff)
				}
			}

			secrets.set(tt.op, nil, 0)
			if r := result(t, h.pass(), "main"); r.Result != refresh.ResultRefreshed {
				t.Errorf("next pass: %+v, want refreshed", r)
			}
		})
	}
}

// TestOtherErrorsStillFail: only the quotas' refusals are waited out or
// skipped; a store that is down still fails the account (and raises the
// alert), as before.
func TestOtherErrorsStillFail(t *testing.T) {
	t.Parallel()
	h, secrets := quotaHarness(t)
	secrets.set("versions", fmt.Errorf("rpc error: code = Unavailable: %w", refresh.ErrUnavailable), 1)
	r := result(t, h.pass(), "main")
	if r.Result != refresh.ResultFailed || !strings.Contains(r.Error, "Unavailable") {
		t.Fatalf("%+v, want failed with the store's error", r)
	}
	if n := len(secrets.deadlines["versions"]); n != 1 {
		t.Errorf("%d lists, want 1: an unavailable store is not retried within the pass", n)
	}
}
