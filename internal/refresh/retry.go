package refresh

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
)

// callPlatform refreshes token with its platform, retrying transient
// failures with exponential backoff: at most threadsAttempts calls in all.
// Errors that need a person (ErrNeedsReauth) or that a retry cannot fix are
// returned at once. A wait Meta asks for (Retry-After) is honoured when it
// is longer than the backoff's, and ends the retries when it would not
// leave time for another attempt before the account's deadline. Each
// attempt holds a slot for the call alone; the waits between attempts hold
// none. errNoSlot means Meta was never asked.
func (w *work) callPlatform(token string) (graph.Token, error) {
	attempt := 0
	var asked time.Duration // the last answer's Retry-After
	op := func() (graph.Token, error) {
		attempt++
		release, err := w.takeSlot(attempt == 1)
		if err != nil {
			return graph.Token{}, backoff.Permanent(err)
		}
		tok, err := w.refreshIn(release, token)
		if err != nil && !errors.Is(err, graph.ErrTransient) {
			return tok, backoff.Permanent(err)
		}
		if err != nil {
			asked = graph.RetryAfter(err)
			w.log.Warn("refresh failed; retrying", "platform", w.st.Platform, "attempt", attempt, "retryAfter", asked.String(), "error", err.Error())
		}
		return tok, err
	}
	b := &askedWait{next: w.e.backOff(backoff.DefaultMaxInterval), asked: &asked, ctx: w.ctx, attempt: w.e.ThreadsTimeout}
	return retry(w.ctx, op, backoff.WithBackOff(b), backoff.WithMaxTries(threadsAttempts))
}

// askedWait waits at least what the last answer asked (Retry-After), and
// stops when that wait and one more attempt would not fit before ctx's
// deadline: the next pass tries again.
type askedWait struct {
	next    backoff.BackOff
	asked   *time.Duration
	ctx     context.Context
	attempt time.Duration
}

func (a *askedWait) Reset() { a.next.Reset() }

func (a *askedWait) NextBackOff() time.Duration {
	d := a.next.NextBackOff()
	if d == backoff.Stop || *a.asked <= d {
		return d
	}
	d = *a.asked
	if deadline, ok := a.ctx.Deadline(); ok && time.Until(deadline) < d+a.attempt {
		return backoff.Stop
	}
	return d
}

// refreshIn makes one refresh call in the slot that release gives back,
// even if the call panics: a slot kept by a panicking worker would stop
// every account still waiting for one.
//
// Once sent, the call is not cut short by the pass's end (a caller gone,
// SIGTERM, the pass's deadline): Meta may already have issued the new
// token, and with some accounts killed the old one, so hanging up would
// throw away the only token that works (internal/sim, invariant 10). The
// client's own per-request timeout (ThreadsTimeout) still bounds it, and a
// cancelled pass starts no call (takeSlot) and no retry.
func (w *work) refreshIn(release func(), token string) (graph.Token, error) {
	defer release()
	return w.platform.Refresh(context.WithoutCancel(w.ctx), token)
}

// store adds payload as a new secret version. A refreshed token exists only
// in memory until this succeeds, so transient failures are retried with
// backoff for up to StoreRetryFor. After an uncertain failure the add may
// have happened: the versions added since are checked first, until the
// check itself succeeds, so that one refresh never makes two versions.
func (w *work) store(payload []byte, previous Version) (Version, error) {
	// The token exists nowhere else: a cancelled pass must not drop it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), w.e.storeRetryFor())
	defer cancel()
	uncertain := false
	op := func() (Version, error) {
		if uncertain {
			v, found, err := w.alreadyAdded(ctx, payload, previous)
			if err != nil {
				// A check that failed decides nothing: adding now could
				// make a second version (the simulation found this, seed 3
				// of internal/sim), so check again after the backoff.
				w.log.Warn("checking whether the refreshed token was stored failed; retrying", "error", err.Error())
				return Version{}, err
			}
			if found {
				return v, nil
			}
			uncertain = false
		}
		v, err := w.e.Secrets.Add(ctx, w.a, payload)
		switch {
		case err == nil:
			return v, nil
		case errors.Is(err, ErrUncertain):
			uncertain = true
		case errors.Is(err, ErrUnavailable):
		default:
			return Version{}, backoff.Permanent(err)
		}
		w.log.Warn("storing the refreshed token failed; retrying", "error", err.Error())
		return Version{}, err
	}
	b := w.e.backOff(30 * time.Second)
	return retry(ctx, op, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(w.e.storeRetryFor()))
}

// alreadyAdded looks, newest first, for an enabled version newer than
// previous that holds payload (a person may have added one after it). An
// error means the question is still open.
func (w *work) alreadyAdded(ctx context.Context, payload []byte, previous Version) (Version, bool, error) {
	versions, err := w.e.Secrets.Versions(ctx, w.a)
	if err != nil {
		return Version{}, false, err
	}
	slices.SortFunc(versions, func(a, b Version) int { return cmp.Compare(b.Number, a.Number) })
	for _, v := range versions {
		if v.Number <= previous.Number {
			break
		}
		if v.State != VersionEnabled {
			continue
		}
		got, err := w.e.Secrets.Access(ctx, w.a, v)
		if err != nil {
			return Version{}, false, err
		}
		if bytes.Equal(got, payload) {
			return v, true, nil
		}
	}
	return Version{}, false, nil
}

// retryJitter spreads each retry wait over [1-retryJitter, 1+retryJitter)
// times its exponential value, as the backoff library's default does, so
// that accounts failing together do not retry together.
const retryJitter = 0.5

// backOff returns waits that start at RetryBase and double up to max, with
// jitter drawn from the engine's source.
func (e *Engine) backOff(max time.Duration) backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = e.retryBase()
	b.Multiplier = 2
	b.MaxInterval = max
	b.RandomizationFactor = 0 // the library's jitter cannot be seeded
	return &jittered{exp: b, rand: e.rand()}
}

// jittered is an exponential backoff whose jitter comes from rand.
type jittered struct {
	exp  *backoff.ExponentialBackOff
	rand func() float64
}

func (j *jittered) Reset() { j.exp.Reset() }

func (j *jittered) NextBackOff() time.Duration {
	d := j.exp.NextBackOff()
	if d == backoff.Stop {
		return d
	}
	return time.Duration(float64(d) * (1 - retryJitter + 2*retryJitter*j.rand()))
}

// retry runs backoff.Retry, keeping the operation's last error when the
// context ends the retries, since that error is the one worth reporting.
func retry[T any](ctx context.Context, op backoff.Operation[T], opts ...backoff.RetryOption) (T, error) {
	var last error
	res, err := backoff.Retry(ctx, func() (T, error) {
		r, err := op()
		if err != nil {
			last = err
		}
		return r, err
	}, opts...)
	if err != nil && last != nil && ctx.Err() != nil && !errors.Is(err, last) {
		return res, fmt.Errorf("%w (gave up: %w)", last, err)
	}
	return res, err
}
