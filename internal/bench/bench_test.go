package bench

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// Targets (README, "Performance and cost"): an idle pass over 1,000 or
// 10,000 fresh accounts makes 1 Firestore read call and nothing else; a
// due pass of 1,000 accounts at Concurrency 16 with 100 ms Threads answers
// takes at most 1.10 x ceil(N/C) x latency with Google calls as fast as the
// emulator answers them, and 1.15 x with 10 ms added to each
// (BENCH_RPC_LATENCY), with 1 Threads call, 1 AddSecretVersion and 2
// Firestore calls per account besides the batched read, and no Google call
// while a Threads slot is held; `refresher serve` answers its first request
// within 100 ms; a due pass fits in 100 MiB. The benchmarks report the
// figures; TestPassCosts asserts the counts.

// BenchmarkIdlePass is an hourly pass in which every account is fresh.
func BenchmarkIdlePass(b *testing.B) {
	s := benchSizes(b)
	fs := newFirestore(b)
	w := freshWorld(b, fs, s.accounts)
	e := w.engine(s.concurrency)
	var t totals
	for b.Loop() {
		c := w.run(e)
		checkIdle(b, c, s.accounts)
		t.add(c)
	}
	b.ReportMetric(float64(s.accounts), "accounts")
	b.ReportMetric(msOf(s.rpcLatency), "rpc-latency-ms")
	t.reportPerPass(b)
}

// BenchmarkDuePass is a pass in which every account is due, as on the first
// day or when accounts onboarded together come due together. Each
// iteration gets freshly due accounts; only the pass is timed. It also
// reports this process's peak heap and RSS during the pass, fakes
// included (BenchmarkDuePassProcess measures the function alone).
func BenchmarkDuePass(b *testing.B) {
	s := benchSizes(b)
	fs := newFirestore(b)
	var t totals
	var heap, rss uint64
	for b.Loop() {
		b.StopTimer()
		w := dueWorld(b, fs, s.accounts, s.latency)
		e := w.engine(s.concurrency)
		runtime.GC()
		mem := watchMemory(2 * time.Millisecond)
		b.StartTimer()
		c := w.run(e)
		b.StopTimer()
		h, r := mem.Stop()
		heap, rss = max(heap, h), max(rss, r)
		w.close()
		checkDue(b, c, s.accounts)
		t.add(c)
		b.StartTimer()
	}
	floor := floorOf(s.accounts, s.concurrency, s.latency)
	b.ReportMetric(float64(s.accounts), "accounts")
	b.ReportMetric(float64(s.concurrency), "concurrency")
	b.ReportMetric(msOf(s.rpcLatency), "rpc-latency-ms")
	b.ReportMetric(floor.Seconds(), "floor-s")
	if floor > 0 {
		b.ReportMetric(t.wall.Seconds()/float64(t.passes)/floor.Seconds(), "x-floor")
	}
	t.reportPerPass(b)
	t.reportPerAccount(b)
	b.ReportMetric(float64(heap)/mib, "peak-heap-MiB")
	b.ReportMetric(float64(rss)/mib, "peak-rss-MiB")
}

// BenchmarkDuePassSpeedup runs the same due pass at BENCH_CONCURRENCY and
// at Concurrency 1, on BENCH_SERIAL_ACCOUNTS accounts each, and reports the
// speed-up as a ratio from one run. At the defaults the serial pass alone
// lasts about 100 s.
func BenchmarkDuePassSpeedup(b *testing.B) {
	s := benchSizes(b)
	n := s.serialAccounts
	fs := newFirestore(b)
	var parallel, serial time.Duration
	passes := 0
	for b.Loop() {
		for _, conc := range []int{s.concurrency, 1} {
			b.StopTimer()
			w := dueWorld(b, fs, n, s.latency)
			e := w.engine(conc)
			b.StartTimer()
			c := w.run(e)
			b.StopTimer()
			w.close()
			checkDue(b, c, n)
			if conc == 1 {
				serial += c.wall
			} else {
				parallel += c.wall
			}
			b.StartTimer()
		}
		passes++
	}
	p := parallel.Seconds() / float64(passes)
	q := serial.Seconds() / float64(passes)
	b.ReportMetric(float64(n), "accounts")
	b.ReportMetric(msOf(s.rpcLatency), "rpc-latency-ms")
	b.ReportMetric(p, "s/pass-parallel")
	b.ReportMetric(q, "s/pass-serial")
	b.ReportMetric(q/p, "speedup")
	ideal := floorOf(n, 1, s.latency).Seconds() / floorOf(n, s.concurrency, s.latency).Seconds()
	b.ReportMetric(ideal, "speedup-ideal")
}

// BenchmarkStartup is `refresher serve` from process start to its first
// answered GET: the function's cold start, client construction and one
// state read included (no credentials are fetched: the stores are
// emulators).
func BenchmarkStartup(b *testing.B) {
	s := benchSizes(b)
	refresherBinary(b) // built once, before anything is timed
	google := func(n int) func(*testing.B) {
		return func(b *testing.B) {
			w := freshWorld(b, newFirestore(b), n)
			env := w.googleEnv(s.concurrency)
			measureStartups(b, func() time.Duration { return startUp(b, env) })
		}
	}
	b.Run("google-accounts=1", google(1))
	if s.accounts > 1 {
		b.Run(fmt.Sprintf("google-accounts=%d", s.accounts), google(s.accounts))
	}
	b.Run("local", func(b *testing.B) {
		env := localEnv(b.TempDir())
		measureStartups(b, func() time.Duration { return startUp(b, env) })
	})
}

func measureStartups(b *testing.B, start func() time.Duration) {
	var took []time.Duration
	for b.Loop() {
		took = append(took, start())
	}
	slices.Sort(took)
	b.ReportMetric(float64(median(took))/float64(time.Millisecond), "ms-median")
	b.ReportMetric(float64(took[len(took)-1])/float64(time.Millisecond), "ms-max")
	b.ReportMetric(float64(len(took)), "starts")
}

// BenchmarkDuePassProcess runs the due pass with `refresher run` in a
// process of its own: the function's own peak RSS and heap, which set its
// memory in Terraform, and its CPU time, without the fakes this process
// serves. Wall time includes the process's start.
func BenchmarkDuePassProcess(b *testing.B) {
	s := benchSizes(b)
	refresherBinary(b)
	fs := newFirestore(b)
	var t childTotals
	for b.Loop() {
		b.StopTimer()
		w := dueWorld(b, fs, s.accounts, s.latency)
		b.StartTimer()
		c := w.runChild(s.concurrency)
		b.StopTimer()
		w.close()
		if n := count(c.report, refresh.ResultRefreshed); n != s.accounts {
			b.Fatalf("%d of %d accounts refreshed: %s", n, s.accounts, summary(c.report))
		}
		t.add(c)
		b.StartTimer()
	}
	b.ReportMetric(float64(s.accounts), "accounts")
	t.report(b, s.accounts)
}

// BenchmarkIdlePassProcess is the hourly idle pass as `refresher run`: what
// the function spends, in time, CPU and memory, on a pass that finds
// nothing due, its process start included.
func BenchmarkIdlePassProcess(b *testing.B) {
	s := benchSizes(b)
	refresherBinary(b)
	w := freshWorld(b, newFirestore(b), s.accounts)
	var t childTotals
	for b.Loop() {
		c := w.runChild(s.concurrency)
		if n := count(c.report, refresh.ResultFresh); n != s.accounts {
			b.Fatalf("%d of %d accounts fresh: %s", n, s.accounts, summary(c.report))
		}
		t.add(c)
	}
	b.ReportMetric(float64(s.accounts), "accounts")
	t.report(b, s.accounts)
}

// childTotals adds up several `refresher run` passes.
type childTotals struct {
	passes, threads, adds int
	wall, cpu             time.Duration
	rss, heap, goal       uint64
}

func (t *childTotals) add(c childPass) {
	t.passes++
	t.wall += c.wall
	t.cpu += c.cpu
	t.rss, t.heap, t.goal = max(t.rss, c.maxRSS), max(t.heap, c.heapPeak), max(t.goal, c.heapGoal)
	t.threads += c.threads
	t.adds += c.smServer["AddSecretVersion"]
}

func (t *childTotals) report(b *testing.B, accounts int) {
	passes := float64(t.passes)
	b.ReportMetric(t.wall.Seconds()/passes, "s/pass")
	b.ReportMetric(t.cpu.Seconds()/passes, "cpu-s/pass")
	b.ReportMetric(float64(t.rss)/mib, "peak-rss-MiB")
	b.ReportMetric(float64(t.heap)/mib, "peak-heap-MiB")
	b.ReportMetric(float64(t.goal)/mib, "heap-goal-MiB")
	b.ReportMetric(float64(t.threads)/(passes*float64(accounts)), "threads-calls/account")
	b.ReportMetric(float64(t.adds)/(passes*float64(accounts)), "AddSecretVersion/account")
}

// floorOf is the shortest a due pass can take: ceil(N/C) rounds of two
// Threads answers each, the refresh and the inspection of the new token.
func floorOf(n, c int, latency time.Duration) time.Duration {
	return 2 * time.Duration(math.Ceil(float64(n)/float64(c))) * latency
}

func median(sorted []time.Duration) time.Duration {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// msOf is d in milliseconds.
func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// totals adds up the costs of several passes.
type totals struct {
	passes   int
	accounts int
	wall     time.Duration
	fs       rpcCounts
	sm       rpcCounts
	threads  int
	slots    int // Threads slots taken
	inSlot   int // Google calls made while their account held a slot
}

func (t *totals) add(c passCost) {
	if t.fs.calls == nil {
		t.fs.calls, t.sm.calls = map[string]int{}, map[string]int{}
		t.fs.busy, t.sm.busy = map[string]time.Duration{}, map[string]time.Duration{}
	}
	t.passes++
	t.accounts += len(c.report.Accounts)
	t.wall += c.wall
	for m, n := range c.fs.calls {
		t.fs.calls[m] += n
	}
	for m, n := range c.sm.calls {
		t.sm.calls[m] += n
	}
	for m, d := range c.fs.busy {
		t.fs.busy[m] += d
	}
	for m, d := range c.sm.busy {
		t.sm.busy[m] += d
	}
	t.fs.docsRead += c.fs.docsRead
	t.fs.docsWritten += c.fs.docsWritten
	t.threads += c.threads
	t.slots += c.slots.taken
	t.inSlot += c.slots.calls()
}

func (t *totals) reportPerPass(b *testing.B) {
	per := func(n int) float64 { return float64(n) / float64(t.passes) }
	b.ReportMetric(t.wall.Seconds()/float64(t.passes), "s/pass")
	b.ReportMetric(per(t.fs.sum(firestoreReads...)), "firestore-reads/pass")
	b.ReportMetric(per(t.fs.docsRead), "firestore-docs-read/pass")
	b.ReportMetric(per(t.fs.sum(firestoreWrites...)), "firestore-writes/pass")
	b.ReportMetric(per(t.fs.docsWritten), "firestore-docs-written/pass")
	b.ReportMetric(per(t.fs.calls["BeginTransaction"]), "firestore-tx/pass")
	b.ReportMetric(per(t.fs.total()), "firestore-calls/pass")
	b.ReportMetric(per(t.sm.total()), "sm-calls/pass")
	b.ReportMetric(per(t.threads), "threads-calls/pass")
	b.ReportMetric(per(t.inSlot), "google-calls-in-slot/pass")
}

func (t *totals) reportPerAccount(b *testing.B) {
	per := func(n int) float64 { return float64(n) / float64(t.accounts) }
	b.ReportMetric(per(t.threads), "threads-calls/account")
	b.ReportMetric(per(t.sm.calls["AddSecretVersion"]), "AddSecretVersion/account")
	b.ReportMetric(per(t.sm.calls["ListSecretVersions"]), "ListSecretVersions/account")
	b.ReportMetric(per(t.sm.calls["AccessSecretVersion"]), "AccessSecretVersion/account")
	b.ReportMetric(per(t.sm.calls["DestroySecretVersion"]), "DestroySecretVersion/account")
	b.ReportMetric(per(t.fs.calls["BeginTransaction"]), "firestore-tx/account")
	// Every Firestore call, the batched read's share included.
	b.ReportMetric(per(t.fs.total()), "firestore-calls/account")
	b.ReportMetric(per(t.fs.docsRead), "firestore-docs-read/account")
	b.ReportMetric(per(t.fs.docsWritten), "firestore-docs-written/account")
	b.ReportMetric(per(t.inSlot), "google-calls-in-slot/account")
	b.ReportMetric(per(t.slots), "threads-slots/account")
	// Where an account's time goes besides Threads: the mean time of each
	// call, and the store time one account spends in all.
	ms := msOf
	for _, m := range []string{"BatchGetDocuments", "Commit"} {
		b.ReportMetric(ms(t.fs.mean(m)), "ms/"+m)
	}
	for _, m := range []string{"ListSecretVersions", "AccessSecretVersion", "AddSecretVersion"} {
		b.ReportMetric(ms(t.sm.mean(m)), "ms/"+m)
	}
	var store time.Duration
	for _, d := range t.fs.busy {
		store += d
	}
	for _, d := range t.sm.busy {
		store += d
	}
	b.ReportMetric(ms(store)/float64(t.accounts), "ms-in-stores/account")
}

// checkIdle fails unless every account was left alone as fresh.
func checkIdle(tb testing.TB, c passCost, n int) {
	tb.Helper()
	if got := count(c.report, refresh.ResultFresh); got != n {
		tb.Fatalf("idle pass: %d of %d accounts fresh: %s", got, n, summary(c.report))
	}
}

// checkDue fails unless every account was refreshed.
func checkDue(tb testing.TB, c passCost, n int) {
	tb.Helper()
	if got := count(c.report, refresh.ResultRefreshed); got != n {
		tb.Fatalf("due pass: %d of %d accounts refreshed: %s", got, n, summary(c.report))
	}
}
