package threads_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
	"github.com/threads-token-refresher/threads-token-refresher/internal/threads"
)

func TestCallerContextEnds(t *testing.T) {
	t.Parallel()
	t.Run("canceled", func(t *testing.T) {
		t.Parallel()
		f := startFake(t)
		c := newClient(t, f, time.Minute)
		f.FailNext("", threadsfake.Hang, 1)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := c.Refresh(ctx, f.IssueLongLived(userID, "a", epoch.Add(-48*time.Hour)))
		if !errors.Is(err, context.Canceled) || !errors.Is(err, threads.ErrTransient) {
			t.Errorf("error %v: want context.Canceled and ErrTransient", err)
		}
	})
	t.Run("caller deadline", func(t *testing.T) {
		t.Parallel()
		f := startFake(t)
		c := newClient(t, f, time.Minute)
		f.FailNext("", threadsfake.Hang, 1)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := c.Refresh(ctx, f.IssueLongLived(userID, "a", epoch.Add(-48*time.Hour)))
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, threads.ErrTransient) {
			t.Errorf("error %v: want context.DeadlineExceeded and ErrTransient", err)
		}
	})
	t.Run("per-request timeout", func(t *testing.T) {
		t.Parallel()
		f := startFake(t)
		c := newClient(t, f, 100*time.Millisecond)
		f.FailNext("", threadsfake.Hang, 1)
		start := time.Now()
		_, err := c.Refresh(t.Context(), f.IssueLongLived(userID, "a", epoch.Add(-48*time.Hour)))
		if !errors.Is(err, threads.ErrTransient) {
			t.Errorf("error %v is not transient", err)
		}
		// The caller's context is fine, and the error must not say otherwise.
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			t.Errorf("error %v claims the caller's context ended", err)
		}
		if want := "no answer within 100ms"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the call took %v with a 100ms timeout", d)
		}
	})
}

// TestResetOnReusedConnection checks that a connection that dies mid-answer
// fails the call with exactly one request, even on a kept-alive connection
// where net/http might resend.
func TestResetOnReusedConnection(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	c := newClient(t, f, 5*time.Second)
	tok := f.IssueLongLived(userID, "a", epoch)
	for i := range 20 {
		if _, err := c.Me(t.Context(), tok); err != nil {
			t.Fatalf("Me #%d: %v", i, err)
		}
		f.FailNext(threadsfake.PathMe, threadsfake.Reset, 1)
		_, err := c.Me(t.Context(), tok)
		if !errors.Is(err, threads.ErrTransient) {
			t.Fatalf("Me after reset #%d: %v, want ErrTransient", i, err)
		}
		if got, want := f.Calls(threadsfake.PathMe), 2*(i+1); got != want {
			t.Fatalf("after %d rounds the fake got %d requests, want %d", i+1, got, want)
		}
	}
}

func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	f := threadsfake.New()
	base := f.URL()
	f.Close()
	c := threads.New(base, time.Second, nil)
	_, err := c.Refresh(t.Context(), "THAAsecret-token-value")
	if !errors.Is(err, threads.ErrTransient) {
		t.Errorf("error %v is not transient", err)
	}
	if err != nil && !strings.Contains(err.Error(), "GET "+base+"/refresh_access_token: ") {
		t.Errorf("error %q does not name the call without its query", err)
	}
}

func TestInvalidBaseURL(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"ftp://graph.threads.net", "graph.threads.net", "https://graph.threads.net/?x=1", "http://[::1"} {
		_, err := threads.New(base, time.Second, nil).Me(t.Context(), "THAAtoken")
		if err == nil || errors.Is(err, threads.ErrTransient) {
			t.Errorf("base %q: error %v, want a permanent error", base, err)
		}
	}
}
