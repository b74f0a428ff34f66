package bench

import (
	"math"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/secretstore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/service"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/fakeclock"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/smfake"
)

// A herd is many accounts that need Secret Manager in one pass: all due at
// once (onboarded together, or after an outage), or all added at once and
// adopted by the next pass. Here the Secret Manager server enforces
// Google's per-minute quotas (600 reads, 600 writes, 90,000 accesses) and
// the engine paces its calls under the function's default budgets (500,
// 500, 80,000), as deployed. Targets (README, "Performance and cost"): no
// account fails, the server refuses nothing, and the pass takes at most
// 1.10 x its floor: the larger of the Threads floor (ceil(N/C) rounds of
// the calls to Meta each account makes, at the Threads latency) and the
// quota floor, the time the budgets allow the pass's Secret Manager calls:
// for each quota, (calls - 1) x window / budget, the first call going at
// once and each next one window / budget later (secretstore.Budgets). Then
// a week of hourly passes on a fake clock: the most accounts due in one
// pass, at most 1.2 x N/24 + 1, as the spread promises.

// quotaWindow is BENCH_QUOTA_WINDOW: the quotas' interval, in the server
// and in the budgets alike. A minute is Google's; a shorter one compresses
// time for a quicker run (6s: ten times), keeping the rules: the budgets
// and quotas per interval, the intervals' edges, the pacing's spacing. Only
// the Threads latency is not compressed, so a compressed run weighs the
// Threads floor more.
func quotaWindow(tb testing.TB) time.Duration {
	tb.Helper()
	d := envDuration(tb, "BENCH_QUOTA_WINDOW", time.Minute)
	if d <= 0 {
		tb.Fatalf("BENCH_QUOTA_WINDOW is %v; want a positive duration", d)
	}
	return d
}

// budgetsFor are the function's default budgets over window.
func budgetsFor(window time.Duration) secretstore.Budgets {
	b := secretstore.DefaultBudgets
	b.Window = window
	return b
}

// pacedEngine is the engine the function builds: w.engine with its Secret
// Manager calls paced under b, and StoreWork as the service sets it.
func (w *world) pacedEngine(concurrency int, b secretstore.Budgets) *refresh.Engine {
	e := w.engine(concurrency)
	e.Secrets = secretstore.NewFromClient(w.smClient(secretstore.Pacing(b)))
	e.StoreWork = service.StoreWork(b)
	return e
}

// herdCost is what one herd pass did, with its floors.
type herdCost struct {
	passCost
	refused      int // quota refusals the server sent during the pass
	peaks        map[smfake.Category]int
	calls        map[smfake.Category]int // Secret Manager calls by quota
	quotaFloor   time.Duration
	threadsFloor time.Duration
}

func (h herdCost) floor() time.Duration { return max(h.quotaFloor, h.threadsFloor) }

// runHerd runs one pass of e with the server's quotas on, from a fresh
// count (the setup stood for earlier days), and turns them off again.
// tenants, if any, run just before the pass: another application of the
// project spending its quota.
func (w *world) runHerd(e *refresh.Engine, b secretstore.Budgets, latency time.Duration, tenants ...func()) herdCost {
	w.tb.Helper()
	before := w.sm.QuotaRefusals()
	w.sm.ResetQuotaUsage()
	w.sm.SetQuotasEnforced(true)
	for _, spend := range tenants {
		spend()
	}
	c := herdCost{passCost: w.run(e)}
	w.sm.SetQuotasEnforced(false)
	after := w.sm.QuotaRefusals()
	for _, cat := range smfake.Categories {
		c.refused += after[cat] - before[cat]
	}
	c.peaks = w.sm.QuotaPeaks()
	c.calls = map[smfake.Category]int{}
	for m, n := range c.smServer {
		cat, _ := smfake.CategoryOf(m)
		c.calls[cat] += n
	}
	for cat, n := range c.calls {
		budget := map[smfake.Category]int{smfake.Read: b.Reads, smfake.Write: b.Writes, smfake.Access: b.Accesses}[cat]
		if n > 1 {
			c.quotaFloor = max(c.quotaFloor, time.Duration(n-1)*b.Window/time.Duration(budget))
		}
	}
	if n := len(w.accounts); n > 0 {
		perAccount := time.Duration(math.Ceil(float64(c.threads) / float64(n)))
		c.threadsFloor = perAccount * time.Duration(math.Ceil(float64(n)/float64(e.Concurrency))) * latency
	}
	return c
}

// checkHerd fails unless every account ended as want, none failed, and
// the server refused nothing.
func checkHerd(tb testing.TB, c herdCost, want refresh.Result) {
	tb.Helper()
	if got := count(c.report, want); got != len(c.report.Accounts) || c.report.Failed != 0 {
		tb.Fatalf("herd pass: %d of %d accounts %s: %s", got, len(c.report.Accounts), want, summary(c.report))
	}
	if c.refused != 0 {
		tb.Fatalf("herd pass: the server refused %d requests for its quotas (peaks %v); the pacing should have kept under them", c.refused, c.peaks)
	}
}

// spreadAfter runs hourly passes for days on a fake clock that starts at
// the first hour after now, the engine unpaced and the quotas off (what
// is measured is which accounts each pass finds due, not how fast it
// refreshes them), and returns the most accounts a pass found due.
func (w *world) spreadAfter(concurrency, days int) int {
	w.tb.Helper()
	clk := fakeclock.New(time.Now().Truncate(time.Hour).Add(time.Hour))
	w.th.SetNow(clk.Now())
	clk.OnSet = w.th.SetNow
	w.sm.SetNow(clk.Now)
	defer w.sm.SetNow(time.Now)
	e := w.engine(concurrency)
	e.Now = clk.Now
	most := 0
	for hour := range days * 24 {
		if hour > 0 {
			clk.Advance(time.Hour)
		}
		c := w.run(e)
		due := len(c.report.Accounts) - count(c.report, refresh.ResultFresh)
		if c.report.Failed != 0 || count(c.report, refresh.ResultRefreshed) != due {
			w.tb.Fatalf("hour %d after the herd: %s", hour, summary(c.report))
		}
		most = max(most, due)
	}
	return most
}

// spreadTarget is the most accounts the spread lets one pass find due:
// 1.2 x N/24 + 1.
func spreadTarget(n int) int { return int(math.Floor(1.2*float64(n)/24)) + 1 }

// herds are the two herds measured: all due at once, all adopted at once.
var herds = []struct {
	name string
	want refresh.Result
	make func(tb testing.TB, fs *firestoreDB, n int, latency time.Duration, smOpts ...smfake.Option) *world
}{
	{"due", refresh.ResultRefreshed, dueWorld},
	// Tokens added an hour ago by hand (or by `refresher add`), none
	// known to the state: each is listed, read and inspected, and adopted.
	{"adopted", refresh.ResultRolledForward, func(tb testing.TB, fs *firestoreDB, n int, latency time.Duration, smOpts ...smfake.Option) *world {
		w := newWorld(tb, fs, n, latency, smOpts...)
		w.seed(time.Hour, 1)
		return w
	}},
}

// BenchmarkHerdPass is a herd pass under Google's quotas, paced, and the
// week after it. BENCH_QUOTA_WINDOW compresses the quotas' minute;
// BENCH_SPREAD_DAYS (default 7, 0 to skip) sets the days of hourly passes
// simulated after each herd.
func BenchmarkHerdPass(b *testing.B) {
	s := benchSizes(b)
	window := quotaWindow(b)
	budgets := budgetsFor(window)
	days := envInt0(b, "BENCH_SPREAD_DAYS", 7)
	for _, herd := range herds {
		b.Run(herd.name, func(b *testing.B) {
			fs := newFirestore(b)
			var wall, floor, quotaFloor, threadsFloor time.Duration
			var heap, rss uint64
			passes, most := 0, 0
			var calls map[smfake.Category]int
			for b.Loop() {
				b.StopTimer()
				w := herd.make(b, fs, s.accounts, s.latency, smfake.WithQuotaWindow(window))
				e := w.pacedEngine(s.concurrency, budgets)
				runtime.GC()
				mem := watchMemory(2 * time.Millisecond)
				b.StartTimer()
				c := w.runHerd(e, budgets, s.latency)
				b.StopTimer()
				h, r := mem.Stop()
				heap, rss = max(heap, h), max(rss, r)
				checkHerd(b, c, herd.want)
				passes++
				wall += c.wall
				floor += c.floor()
				quotaFloor, threadsFloor, calls = c.quotaFloor, c.threadsFloor, c.calls
				if days > 0 {
					most = max(most, w.spreadAfter(s.concurrency, days))
				}
				w.close()
				b.StartTimer()
			}
			n := float64(passes)
			b.ReportMetric(float64(s.accounts), "accounts")
			b.ReportMetric(float64(s.concurrency), "concurrency")
			b.ReportMetric(msOf(s.rpcLatency), "rpc-latency-ms")
			b.ReportMetric(window.Seconds(), "quota-window-s")
			b.ReportMetric(wall.Seconds()/n, "s/pass")
			b.ReportMetric(quotaFloor.Seconds(), "quota-floor-s")
			b.ReportMetric(threadsFloor.Seconds(), "threads-floor-s")
			b.ReportMetric(wall.Seconds()/floor.Seconds(), "x-quota-floor")
			b.ReportMetric(0, "quota-refusals") // checkHerd stops at the first
			for _, cat := range smfake.Categories {
				b.ReportMetric(float64(calls[cat])/float64(s.accounts), "sm-"+string(cat)+"s/account")
			}
			b.ReportMetric(float64(heap)/mib, "peak-heap-MiB")
			b.ReportMetric(float64(rss)/mib, "peak-rss-MiB")
			if days > 0 {
				b.ReportMetric(float64(most), "max-due-per-pass")
				b.ReportMetric(float64(spreadTarget(s.accounts)), "max-due-target")
			}
		})
	}
}

// envInt0 is envInt that also takes 0.
func envInt0(tb testing.TB, name string, def int) int {
	tb.Helper()
	if v, ok := os.LookupEnv(name); ok && strings.TrimSpace(v) == "0" {
		return 0
	}
	return envInt(tb, name, def)
}

// TestHerdUnderTheQuotas runs each herd benchmark's core once with a few
// accounts, time compressed (the quotas' minute is 500 ms here) and the
// quotas small enough that the pacing binds (6 requests a window, budgets
// of 5), and checks what the benchmark reports: no account failed, the
// server refused nothing and counted no window over the budget and one,
// the pass took at least its quota floor (so the pacing was there), and
// the two days after the herd found at most 1.2 x N/24 + 1 accounts due in
// a pass. Then a pass that meets another application's use of the read
// quota waits it out: refused calls, no failed account.
func TestHerdUnderTheQuotas(t *testing.T) {
	const n = 5
	const latency = 5 * time.Millisecond
	const window = 500 * time.Millisecond
	budgets := secretstore.Budgets{Reads: 5, Writes: 5, Accesses: 5, Window: window}
	quotas := []smfake.Option{smfake.WithQuotaWindow(window),
		smfake.WithQuota(smfake.Read, 6), smfake.WithQuota(smfake.Write, 6), smfake.WithQuota(smfake.Access, 6)}
	for _, herd := range herds {
		t.Run(herd.name, func(t *testing.T) {
			t.Parallel()
			w := herd.make(t, newFirestore(t), n, latency, quotas...)
			c := w.runHerd(w.pacedEngine(3, budgets), budgets, latency)
			checkHerd(t, c, herd.want)
			if c.quotaFloor <= c.threadsFloor {
				t.Fatalf("quota floor %v, Threads floor %v: the quotas do not bind, so this proves nothing of the pacing", c.quotaFloor, c.threadsFloor)
			}
			if c.wall < c.quotaFloor {
				t.Errorf("the pass took %v, less than the %v its budgets allow: the calls were not paced", c.wall, c.quotaFloor)
			}
			for cat, peak := range c.peaks {
				if peak > 6 {
					t.Errorf("%d %s requests in one window, more than the budget (5) and one", peak, cat)
				}
			}
			if most := w.spreadAfter(3, 2); most > spreadTarget(n) {
				t.Errorf("a pass of the two days after the herd found %d accounts due, more than %d", most, spreadTarget(n))
			}
		})
	}
	t.Run("another tenant", func(t *testing.T) {
		t.Parallel()
		// A window long enough that the lists come within the one the
		// other application spent.
		const window = 2 * time.Second
		fs := newFirestore(t)
		w := dueWorld(t, fs, n, latency, smfake.WithQuotaWindow(window))
		b := budgetsFor(window)
		c := w.runHerd(w.pacedEngine(3, b), b, latency, func() {
			w.sm.SpendQuota("projects/"+fs.project, smfake.Read, smfake.GoogleQuota(smfake.Read))
		})
		if got := count(c.report, refresh.ResultRefreshed); got != n || c.report.Failed != 0 {
			t.Fatalf("%d of %d refreshed: %s; want every account, the refusals waited out", got, n, summary(c.report))
		}
		if c.refused == 0 {
			t.Error("the server refused nothing: the other application's use of the quota was not met")
		}
	})
}
