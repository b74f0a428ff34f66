//go:build unix

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/leases"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// TestKillDuringPass kills `refresher run` at several points of a pass.
// Afterwards the database opens, the current token is the old or the new
// one, and later passes leave the account ok with exactly one new version.
func TestKillDuringPass(t *testing.T) {
	t.Parallel()
	points := []killPoint{
		{name: "at once", wait: after(0)},
		{name: "refresh in flight", wait: arrived, want: stageInFlight},
		{name: "just before the answer", wait: func(w *world, p *proc) { arrived(w, p); after(killLatency-20*time.Millisecond)(w, p) }},
		{name: "between the new version and the state", wait: stopBeforeCommit, want: stageNotRecorded},
	}
	// The answer arrives killLatency after the request; storing and
	// recording it take about a millisecond.
	for _, us := range []int{0, 300, 600, 900} {
		d := killLatency + time.Duration(us)*time.Microsecond
		points = append(points, killPoint{name: fmt.Sprintf("%v after the request", d), wait: func(w *world, p *proc) { arrived(w, p); after(d)(w, p) }})
	}
	for range 3 {
		d := time.Duration(rand.IntN(int(2*killLatency/time.Microsecond))) * time.Microsecond
		points = append(points, killPoint{name: fmt.Sprintf("%v after the start", d), wait: after(d)})
	}

	hit := map[string]int{}
	for i, kp := range points {
		// A point aimed at a stage may miss it on a loaded machine; it has
		// a few tries.
		tries := 1
		if kp.want != "" {
			tries = 12
		}
		for try := range tries {
			var stage string
			t.Run(fmt.Sprintf("%d.%d", i, try), func(t *testing.T) { stage = killRound(t, kp) })
			hit[stage]++
			if kp.want == "" || stage == kp.want {
				break
			}
		}
	}
	for _, stage := range []string{stageInFlight, stageNotRecorded} {
		if hit[stage] == 0 {
			t.Errorf("no kill landed at %q; stages hit: %v", stage, hit)
		}
	}
}

// killLatency is how long the Threads fake takes to answer in the kill
// test, so that a pass is in flight long enough to be killed there.
const killLatency = 200 * time.Millisecond

// Stages of a pass on one account, as seen after it was killed.
const (
	stageBeforeRequest = "before the refresh request"
	stageInFlight      = "refresh in flight"
	stageNotStored     = "refreshed, new token not stored"
	stageNotRecorded   = "new version stored, state not recorded"
	stageRecorded      = "state recorded"
)

// killPoint is a moment to kill a pass at.
type killPoint struct {
	name string
	// wait returns at the moment to kill the process (or kills it itself).
	wait func(w *world, p *proc)
	// want is the stage the point aims at, if any.
	want string
}

// killRound runs one pass, kills it at kp, checks what it left, and
// returns the stage it was killed at.
func killRound(t *testing.T, kp killPoint) string {
	w := newWorld(t, local, threadsfake.Latency(killLatency))
	old, _ := w.seed("main", 3*day)
	p := w.start(t, nil, "run")
	kp.wait(w, p)
	p.cmd.Process.Kill()
	p.wait(t, 10*time.Second)
	stage := w.stage()
	t.Logf("killed %s: %s", kp.name, stage)

	r := w.run("token", "main")
	tok := strings.TrimSuffix(r.stdout, "\n")
	if r.code != 0 {
		t.Fatalf("token after the kill: %v", r)
	}
	if info, ok := w.th.Info(tok); tok != old && (!ok || !info.LongLived || info.IssuedAt.Before(time.Now().Add(-time.Hour))) {
		t.Fatalf("after the kill the current token is neither the old nor a refreshed one")
	}
	if !w.th.Valid(tok) {
		t.Errorf("the current token is not valid")
	}

	// Right away: the account may still be leased by the dead pass, which
	// is busy, not a failure.
	r = w.run("run")
	if got := resultOf(t, parseReport(t, r.stdout), "main"); r.code != 0 || !oneOf(got, "refreshed", "fresh", "rolled_forward", "busy") {
		t.Errorf("run after the kill: %v", r)
	}

	// Once the dead pass's lease has expired, a pass repairs the rest.
	w.expireLease("main")
	r = w.run("run")
	if got := resultOf(t, parseReport(t, r.stdout), "main"); r.code != 0 || !oneOf(got, "refreshed", "fresh", "rolled_forward") {
		t.Errorf("run after the lease expired: %v", r)
	}
	r = w.run("status", "--json")
	if got := resultOf(t, parseReport(t, r.stdout), "main"); got != "ok" {
		t.Errorf("status after recovery: %s", got)
	}
	if vs := w.versions("main"); len(vs) != 2 {
		t.Errorf("%d versions after recovery, want the old and exactly one new", len(vs))
	}
	if tok := w.newestToken("main"); tok == old || !w.th.Valid(tok) {
		t.Errorf("after recovery the newest version does not hold a new, valid token")
	}
	return stage
}

// arrived returns once the refresh request reached Threads.
func arrived(w *world, p *proc) {
	for w.th.Calls(threadsfake.PathRefresh) == 0 {
		select {
		case <-p.done:
			return
		case <-time.After(100 * time.Microsecond):
		}
	}
}

// after returns d later, or when the process ends.
func after(d time.Duration) func(w *world, p *proc) {
	return func(w *world, p *proc) {
		select {
		case <-p.done:
		case <-time.After(d):
		}
	}
}

// stopBeforeCommit kills the pass after it stored the new version and
// before it records the state. The pass needs the database file's lock
// exclusively for each of the two writes. Once the refresh request is out,
// the test spins taking the lock shared and letting it go at once; when
// that fails, the pass is storing the new version, and the test spins
// until it gets the lock, the instant the pass lets go: it then holds the
// lock, so the second write waits, and kills the pass. The instant is a
// race with the pass, which the spinning test mostly wins.
func stopBeforeCommit(w *world, p *proc) {
	w.t.Helper()
	s := w.openStore(nil)
	f, err := os.Open(w.db)
	if err != nil {
		w.t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	arrived(w, p)
	after(killLatency-10*time.Millisecond)(w, p) // no need to spin before
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	writing := false
	for {
		select {
		case <-p.done:
			return
		default:
		}
		if err := syscall.Flock(fd, syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
			writing = true
			continue
		}
		if !writing {
			syscall.Flock(fd, syscall.LOCK_UN)
			continue
		}
		// The first write just ended and the lock is the test's.
		vs, err := s.Versions(context.Background(), s.Account("main"))
		if err != nil {
			w.t.Fatal(err)
		}
		if len(vs) > 1 {
			p.cmd.Process.Kill()
			<-p.done
		}
		syscall.Flock(fd, syscall.LOCK_UN)
		return
	}
}

// stage tells how far a pass got on the account, from what the store and
// Threads hold. Reading the store is the proof that the database opens.
func (w *world) stage() string {
	w.t.Helper()
	calls := w.th.Calls(threadsfake.PathRefresh)
	vs := w.versions("main")
	s := w.openStore(nil)
	states, err := s.Load(context.Background(), []refresh.Account{s.Account("main")})
	if err != nil {
		w.t.Fatalf("loading the state after the kill: %v", err)
	}
	recorded, _ := refresh.VersionNumber(states["main"].Version)
	switch {
	case calls == 0:
		return stageBeforeRequest
	case len(vs) == 1 && len(w.th.Tokens()) == 1:
		return stageInFlight
	case len(vs) == 1:
		return stageNotStored
	case recorded != vs[len(vs)-1].number:
		return stageNotRecorded
	default:
		return stageRecorded
	}
}

func oneOf(s string, set ...string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

// expireLease makes any lease on the account expire, as the passing of
// its time to live (45 minutes) would: the store, its clock an hour ahead,
// takes the lease over and gives it back.
func (w *world) expireLease(account string) {
	w.t.Helper()
	s := w.openStore(func() time.Time { return time.Now().Add(time.Hour) })
	a := s.Account(account)
	leased, err := leases.Take(context.Background(), s, a, "test-lease-expiry", time.Now())
	if err != nil {
		w.t.Fatalf("taking over the lease: %v", err)
	}
	if err := s.Release(context.Background(), a, "test-lease-expiry", leased); err != nil {
		w.t.Fatalf("releasing the lease: %v", err)
	}
}
