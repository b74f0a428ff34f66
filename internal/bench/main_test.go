// Package bench measures what a refresh pass costs: RPCs by method on both
// Google clients, Threads calls, wall time, start-up time and memory. It
// runs the real engine and the real Secret Manager and Firestore clients
// against the Firestore emulator, the in-process Secret Manager server and
// the Threads fake, so that anyone can repeat the figures the README quotes:
//
//	go test -run '^$' -bench . -timeout 30m ./internal/bench/
//
// (about two and a half minutes at the defaults on two cores, most of it the
// Concurrency=1 pass).
// Sizes come from the environment, with the defaults the README's targets
// use: BENCH_ACCOUNTS (1000), BENCH_LATENCY (100ms, the Threads answer
// time), BENCH_CONCURRENCY (16), BENCH_SERIAL_ACCOUNTS (accounts of the
// Concurrency=1 run of the speed-up benchmark; BENCH_ACCOUNTS when unset)
// and BENCH_RPC_LATENCY (0; a delay added to every call of both Google
// clients in this process, reported as rpc-latency-ms, to stand for the
// real services' round trips: 10ms the same region, 30ms another).
// TestPassCosts runs every benchmark's core once with a handful of accounts
// and asserts its counts, so that the measuring code stays honest in CI;
// among them, the Google calls made while an account holds a Threads slot
// (none), which slotWatch counts from the engine's slot log lines and the
// clients' interceptors.
//
// The passes above meet no quota: the Secret Manager server enforces none
// and the engine does not pace its calls (a project whose quotas were
// raised; x-floor is the engine's own speed). BenchmarkHerdPass measures a
// herd under Google's quotas, enforced by the server, with the engine
// pacing its calls under the function's default budgets, as deployed, and
// simulates the week after it:
//
//	go test -run '^$' -bench 'HerdPass' -benchtime 1x -timeout 60m ./internal/bench/
//
// (about 14 minutes at 1,000 accounts: a due herd is 2,000 writes at 500 a
// minute). BENCH_QUOTA_WINDOW (default 1m) is the quotas' interval in the
// server and the budgets alike: 6s runs the same rules ten times faster.
// BENCH_SPREAD_DAYS (default 7; 0 skips) is the days of hourly passes
// simulated on a fake clock after each herd, which give max-due-per-pass.
// For 10,000 accounts: BENCH_ACCOUNTS=10000 BENCH_QUOTA_WINDOW=6s
// BENCH_SPREAD_DAYS=0 (the herd's time and memory; its real time is the
// quota floor, ten times the compressed one). TestHerdUnderTheQuotas checks
// the same in CI, in seconds.
package bench

import (
	"os"
	"testing"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/firestoreemu"
)

func TestMain(m *testing.M) {
	code := firestoreemu.Main(m)
	removeBinaries()
	os.Exit(code)
}
