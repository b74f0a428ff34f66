package refresh_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/leases"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
	"github.com/threads-token-refresher/threads-token-refresher/internal/threads"
)

// TestLogLines: one "account processed" line per account per pass, ERROR for
// failed and needs_reauth, INFO otherwise, for every kind of result.
func TestLogLines(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	h.seed("refreshed", 72*time.Hour)
	h.seed("rolled", time.Hour)
	dead, _ := h.seed("dead", 72*time.Hour)
	h.TH.Revoke(dead)
	if _, err := h.Store.CreateSecret(ctx, "empty"); err != nil {
		t.Fatal(err)
	}
	h.AddVersion("broken", 72*time.Hour, []byte(`{"access_token": "THAAsecret`))
	h.seed("busy", 72*time.Hour)
	if _, err := leases.Take(ctx, h.Store, h.account("busy"), "another-pass", h.Clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	passes := []map[string]refresh.Result{
		{"refreshed": "refreshed", "rolled": "rolled_forward", "dead": "needs_reauth", "empty": "failed", "broken": "failed", "busy": "busy"},
		{"refreshed": "fresh", "rolled": "fresh", "dead": "needs_reauth", "empty": "failed", "broken": "failed", "busy": "busy"},
	}
	for i, want := range passes {
		mark := len(h.Logs.String())
		rep := h.pass() // checks the lines against the report
		for id, res := range want {
			if r := result(t, rep, id); r.Result != res {
				t.Errorf("pass %d: %s: %+v, want %s", i+1, id, r, res)
			}
		}
		if n := strings.Count(h.Logs.String()[mark:], `"message":"account processed"`); n != len(want) {
			t.Errorf("pass %d: %d \"account processed\" lines for %d accounts", i+1, n, len(want))
		}
		h.Clock.Advance(time.Minute)
	}
	if !strings.Contains(h.Logs.String(), `"severity":"ERROR"`) || !strings.Contains(h.Logs.String(), `"severity":"INFO"`) {
		t.Error("the log lacks ERROR or INFO lines")
	}
	h.seen["THAAsecret"] = true
	h.assertNoTokenLeak("refreshed", "rolled", "dead", "empty", "broken", "busy")
}

// TestNoTokenInOutput: whatever Threads or the network does, no token reaches
// the log, an AccountReport.Error or a stored lastError.
func TestNoTokenInOutput(t *testing.T) {
	t.Parallel()
	want := map[threadsfake.Failure]refresh.Result{
		threadsfake.Expired: refresh.ResultNeedsReauth, threadsfake.Revoked: refresh.ResultNeedsReauth,
		threadsfake.InvalidToken: refresh.ResultNeedsReauth,
	}
	type tcase struct {
		name    string
		failure threadsfake.Failure // 0: none
		refused bool                // Threads is a closed port
		want    refresh.Result
	}
	tests := []tcase{{name: "success", want: refresh.ResultRefreshed}, {name: "connection refused", refused: true, want: refresh.ResultFailed}}
	for _, f := range threadsfake.Failures() {
		res, ok := want[f]
		if !ok {
			res = refresh.ResultFailed
		}
		tests = append(tests, tcase{name: f.String(), failure: f, want: res})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const timeout = 300 * time.Millisecond
			h := newHarness(t, func(e *refresh.Engine) { e.ThreadsTimeout = timeout })
			base := h.TH.URL()
			if tt.refused {
				base = "http://" + closedAddr(t)
			}
			h.Engine.Platforms[payload.PlatformThreads] = threads.New(base, timeout, nil).Refresher()
			h.seed("main", 72*time.Hour)
			if tt.failure != 0 {
				h.TH.FailNext(threadsfake.PathRefresh, tt.failure, 3)
			}
			r := result(t, h.pass(), "main")
			if r.Result != tt.want {
				t.Errorf("%+v, want %s", r, tt.want)
			}
			if tt.want != refresh.ResultRefreshed && r.Error == "" {
				t.Errorf("%s without an error", r.Result)
			}
			h.assertNoTokenLeak("main")
		})
	}
}

// closedAddr is a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
