package refresh_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/leases"
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
		leased, lerr := leases.Take(ctx, s.StateStore, a, "quicker-pass", s.h.clock.Now().Add(time.Minute))
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
			if h.th.TotalCalls() != 0 || len(h.versions("main")) != 1 {
				t.Error("an account leased from a stale read was worked on")
			}
			if st, _ := h.state("main"); st.LastError != quickerPass || st.Failures != 0 {
				t.Errorf("the record is %+v, not as the quicker pass left it", st)
			}
		})
	}
}
