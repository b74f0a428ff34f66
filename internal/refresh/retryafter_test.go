package refresh_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// timedRefreshes records when each refresh call was made.
type timedRefreshes struct {
	refresh.Platform
	mu    sync.Mutex
	times []time.Time
}

func (r *timedRefreshes) Refresh(ctx context.Context, token string) (graph.Token, error) {
	r.mu.Lock()
	r.times = append(r.times, time.Now())
	r.mu.Unlock()
	return r.Platform.Refresh(ctx, token)
}

func rateLimited(retryAfter string) threadsfake.Answer {
	return threadsfake.Answer{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {retryAfter}},
		Body: `{"error":{"message":"(#4) Application request limit reached","type":"OAuthException","code":4,"is_transient":true}}`}
}

// TestRetryAfterIsHonoured: a rate-limited answer's Retry-After is waited
// out before the next attempt, though the engine's own backoff is far
// shorter; a wait that would not leave time for another attempt before the
// pass's deadline ends the retries instead (the next pass tries again).
func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	t.Run("waited", func(t *testing.T) {
		t.Parallel()
		timed := &timedRefreshes{}
		h := newHarness(t, func(e *refresh.Engine) {
			timed.Platform = e.Platforms[payload.PlatformThreads]
			e.Platforms[payload.PlatformThreads] = timed
		})
		h.seed("main", 72*time.Hour)
		h.TH.AnswerNext(threadsfake.PathRefresh, rateLimited("2"), 1)
		if r := result(t, h.pass(), "main"); r.Result != refresh.ResultRefreshed {
			t.Fatalf("%+v, want refreshed on the second attempt", r)
		}
		if len(timed.times) != 2 {
			t.Fatalf("%d refresh calls, want 2", len(timed.times))
		}
		if gap := timed.times[1].Sub(timed.times[0]); gap < 2*time.Second {
			t.Errorf("retried %s after a Retry-After of 2 seconds", gap)
		}
	})
	t.Run("beyond the deadline", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.seed("main", 72*time.Hour)
		h.TH.AnswerNext(threadsfake.PathRefresh, rateLimited("3600"), 1)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		began := time.Now()
		r := result(t, h.passCtx(ctx), "main")
		if r.Result != refresh.ResultFailed || !strings.Contains(r.Error, "rate limited") {
			t.Errorf("%+v, want failed, rate limited", r)
		}
		if n := h.refreshCalls(); n != 1 {
			t.Errorf("%d refresh calls, want 1: the wait asked for does not fit in the pass", n)
		}
		if d := time.Since(began); d > 20*time.Second {
			t.Errorf("the pass took %s; it should give up at once", d)
		}
	})
}
