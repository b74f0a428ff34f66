package sim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"time"
)

// Cloud Scheduler and Cloud Run as a pass meets them: the hourly job,
// its duplicate deliveries and retries, and the request whose end (a
// caller gone, SIGTERM, the function's timeout) cancels the pass.

// tick is Cloud Scheduler firing the hourly job: one delivery, sometimes
// two or three (at-least-once delivery), then the next hour.
func (s *sim) tick(hour int) {
	now := time.Now()
	d := &delivery{hour: hour}
	s.launchPass(d, 0)
	if s.rng.Float64() < s.cfg.rates.duplicate {
		for range 1 + s.rng.IntN(2) {
			s.stats.duplicates++
			// Calls take no simulated time, so only passes started at the
			// same instant overlap; half the duplicates do, as real ones,
			// milliseconds apart, overlap real calls.
			var late time.Duration
			if s.rng.IntN(2) == 0 {
				late = time.Duration(s.rng.Int64N(int64(2 * time.Minute)))
			}
			s.push(now.Add(late), func() { s.launchPass(d, -1) })
		}
	}
	if next := start.Add(time.Duration(hour+1) * time.Hour); next.Before(s.end) {
		s.push(next, func() { s.tick(hour + 1) })
	}
}

// launchPass starts one pass of delivery d: attempt 0 is the first
// delivery, 1 to 3 Cloud Scheduler's retries, -1 a duplicate.
//
// The pass is a POST to internal/httpapi's handler, as Cloud Scheduler
// makes it, whose status is what the scheduler sees. Its request ends, and
// its context with it, when the function's timeout passes (PASS_TIMEOUT +
// 30 s, as terraform/function.tf sets them): Cloud Run answers 504 and the
// attempt has failed, whatever the pass still does.
func (s *sim) launchPass(d *delivery, attempt int) {
	a := s.newActor()
	a.delivery = d
	a.attempt = attempt
	s.stats.passes++
	ctx, cancel := context.WithCancel(withActor(context.Background(), a))
	a.cancel = cancel
	s.spawn(a, ctx, func(ctx context.Context) {
		defer cancel()
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodPost, "/", nil))
		a.status, a.body = rec.Code, rec.Body.String()
	})
	s.push(time.Now().Add(s.deploy.passTimeout+functionMargin), func() {
		if !a.ended.Load() && !a.crashed {
			s.giveUp(a, "the function's timeout")
		}
	})
}

// functionMargin is how much longer than PASS_TIMEOUT the function's
// timeout is (terraform/function.tf: PASS_TIMEOUT = timeout_seconds - 30).
const functionMargin = 30 * time.Second

// giveUp is a pass's caller going away (why): its request's context is
// cancelled and Cloud Scheduler counts the attempt failed, retrying it
// from now, while the pass itself may go on.
func (s *sim) giveUp(a *actor, why string) {
	if a.cancelled {
		return
	}
	a.cancelled = true
	a.cancel()
	s.settle = true
	s.stats.cancels++
	if s.verbose {
		s.t.Logf("  pass %d cancelled: %s", a.id, why)
	}
	s.retryLater(a, time.Now())
	a.retried = true
}

// kill is the end of SIGTERM's grace: the process dies.
func (s *sim) kill(a *actor) {
	if !a.ended.Load() && !a.crashed {
		s.crashed(a)
	}
}

// retryLater schedules Cloud Scheduler's retry of a failed attempt a,
// seen failing at now, if it has retries left.
func (s *sim) retryLater(a *actor, now time.Time) {
	if a.retried || a.attempt < 0 || a.attempt >= schedulerRetries || s.quiet || s.stopping {
		return
	}
	wait := min(schedulerMinBackoff<<a.attempt, schedulerMaxBackoff)
	s.stats.retries++
	s.push(now.Add(wait), func() { s.launchPass(a.delivery, a.attempt+1) })
}
