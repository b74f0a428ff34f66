package refresh_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// panicky is a refresh.Platform (the engine's own interface) that panics with
// a value holding the token it was given, for the one account whose token
// it is told, and refreshes the others with the real client.
type panicky struct {
	refresh.Platform // its Inspect is the real one
	token            string
}

func (p *panicky) Refresh(ctx context.Context, token string) (graph.Token, error) {
	if token == p.token {
		panic("refreshing " + token + " went wrong")
	}
	return p.Platform.Refresh(ctx, token)
}

// TestWorkerPanicReachesTheCaller: a panic in an account's worker is raised
// again in the goroutine that called Pass, as a *refresh.Panic with the
// worker's stack, after the other accounts were finished and recorded; its
// text holds no token.
func TestWorkerPanicReachesTheCaller(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(e *refresh.Engine) { e.Concurrency = 1 })
	bad, _ := h.seed("bad", 72*time.Hour)
	for _, id := range []string{"good1", "good2"} {
		h.seed(id, 72*time.Hour)
	}
	h.Engine.Platforms[payload.PlatformThreads] = &panicky{Platform: h.Engine.Platforms[payload.PlatformThreads], token: bad}

	var got any
	func() {
		defer func() { got = recover() }()
		_, _ = h.Engine.Pass(context.Background())
	}()
	p, ok := got.(*refresh.Panic)
	if !ok {
		t.Fatalf("Pass raised %T (%v), want a *refresh.Panic", got, got != nil)
	}
	if s, _ := p.Value.(string); !strings.Contains(s, bad) {
		t.Error("Panic.Value is not the worker's own panic value")
	}
	if !strings.Contains(string(p.Stack), "(*panicky).Refresh") {
		t.Errorf("Panic.Stack is not the worker's stack:\n%s", p.Stack)
	}
	if strings.Contains(p.Error(), bad) {
		t.Errorf("Panic.Error() holds the token: %s", p.Error())
	}
	for _, id := range []string{"good1", "good2"} {
		if st, _ := h.state(id); st.Status != refresh.StatusOK || !strings.HasSuffix(st.Version, "/versions/2") {
			t.Errorf("%s: state %+v, want its refresh finished and recorded before the panic was raised", id, st)
		}
	}
	if logs := h.Logs.String(); strings.Contains(logs, "refresh pass done") || strings.Contains(logs, bad) {
		t.Errorf("a pass that panicked logged \"refresh pass done\", or the token:\n%s", logs)
	}
}
