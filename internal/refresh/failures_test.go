package refresh_test

import (
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// TestFailuresCountConsecutivePasses: failures counts the passes that ended
// failing in a row, every attempt sets lastAttemptAt, the secret is never
// touched, and one success resets the count.
func TestFailuresCountConsecutivePasses(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.seed("main", 72*time.Hour)
	passes := []struct {
		failure threadsfake.Failure
		n       int // queued failures: transient ones are retried within the pass
	}{
		{threadsfake.HTML5xx, 3},
		{threadsfake.Unsupported, 1},
		{threadsfake.Transient, 3},
	}
	for i, p := range passes {
		h.Clock.Advance(time.Hour)
		h.TH.FailNext(threadsfake.PathRefresh, p.failure, p.n)
		calls := h.refreshCalls()
		r := result(t, h.pass(), "main")
		if r.Result != refresh.ResultFailed || r.Error == "" || r.Failures != i+1 {
			t.Fatalf("pass %d (%s): %+v, want failed with an error and failures %d", i+1, p.failure, r, i+1)
		}
		if got := h.refreshCalls() - calls; got != p.n {
			t.Errorf("pass %d (%s): %d Threads calls, want %d", i+1, p.failure, got, p.n)
		}
		st, _ := h.state("main")
		if st.Status != refresh.StatusFailing || st.Failures != i+1 || !st.LastAttemptAt.Equal(h.Clock.Now()) || st.LastError == "" {
			t.Errorf("pass %d: state %+v, want failing, failures %d, lastAttemptAt %s", i+1, st, i+1, h.Clock.Now())
		}
		if vs := h.versions("main"); len(vs) != 1 {
			t.Errorf("pass %d: a failure touched the secret: %d versions", i+1, len(vs))
		}
	}

	h.Clock.Advance(time.Hour)
	if r := result(t, h.pass(), "main"); r.Result != refresh.ResultRefreshed || r.Error != "" {
		t.Fatalf("after the failures: %+v, want refreshed", r)
	}
	st, _ := h.state("main")
	if st.Status != refresh.StatusOK || st.Failures != 0 || st.LastError != "" || !st.LastAttemptAt.Equal(h.Clock.Now()) {
		t.Errorf("state after the success: %+v, want ok, failures 0, no error, lastAttemptAt %s", st, h.Clock.Now())
	}
	h.assertNoTokenLeak("main")
}

// TestNeedsReauthIsSticky: Threads is not asked again about a refused token,
// however many passes run, until a person adds a new version.
func TestNeedsReauthIsSticky(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		newAge time.Duration
		want   refresh.Result
		calls  int
	}{
		{"new token not due is rolled forward", time.Hour, refresh.ResultRolledForward, 0},
		{"new token due is refreshed", 72 * time.Hour, refresh.ResultRefreshed, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil)
			dead, _ := h.seed("main", 72*time.Hour)
			h.TH.Revoke(dead)
			if r := result(t, h.pass(), "main"); r.Result != refresh.ResultNeedsReauth || r.Failures != 1 {
				t.Fatalf("first pass: %+v, want needs_reauth, failures 1", r)
			}
			calls := h.TH.TotalCalls()
			for i, advance := range []time.Duration{time.Hour, 25 * time.Hour} {
				h.Clock.Advance(advance)
				r := result(t, h.pass(), "main")
				if r.Result != refresh.ResultNeedsReauth || r.Failures != i+2 || r.Error == "" {
					t.Fatalf("pass %d: %+v, want needs_reauth with failures %d", i+2, r, i+2)
				}
				if st, _ := h.state("main"); !st.LastAttemptAt.Equal(h.Clock.Now()) || st.Status != refresh.StatusNeedsReauth {
					t.Errorf("pass %d: state %+v", i+2, st)
				}
			}
			if h.TH.TotalCalls() != calls {
				t.Fatalf("a needs_reauth token was sent to Threads again (%d calls, had %d)", h.TH.TotalCalls(), calls)
			}

			_, v := h.seed("main", tt.newAge)
			calls = h.refreshCalls()
			r := result(t, h.pass(), "main")
			if r.Result != tt.want || r.Failures != 0 || r.Error != "" {
				t.Fatalf("after a new version: %+v, want %s with failures 0", r, tt.want)
			}
			if got := h.refreshCalls() - calls; got != tt.calls {
				t.Errorf("%d refresh calls after the new version, want %d", got, tt.calls)
			}
			st, _ := h.state("main")
			if st.Status != refresh.StatusOK || st.Version == "" || (tt.want == refresh.ResultRolledForward && st.Version != v.Name) {
				t.Errorf("state %+v, want ok on the new version", st)
			}
			h.assertNoTokenLeak("main")
		})
	}
}
