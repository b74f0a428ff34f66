package sim

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/firestoreemu"
)

func TestMain(m *testing.M) { os.Exit(firestoreemu.Main(m)) }

// TestEmbeddedStore runs the simulation on the embedded store: by default
// three seeds of a year each.
func TestEmbeddedStore(t *testing.T) {
	simulate(t, embeddedStore, 3, 365, defaultRates())
}

// TestGoogleAdapters runs it on Secret Manager (the real client against
// smfake) and Firestore (the real client against the emulator): by default
// one seed of 30 days, since every call crosses a socket.
func TestGoogleAdapters(t *testing.T) {
	simulate(t, googleStores, 1, 30, denseRates())
}

func simulate(t *testing.T, open backendFactory, seeds, defDays int, r rates) {
	days := daysFromEnv(t, defDays)
	for _, seed := range seedsFromEnv(t, seeds) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			clk := &clock{}
			summary := run(t, config{seed: seed, days: days, rates: r}, clk, open(t, clk))
			t.Log(summary)
		})
	}
}

// TestReplayIsExact runs one seed twice. The same summary, trace digest
// included, means the same calls in the same order at the same simulated
// times: what a failing seed needs to replay.
func TestReplayIsExact(t *testing.T) {
	t.Parallel()
	var got [2]string
	for i := range got {
		clk := &clock{}
		got[i] = run(t, config{seed: 20260302, days: 45, rates: denseRates()}, clk, embeddedStore(t, clk))
	}
	if got[0] != got[1] {
		t.Errorf("one seed, two runs:\n%s\n%s", got[0], got[1])
	}
}

// TestOutageLongerThanATokensLife: one account whose token has five days
// left, Threads down for the next ten, nothing else wrong. The token dies,
// which invariant 1 excuses only because Threads was down whenever the
// engine asked and every pass until then reported the account failed; once
// Threads is back it refuses the token (190), the account is reported
// needs_reauth, and the new token a person adds is adopted.
func TestOutageLongerThanATokensLife(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	outage := window{from: start, to: start.Add(10 * day), kind: faultThreadsHTML}
	clk := &clock{}
	cfg := config{seed: 5, days: 20, outages: []window{outage}, accounts: []simAccount{{id: "main"}}, firstTokenAge: 55 * day}
	summary := run(t, cfg, clk, embeddedStore(t, clk))
	t.Log(summary)
	for _, want := range []string{"dead-tokens=1 ", "relogins=1 ", "verdict=ok"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q: %s", want, summary)
		}
	}
}

// TestTokenAddedWhileFresh: a person adds a token to an account whose
// state is fresh. A fresh account costs no secret read, so the new version
// is adopted only when the account comes due; invariant 4 allows the state
// to record the version before it until then, and only then.
func TestTokenAddedWhileFresh(t *testing.T) {
	t.Parallel()
	clk := &clock{}
	cfg := config{seed: 9, days: 2, accounts: []simAccount{{id: "main"}}, firstTokenAge: 30 * 24 * time.Hour,
		personAt: []time.Duration{36 * time.Hour}}
	summary := run(t, cfg, clk, embeddedStore(t, clk))
	t.Log(summary)
	for _, want := range []string{"hand-adds=1 ", "verdict=ok"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q: %s", want, summary)
		}
	}
}

// BenchmarkYear times one simulated year on the embedded store: seed 1,
// the default faults, the figure the README quotes. synctest needs a
// *testing.T, so each iteration runs TestEmbeddedStore for that seed in a
// child process of this test binary (built with the same flags, -race
// included); starting it adds a few milliseconds.
func BenchmarkYear(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	passes := regexp.MustCompile(`store=embedded .* days=365 passes=(\d+) calls=(\d+)`)
	var elapsed time.Duration
	var n, calls int
	for b.Loop() {
		cmd := exec.Command(exe, "-test.run=^TestEmbeddedStore$", "-test.count=1", "-test.v")
		// A Firestore host that is never dialled keeps the child from
		// starting an emulator of its own.
		cmd.Env = append(os.Environ(), "SIM_SEED=1", "SIM_SEEDS=1", "SIM_DAYS=365", firestoreemu.EnvHost+"=127.0.0.1:1")
		began := time.Now()
		out, err := cmd.CombinedOutput()
		elapsed += time.Since(began)
		if err != nil {
			b.Fatalf("the simulated year failed: %v\n%s", err, out)
		}
		m := passes.FindSubmatch(out)
		if m == nil {
			b.Fatalf("no summary in the child's output:\n%s", out)
		}
		p, _ := strconv.Atoi(string(m[1]))
		c, _ := strconv.Atoi(string(m[2]))
		n, calls = n+p, calls+c
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "passes/s")
	b.ReportMetric(float64(calls)/elapsed.Seconds(), "calls/s")
}
