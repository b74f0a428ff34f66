package bench

import (
	"context"
	"log/slog"
	"path"
	"sync"
	"time"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// The engine's DEBUG lines that bracket each Threads slot it holds; the
// engine logs them with the account's ID.
const (
	slotTaken     = "threads slot taken"
	slotGivenBack = "threads slot given back"
)

// slotWatch counts the Google calls made for an account while it holds a
// Threads slot, which should be none: a slot is for one Threads call. It
// follows the slots through the engine's log (it is the engine's
// slog.Handler) and the calls through the clients' interceptors, which name
// the account from the request. An account's slot lines and its calls come
// from one goroutine at a time, so their order here is their real order.
type slotWatch struct {
	mu     sync.Mutex
	held   map[string]bool
	taken  int            // slots taken
	inside map[string]int // calls made inside a slot, by method
	// unnamed counts the calls whose account the watch could not tell,
	// by method: only the batched read should be among them.
	unnamed map[string]int
}

func newSlotWatch() *slotWatch {
	return &slotWatch{held: map[string]bool{}, inside: map[string]int{}, unnamed: map[string]int{}}
}

// slotCounts is what a watch saw between two takes.
type slotCounts struct {
	taken   int
	inside  map[string]int
	unnamed map[string]int
}

func (c slotCounts) calls() int {
	n := 0
	for _, v := range c.inside {
		n += v
	}
	return n
}

// take returns the counts so far and starts counting afresh.
func (w *slotWatch) take() slotCounts {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := slotCounts{taken: w.taken, inside: w.inside, unnamed: w.unnamed}
	w.taken, w.inside, w.unnamed = 0, map[string]int{}, map[string]int{}
	return c
}

// call records a Google call of method with request req.
func (w *slotWatch) call(method string, req any) {
	account := accountOf(req)
	w.mu.Lock()
	defer w.mu.Unlock()
	if account == "" {
		w.unnamed[path.Base(method)]++
		return
	}
	if w.held[account] {
		w.inside[path.Base(method)]++
	}
}

// accountOf names the account a request is for: the document of a Firestore
// write (documents are named by account ID), the secret of a Secret Manager
// call. The batched read is for every account and names none.
func accountOf(req any) string {
	switch r := req.(type) {
	case *firestorepb.CommitRequest:
		for _, wr := range r.GetWrites() {
			name := wr.GetUpdate().GetName()
			if name == "" {
				name = wr.GetDelete()
			}
			if name != "" {
				return path.Base(name)
			}
		}
		return ""
	case interface{ GetParent() string }:
		id, _ := refresh.SecretID(r.GetParent())
		return id
	case interface{ GetName() string }:
		id, _ := refresh.SecretID(r.GetName())
		return id
	}
	return ""
}

// interceptors record every call the client makes, before it is sent.
func (w *slotWatch) interceptors() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			w.call(method, req)
			return invoker(ctx, method, req, reply, cc, opts...)
		}),
	}
}

// The slog.Handler side: only the slot lines matter, and only their
// account.

func (w *slotWatch) handler() slog.Handler { return slotHandler{w: w} }

type slotHandler struct {
	w       *slotWatch
	account string
}

func (h slotHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h slotHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	for _, a := range attrs {
		if a.Key == "account" {
			h.account = a.Value.String()
		}
	}
	return h
}

func (h slotHandler) WithGroup(string) slog.Handler { return h }

func (h slotHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message != slotTaken && r.Message != slotGivenBack {
		return nil
	}
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	if r.Message == slotTaken {
		h.w.taken++
	}
	h.w.held[h.account] = r.Message == slotTaken
	return nil
}

// rpcDelay adds a fixed delay before every call a client makes, as the
// round trip to a service farther away would (BENCH_RPC_LATENCY). A
// stream waits once, before it opens.
func rpcDelay(d time.Duration) []grpc.DialOption {
	if d <= 0 {
		return nil
	}
	wait := func(ctx context.Context) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			if err := wait(ctx); err != nil {
				return err
			}
			return invoker(ctx, method, req, reply, cc, opts...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			if err := wait(ctx); err != nil {
				return nil, err
			}
			return streamer(ctx, desc, cc, method, opts...)
		}),
	}
}
