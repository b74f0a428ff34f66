// Package jvmemu runs the Google Cloud SDK's Java emulators (Firestore,
// Pub/Sub) for tests: it finds Java and an emulator's jar, starts the
// emulator on a free port of 127.0.0.1 in a process group of its own, waits
// until it answers, and stops the whole group. firestoreemu and pubsubemu
// describe their emulator to it in a Spec.
//
// An emulator is either shared by a package's tests (Shared, started by the
// package's TestMain) or a test's own (Spec.Private), for a test that stops
// it. Without Java or the emulator, the tests that need it skip with a hint,
// except when the environment variable CI is set: there they fail.
package jvmemu

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/syncbuf"
)

const (
	// startBackstop bounds the wait for an emulator to answer after its
	// start. It only stops a hung emulator from hanging the run: one that
	// exits is seen at once, and a JVM that starts in seconds on an idle
	// machine can take minutes on one that runs other test suites, so a
	// short bound here would fail tests for the machine's load.
	startBackstop = 5 * time.Minute
	stopTimeout   = 5 * time.Second

	// patienceFactor and minPatience make Patience: how many of the
	// emulator's own start-ups one call to it may take, and the least
	// wait, for an emulator that started fast on a machine that got busy
	// later.
	patienceFactor = 10
	minPatience    = 30 * time.Second
)

// startups records how long each emulator this process started took to
// answer, by host:port.
var startups sync.Map // host -> time.Duration

// Patience is how long a test helper waits for one call to the emulator at
// host (a reset, a topic's creation, a pull) before it gives up: a
// multiple of how long that emulator took to start on this machine, at
// least minPatience. A call that takes longer is not slow but stuck: a
// machine busy enough to slow the calls slowed the emulator's start as
// much, so the wait grows with the machine's load instead of failing
// tests for it. An emulator this process did not start (one named by
// FIRESTORE_EMULATOR_HOST, say) gets minPatience.
func Patience(host string) time.Duration {
	took, _ := startups.Load(host)
	d, _ := took.(time.Duration)
	return max(minPatience, patienceFactor*d)
}

// ErrNoJava: no java in JAVA_HOME or on PATH.
var ErrNoJava = errors.New("java not found in JAVA_HOME or on PATH")

// Spec describes one emulator.
type Spec struct {
	// Name names it in messages ("Firestore emulator").
	Name string
	// Jar is the jar's path below the SDK root, with slashes; it may be a
	// glob, for a jar whose name carries its version.
	Jar string
	// Args are java's arguments to run the jar on 127.0.0.1:port.
	Args func(jar string, port int) []string
	// HowToGet says how to install what is missing.
	HowToGet string
}

// Locate finds Java and the emulator's jar.
func (s Spec) Locate() (java, jar string, err error) {
	java, err = findJava()
	if err != nil {
		return "", "", err
	}
	var tried []string
	for _, root := range sdkRoots() {
		p := filepath.Join(root, filepath.FromSlash(s.Jar))
		matches, _ := filepath.Glob(p)
		for _, m := range matches {
			if st, err := os.Stat(m); err == nil && st.Mode().IsRegular() {
				return java, m, nil
			}
		}
		tried = append(tried, p)
	}
	return "", "", fmt.Errorf("%s jar not found (looked at %s)", s.Name, strings.Join(tried, ", "))
}

// unavailable says why the emulator cannot be had, and how to get it.
func (s Spec) unavailable(err error) string {
	return fmt.Sprintf("%s not available: %v; %s", s.Name, err, s.HowToGet)
}

// Start locates the emulator and starts it on a free port. A port taken
// between choosing and binding it gets a few more tries.
func (s Spec) Start() (*Process, error) {
	java, jar, err := s.Locate()
	if err != nil {
		return nil, err
	}
	for range 3 {
		var p *Process
		var exitedEarly bool
		p, exitedEarly, err = s.startOnce(java, jar)
		if err == nil {
			return p, nil
		}
		if !exitedEarly {
			break
		}
	}
	return nil, err
}

// Private starts an emulator for t alone, stopped when t ends. Without Java
// or the emulator t is skipped, or fails when CI is set.
func (s Spec) Private(t testing.TB) *Process {
	t.Helper()
	if _, _, err := s.Locate(); err != nil {
		SkipOrFail(t, s.unavailable(err))
	}
	p, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

var projects atomic.Int64

// runID tells this test process apart from any other using the same
// emulator: an emulator named by FIRESTORE_EMULATOR_HOST or
// PUBSUB_EMULATOR_HOST outlives the run, and keeps its projects' data.
var runID = sync.OnceValue(func() string {
	return strconv.FormatInt(int64(os.Getpid()), 36) + strconv.FormatInt(rand.Int64N(36*36*36), 36)
})

// ProjectID returns a project ID that no other test uses, in this process
// or in another run against the same emulator, so that tests do not see
// each other's data: "test-", label, the run and a counter.
func ProjectID(label string) string {
	return fmt.Sprintf("test-%s-%s-%d", label, runID(), projects.Add(1))
}

// SkipOrFail skips t with reason, or fails it when CI is set: CI must not
// pass by skipping what it was meant to run.
func SkipOrFail(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(reason)
	}
	t.Skip(reason)
}

// Process is a running emulator.
type Process struct {
	host string
	// startTook is how long the emulator took to answer after its start.
	startTook time.Duration
	cmd       *exec.Cmd
	out       *syncbuf.Buffer
	exited    chan struct{} // closed once cmd.Wait returned
	once      sync.Once
}

// Host is the emulator's host:port.
func (p *Process) Host() string { return p.host }

// StartTook is how long the emulator took to answer after its start.
func (p *Process) StartTook() time.Duration { return p.startTook }

// Pid is the emulator's process ID, also its process group's.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the emulator has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

func (s Spec) startOnce(java, jar string) (p *Process, exitedEarly bool, err error) {
	port, err := freePort()
	if err != nil {
		return nil, false, err
	}
	cmd := exec.Command(java, s.Args(jar, port)...)
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	p = &Process{host: net.JoinHostPort("127.0.0.1", fmt.Sprint(port)), cmd: cmd, out: out, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig kills the emulator when the thread that started it
		// exits, not the process: this goroutine keeps that thread, locked,
		// until the emulator has exited. (Returning locked ends the thread,
		// which is harmless by then.)
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		return nil, false, fmt.Errorf("starting the %s: %w", s.Name, err)
	}

	// A poll that gets no answer within its timeout is only tried again.
	client := &http.Client{Timeout: time.Second}
	began := time.Now()
	deadline := began.Add(startBackstop)
	for {
		resp, err := client.Get("http://" + p.host + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.startTook = time.Since(began)
				startups.Store(p.host, p.startTook)
				return p, false, nil
			}
		}
		select {
		case <-p.exited:
			return nil, true, fmt.Errorf("the %s exited before answering on %s (%v); its output:\n%s",
				s.Name, p.host, cmd.ProcessState, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, false, fmt.Errorf("the %s did not answer on %s within %v; its output:\n%s",
				s.Name, p.host, startBackstop, out.String())
		}
	}
}

// Stop ends the emulator's whole process group, politely first, and waits
// for it. Stopping a stopped emulator does nothing.
func (p *Process) Stop() {
	p.once.Do(func() {
		killGroup(p.cmd, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(stopTimeout):
		}
		// Also reaches anything the JVM started that outlived it.
		killGroup(p.cmd, syscall.SIGKILL)
		<-p.exited
	})
}

// Shared is one emulator for all the tests of a package, started by Main.
type Shared struct {
	Spec Spec
	// EnvHost, when set, is the variable the client libraries read to find
	// the emulator: an emulator it already names is used instead of
	// starting one, and Main sets it for the tests.
	EnvHost string

	mu          sync.Mutex
	mainRan     bool
	host        string
	unavailable string // why the emulator could not be had, when it could not
}

// Main starts the emulator (unless EnvHost names one), runs the tests,
// stops the emulator and returns the exit code for os.Exit.
func (s *Shared) Main(m *testing.M) int {
	if s.EnvHost != "" {
		if h := os.Getenv(s.EnvHost); h != "" {
			s.setFound(h, "")
			return m.Run()
		}
	}
	if _, _, err := s.Spec.Locate(); err != nil {
		reason := s.Spec.unavailable(err)
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "jvmemu: CI is set, failing:", reason)
			return 1
		}
		s.setFound("", reason)
		return m.Run()
	}
	emu, err := s.Spec.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "jvmemu:", err)
		return 1
	}
	defer emu.Stop()

	// An interrupted run would otherwise leave the emulator behind where
	// Pdeathsig does not exist.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer func() {
		signal.Stop(sigs)
		close(sigs)
	}()
	go func() {
		sig, ok := <-sigs
		if !ok {
			return
		}
		emu.Stop()
		fmt.Fprintf(os.Stderr, "jvmemu: stopped the %s on %v\n", s.Spec.Name, sig)
		os.Exit(2)
	}()

	if s.EnvHost != "" {
		if err := os.Setenv(s.EnvHost, emu.Host()); err != nil {
			fmt.Fprintln(os.Stderr, "jvmemu: setting", s.EnvHost+":", err)
			return 1
		}
		defer os.Unsetenv(s.EnvHost)
	}
	s.setFound(emu.Host(), "")
	return m.Run()
}

func (s *Shared) setFound(h, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mainRan, s.host, s.unavailable = true, h, reason
}

// Host returns the emulator's host:port. When there is no emulator the test
// is skipped, or fails when CI is set.
func (s *Shared) Host(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	ran, h, reason := s.mainRan, s.host, s.unavailable
	s.mu.Unlock()
	if h != "" {
		return h
	}
	if !ran {
		if s.EnvHost != "" {
			if h := os.Getenv(s.EnvHost); h != "" {
				return h
			}
		}
		t.Fatalf("the package's TestMain must run the %s's Main", s.Spec.Name)
	}
	SkipOrFail(t, reason)
	return ""
}

func findJava() (string, error) {
	if jh := os.Getenv("JAVA_HOME"); jh != "" {
		p := filepath.Join(jh, "bin", "java")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("java")
	if err != nil {
		return "", ErrNoJava
	}
	return p, nil
}

// sdkRoots lists where the gcloud SDK may be, most specific first.
// CLOUDSDK_ROOT_DIR is read each time (tests set it); gcloud's answer, which
// takes a second, only once.
func sdkRoots() []string {
	var roots []string
	if r := os.Getenv("CLOUDSDK_ROOT_DIR"); r != "" {
		roots = append(roots, r)
	}
	return append(roots, defaultRoots()...)
}

var defaultRoots = sync.OnceValue(func() []string {
	var roots []string
	if gcloud, err := exec.LookPath("gcloud"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, gcloud, "info", "--format=value(installation.sdk_root)").Output()
		cancel()
		if r := strings.TrimSpace(string(out)); err == nil && r != "" {
			roots = append(roots, r)
		}
	}
	roots = append(roots, "/usr/lib/google-cloud-sdk", "/usr/share/google-cloud-sdk", "/google-cloud-sdk")
	if home, err := os.UserHomeDir(); err == nil {
		roots = append(roots, filepath.Join(home, "google-cloud-sdk"))
	}
	return roots
})

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
