package bench

import (
	"maps"
	"runtime"
	"testing"
	"time"
)

// TestPassCosts runs each benchmark's core once with a few accounts and
// asserts the counts the README's targets promise, and that the counting
// itself sees every call.
func TestPassCosts(t *testing.T) {
	const n = 5
	const latency = 5 * time.Millisecond

	t.Run("idle pass", func(t *testing.T) {
		t.Parallel()
		w := freshWorld(t, newFirestore(t), n)
		c := w.run(w.engine(16))
		checkIdle(t, c, n)
		if got := c.fs.sum(firestoreReads...); got < 1 || got > 2 {
			t.Errorf("Firestore read calls = %d (%v), want 1 or 2", got, c.fs)
		}
		if c.fs.docsRead != n {
			t.Errorf("Firestore documents read = %d, want %d, one per account", c.fs.docsRead, n)
		}
		if got := c.fs.sum(firestoreWrites...); got != 0 || c.fs.docsWritten != 0 {
			t.Errorf("Firestore write calls = %d (%d documents), want 0", got, c.fs.docsWritten)
		}
		if got := c.fs.total(); got != 1 {
			t.Errorf("Firestore calls = %d (%v), want the one batched read", got, c.fs)
		}
		if c.sm.total() != 0 || len(c.smServer) != 0 {
			t.Errorf("Secret Manager calls = %v (server saw %v), want none", c.sm, c.smServer)
		}
		if c.threads != 0 {
			t.Errorf("Threads calls = %d, want 0", c.threads)
		}
	})

	// due asserts a due pass's counts; pruned is the versions each refresh
	// destroys, meta the calls to Meta for each account: the refresh and
	// the inspection of the new token, and on a first run the inspection
	// of the adopted one.
	due := func(t *testing.T, w *world, concurrency, pruned, meta int) passCost {
		t.Helper()
		c := w.run(w.engine(concurrency))
		checkDue(t, c, n)
		if c.threads != meta*n {
			t.Errorf("Threads calls = %d, want %d, %d per account", c.threads, meta*n, meta)
		}
		if got := c.sm.calls["AddSecretVersion"]; got != n {
			t.Errorf("AddSecretVersion calls = %d, want %d, one per account", got, n)
		}
		if got := c.sm.calls["DestroySecretVersion"]; got != pruned*n {
			t.Errorf("DestroySecretVersion calls = %d, want %d", got, pruned*n)
		}
		// Firestore: the batched read, then one conditional write for
		// each lease and one for each commit; no transaction, no other
		// read.
		if got := c.fs.calls["BatchGetDocuments"]; got != 1 {
			t.Errorf("Firestore batched reads = %d, want 1 (%v)", got, c.fs)
		}
		if got := c.fs.calls["Commit"]; got != 2*n {
			t.Errorf("Firestore Commit calls = %d, want %d, two per account (%v)", got, 2*n, c.fs)
		}
		if got := c.fs.total(); got != 2*n+1 {
			t.Errorf("Firestore calls = %d (%v), want %d: 2 per account and the batched read", got, c.fs, 2*n+1)
		}
		// No Google call while an account holds a Threads slot; the watch
		// saw a slot for every Threads call, so it is not blind.
		if c.slots.taken != c.threads {
			t.Errorf("the slot watch saw %d slots taken for %d Threads calls", c.slots.taken, c.threads)
		}
		if got := c.slots.calls(); got != 0 {
			t.Errorf("%d Google calls made while their account held a Threads slot (%v), want 0", got, c.slots.inside)
		}
		for m := range c.slots.unnamed {
			if m != "BatchGetDocuments" {
				t.Errorf("the slot watch could not tell the account of %s calls", m)
			}
		}
		// The interceptors see what the server saw: the counts are real.
		if !maps.Equal(c.sm.calls, c.smServer) {
			t.Errorf("client interceptors counted %v, the Secret Manager server %v", c.sm, c.smServer)
		}
		if got := c.fs.sum(firestoreReads...); got < 1 {
			t.Errorf("the Firestore interceptors saw no read: %v", c.fs)
		}
		return c
	}
	t.Run("due pass", func(t *testing.T) {
		t.Parallel()
		due(t, dueWorld(t, newFirestore(t), n, latency), 3, 1, 2)
	})
	t.Run("first run", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, newFirestore(t), n, latency)
		w.seed(dueAge, 1)
		due(t, w, 3, 0, 3)
	})
	t.Run("serial pass", func(t *testing.T) {
		t.Parallel()
		c := due(t, dueWorld(t, newFirestore(t), n, latency), 1, 1, 2)
		if floor := floorOf(n, 1, latency); c.wall < floor {
			t.Errorf("a serial pass took %v, less than the floor %v: latency is not applied", c.wall, floor)
		}
	})
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		w := dueWorld(t, newFirestore(t), n, latency)
		runtime.GC()
		mem := watchMemory(time.Millisecond)
		due(t, w, 3, 1, 2)
		heap, rss := mem.Stop()
		if heap == 0 {
			t.Error("peak heap not measured")
		}
		if runtime.GOOS == "linux" && rss < heap {
			t.Errorf("peak RSS %d is below peak heap %d: RSS not measured", rss, heap)
		}
	})
	t.Run("child pass", func(t *testing.T) {
		t.Parallel()
		w := dueWorld(t, newFirestore(t), n, latency)
		c := w.runChild(3)
		checkDue(t, passCost{report: c.report}, n)
		if c.threads != 2*n || c.smServer["AddSecretVersion"] != n {
			t.Errorf("Threads calls = %d, AddSecretVersion = %d; want %d (a refresh and an inspection each) and %d", c.threads, c.smServer["AddSecretVersion"], 2*n, n)
		}
		if runtime.GOOS == "linux" && c.maxRSS == 0 {
			t.Error("the child's peak RSS was not measured")
		}
		if c.heapGoal == 0 {
			t.Error("the child's heap was not measured")
		}
	})
	t.Run("child idle pass", func(t *testing.T) {
		t.Parallel()
		w := freshWorld(t, newFirestore(t), n)
		c := w.runChild(3)
		checkIdle(t, passCost{report: c.report}, n)
		if c.threads != 0 {
			t.Errorf("Threads calls = %d, want 0", c.threads)
		}
		for m, calls := range c.smServer {
			if calls != 0 {
				t.Errorf("%s calls = %d, want 0", m, calls)
			}
		}
		if c.cpu <= 0 {
			t.Error("the child's CPU time was not measured")
		}
	})
	t.Run("start-up", func(t *testing.T) {
		t.Parallel()
		w := freshWorld(t, newFirestore(t), 1)
		if took := startUp(t, w.googleEnv(8)); took <= 0 {
			t.Errorf("start-up took %v", took)
		}
		if took := startUp(t, localEnv(t.TempDir())); took <= 0 {
			t.Errorf("local start-up took %v", took)
		}
	})
}

// TestRPCLatency: BENCH_RPC_LATENCY delays every call of both Google
// clients.
func TestRPCLatency(t *testing.T) {
	const delay = 30 * time.Millisecond
	t.Setenv("BENCH_RPC_LATENCY", delay.String())
	w := dueWorld(t, newFirestore(t), 2, time.Millisecond)
	c := w.run(w.engine(2))
	checkDue(t, c, 2)
	for _, counts := range []rpcCounts{c.fs, c.sm} {
		for m := range counts.calls {
			if got := counts.mean(m); got < delay {
				t.Errorf("%s took %v on average, less than the %v added", m, got, delay)
			}
		}
	}
	if c.fs.total() == 0 || c.sm.total() == 0 {
		t.Fatalf("no calls counted: %v, %v", c.fs, c.sm)
	}
}
