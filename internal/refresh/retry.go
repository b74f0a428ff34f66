package refresh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
)

// callPlatform refreshes token with its platform's refresher, retrying
// transient failures with exponential backoff: at most threadsAttempts
// calls in all. Errors that need a person (ErrNeedsReauth) or that a retry
// cannot fix are returned at once.
func (w *work) callPlatform(token string) (graph.Token, error) {
	attempt := 0
	op := func() (graph.Token, error) {
		attempt++
		tok, err := w.refresher.Refresh(w.ctx, token)
		if err != nil && !errors.Is(err, graph.ErrTransient) {
			return tok, backoff.Permanent(err)
		}
		if err != nil {
			w.log.Warn("refresh failed; retrying", "platform", w.st.Platform, "attempt", attempt, "error", err.Error())
		}
		return tok, err
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = w.e.retryBase()
	b.Multiplier = 2
	return retry(w.ctx, op, backoff.WithBackOff(b), backoff.WithMaxTries(threadsAttempts))
}

// store adds payload as a new secret version. A refreshed token exists only
// in memory until this succeeds, so transient failures are retried with
// backoff for up to StoreRetryFor. After an uncertain failure the add may
// have happened: the newest version is checked first, so that one refresh
// never makes two versions.
func (w *work) store(payload []byte, previous Version) (Version, error) {
	// The token exists nowhere else: a cancelled pass must not drop it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), w.e.storeRetryFor())
	defer cancel()
	uncertain := false
	op := func() (Version, error) {
		if uncertain {
			if v, ok := w.alreadyAdded(ctx, payload, previous); ok {
				return v, nil
			}
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
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = w.e.retryBase()
	b.MaxInterval = 30 * time.Second
	return retry(ctx, op, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(w.e.storeRetryFor()))
}

// alreadyAdded looks for a version newer than previous that holds payload.
func (w *work) alreadyAdded(ctx context.Context, payload []byte, previous Version) (Version, bool) {
	versions, err := w.e.Secrets.Versions(ctx, w.a)
	if err != nil {
		return Version{}, false
	}
	newest, ok := newestVersion(versions)
	if !ok || newest.Number <= previous.Number || newest.State != VersionEnabled {
		return Version{}, false
	}
	got, err := w.e.Secrets.Access(ctx, w.a, newest)
	if err != nil || !bytes.Equal(got, payload) {
		return Version{}, false
	}
	return newest, true
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
