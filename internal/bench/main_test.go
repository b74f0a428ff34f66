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
