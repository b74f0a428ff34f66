//go:build unix

package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/leases"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/syncbuf"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// proc is the refresher binary running as its own process.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr syncbuf.Buffer
	done           chan struct{}
	err            error
}

// start runs the binary with the world's environment (and overrides),
// nothing else from the test's. The process is killed when the test ends
// if it is still running, and its output searched for secrets.
func (w *world) start(t *testing.T, overrides map[string]string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary(t), args...), done: make(chan struct{})}
	vars := w.environ(overrides)
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range vars {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdin = strings.NewReader("")
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting refresher %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		w.record("process refresher "+strings.Join(args, " "), p.stdout.String()+p.stderr.String())
	})
	return p
}

// wait waits for the process to end and returns its exit code (-1 when a
// signal ended it).
func (p *proc) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("refresher %s did not end within %v; stderr:\n%s", strings.Join(p.cmd.Args[1:], " "), within, p.stderr.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitOutput waits until the process's standard error holds s.
func (p *proc) waitOutput(t *testing.T, s string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(p.stderr.String(), s) {
		select {
		case <-p.done:
			t.Fatalf("refresher exited (%v) before saying %q; stderr:\n%s", p.err, s, p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("refresher did not say %q within %v; stderr:\n%s", s, within, p.stderr.String())
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// httpDo sends one request, as curl would, and returns the status, the
// Allow header and the body, which is recorded for the secret check.
func (w *world) httpDo(t *testing.T, method, url string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	w.record(method+" "+url, string(body))
	return resp.StatusCode, resp.Header.Get("Allow"), string(body)
}

// serve starts `refresher serve` on a free port and waits for its line.
func (w *world) serve(t *testing.T) (*proc, string) {
	t.Helper()
	port := freePort(t)
	p := w.start(t, map[string]string{"PORT": port}, "serve")
	p.waitOutput(t, "serving", 30*time.Second)
	if !strings.Contains(p.stderr.String(), "127.0.0.1:"+port) {
		t.Errorf("the serving line does not say where:\n%s", p.stderr.String())
	}
	return p, "http://127.0.0.1:" + port + "/"
}

// stop sends SIGTERM and expects a prompt, clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Errorf("serve exited %d on SIGTERM; stderr:\n%s", code, p.stderr.String())
	}
}

func TestServe(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		if w.kind == local {
			// An empty store: serve says how to add an account.
			p, url := w.serve(t)
			if !strings.Contains(p.stderr.String(), "refresher add") {
				t.Errorf("serve on an empty store does not say how to add an account:\n%s", p.stderr.String())
			}
			if code, _, body := w.httpDo(t, http.MethodGet, url); code != 200 || len(parseReport(t, body).Accounts) != 0 {
				t.Errorf("GET on an empty store: %d %s", code, body)
			}
			p.stop(t)
		}

		w.seed("main", 3*day)
		p, url := w.serve(t)

		code, _, body := w.httpDo(t, http.MethodGet, url)
		if rep := parseReport(t, body); code != 200 || resultOf(t, rep, "main") != "unknown" {
			t.Errorf("GET before any pass: %d %s", code, body)
		}
		if n := w.th.TotalCalls(); n != 0 {
			t.Errorf("GET called Threads")
		}

		code, _, body = w.httpDo(t, http.MethodPost, url)
		rep := parseReport(t, body)
		if code != 200 || resultOf(t, rep, "main") != "refreshed" || *rep.Refreshed != 1 {
			t.Errorf("POST: %d %s", code, body)
		}
		code, _, body = w.httpDo(t, http.MethodGet, url)
		if rep := parseReport(t, body); code != 200 || resultOf(t, rep, "main") != "ok" {
			t.Errorf("GET after the pass: %d %s", code, body)
		}
		code, allow, _ := w.httpDo(t, http.MethodPut, url)
		if code != http.StatusMethodNotAllowed || !strings.Contains(allow, "POST") || !strings.Contains(allow, "GET") {
			t.Errorf("PUT: %d, Allow %q; want 405 naming GET and POST", code, allow)
		}

		// A revoked token makes the pass answer 500.
		broken, _ := w.seed("broken", 3*day)
		w.th.Revoke(broken)
		if w.kind == google {
			// The running function was configured with main only.
			p.stop(t)
			w.env["THREADS_SECRETS"] = "main,broken"
			p, url = w.serve(t)
		}
		code, _, body = w.httpDo(t, http.MethodPost, url)
		rep = parseReport(t, body)
		if code != 500 || resultOf(t, rep, "broken") != "needs_reauth" || resultOf(t, rep, "main") != "fresh" {
			t.Errorf("POST with a revoked token: %d %s", code, body)
		}
		jsonLogs(t, p.stderr.String())
		p.stop(t)
	})
}

// TestConcurrentRunProcesses: two `refresher run` processes started at once
// on one database refresh a due account exactly once.
func TestConcurrentRunProcesses(t *testing.T) {
	t.Parallel()
	for round := range 3 {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			// The refresh takes a while, so that the passes overlap.
			w := newWorld(t, local, threadsfake.Latency(300*time.Millisecond))
			old, _ := w.seed("main", 3*day)
			a := w.start(t, nil, "run")
			b := w.start(t, nil, "run")
			results := map[string]int{}
			for _, p := range []*proc{a, b} {
				if code := p.wait(t, 60*time.Second); code != 0 {
					t.Errorf("run exited %d; stderr:\n%s", code, p.stderr.String())
				}
				results[resultOf(t, parseReport(t, p.stdout.String()), "main")]++
			}
			if results["refreshed"] != 1 || results["busy"]+results["fresh"] != 1 {
				t.Errorf("results %v; want one refreshed and one busy or fresh", results)
			}
			if n := w.th.Calls(threadsfake.PathRefresh); n != 1 {
				t.Errorf("%d refresh calls, want 1", n)
			}
			if vs := w.versions("main"); len(vs) != 2 || w.newestToken("main") == old {
				t.Errorf("%d versions, want exactly one new one", len(vs))
			}
		})
	}
}

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

// TestGoogleUnreadableState: status and run fail with one line when
// Firestore cannot be read: a server that is not Firestore answers at
// once; one that does not answer is given up on.
func TestGoogleUnreadableState(t *testing.T) {
	t.Parallel()
	w := newWorld(t, google)
	w.seed("main", 3*day)
	dead := freePort(t) // nothing listens there
	tests := []struct {
		name, host string
		args       []string
		within     time.Duration
	}{
		{"not Firestore", w.sm.Addr(), []string{"status"}, 30 * time.Second},
		{"not Firestore", w.sm.Addr(), []string{"status", "--json"}, 30 * time.Second},
		{"not Firestore", w.sm.Addr(), []string{"run"}, 30 * time.Second},
		{"no answer", "127.0.0.1:" + dead, []string{"status"}, statusTimeout + 15*time.Second},
	}
	procs := make([]*proc, len(tests))
	for i, tt := range tests {
		procs[i] = w.start(t, map[string]string{"FIRESTORE_EMULATOR_HOST": tt.host}, tt.args...)
	}
	for i, tt := range tests {
		p := procs[i]
		name := tt.name + ": refresher " + strings.Join(tt.args, " ")
		if code := p.wait(t, tt.within); code != 1 || p.stdout.String() != "" {
			t.Errorf("%s: exit %d, stdout %q; want 1 and nothing", name, code, p.stdout.String())
		}
		line := wantOneLine(t, name, p.stderr.String())
		if !strings.HasPrefix(line, "refresher "+tt.args[0]+": ") || !strings.Contains(line, "state") {
			t.Errorf("%s: want a line saying the state could not be read, got %q", name, line)
		}
	}
	if n := w.th.TotalCalls(); n != 0 {
		t.Errorf("Threads was called %d times", n)
	}
}
