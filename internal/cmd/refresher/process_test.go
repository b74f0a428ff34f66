//go:build unix

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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
