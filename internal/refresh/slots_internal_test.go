package refresh

import (
	"context"
	"errors"
	"testing"
)

// TestCancelledPassTakesNoSlot: an account whose pass has been cancelled
// asks Meta nothing more, every time, even with every slot free (a select
// between a free slot and the ended context would take the slot half the
// time, and what a cancelled pass does would depend on the coin: the
// simulation replays a seed exactly only if it does not). The inspector's
// token, once read, is used whatever the context, for the same reason.
func TestCancelledPassTakesNoSlot(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e := &Engine{Concurrency: 4}
	w := &work{e: e, ctx: ctx, log: e.logger(), slots: e.newSlots(ctx)}
	for range 200 {
		release, err := w.takeSlot(true)
		if release != nil {
			release()
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("takeSlot in a cancelled pass = %v, want context.Canceled", err)
		}
	}
	in := &inspector{e: e, a: Account{ID: "inspector"}, done: make(chan struct{}), started: true, token: "t", platform: "threads", ok: true}
	close(in.done)
	for range 200 {
		if _, ok := in.tokenFor(ctx, Account{ID: "other"}, "threads"); !ok {
			t.Fatal("tokenFor in a cancelled pass left out the inspector's token, which was already read")
		}
	}
}
