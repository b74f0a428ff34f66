package firestoreemu

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/jvmemu"
)

// childEnv makes the test binary a child that starts an emulator, reports
// its PID and panics, for TestEmulatorDiesWithTestBinary.
const childEnv = "FIRESTOREEMU_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		panickingChild()
	}
	os.Exit(Main(m))
}

func panickingChild() {
	e, err := Spec.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("pid=%d\n", e.Pid())
	panic("child dies without stopping its emulator")
}

// needLocal skips (or, under CI, fails) a test that starts emulators of its
// own when there are none to start.
func needLocal(t *testing.T) {
	t.Helper()
	if _, _, err := Spec.Locate(); err != nil {
		jvmemu.SkipOrFail(t, fmt.Sprintf("%v; %s", err, Spec.HowToGet))
	}
}

func newClient(t *testing.T, project, database string) *firestore.Client {
	t.Helper()
	Host(t)
	c, err := firestore.NewClientWithDatabase(context.Background(), project, database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func exists(t *testing.T, c *firestore.Client, path string) bool {
	t.Helper()
	_, err := c.Doc(path).Get(context.Background())
	switch status.Code(err) {
	case codes.OK:
		return true
	case codes.NotFound:
		return false
	}
	t.Fatalf("reading %s: %v", path, err)
	return false
}

func put(t *testing.T, c *firestore.Client, path string) {
	t.Helper()
	if _, err := c.Doc(path).Set(context.Background(), map[string]any{"x": 1}); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}

func TestHostAnswers(t *testing.T) {
	t.Parallel()
	h := Host(t)
	if os.Getenv(EnvHost) != h {
		t.Errorf("%s = %q, Host = %q", EnvHost, os.Getenv(EnvHost), h)
	}
	resp, err := http.Get("http://" + h + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /: %s", resp.Status)
	}
}

func TestProjectIsUniqueAndValid(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^test-[a-z0-9]+(-[a-z0-9]+)*$`)
	var mu sync.Mutex
	seen := map[string]bool{}
	for i := range 4 {
		t.Run(fmt.Sprintf("Sub Test/%d ÄÖ", i), func(t *testing.T) {
			t.Parallel()
			for range 25 {
				p := Project(t)
				if !valid.MatchString(p) {
					t.Errorf("Project = %q, not a clean project ID", p)
				}
				mu.Lock()
				if seen[p] {
					t.Errorf("Project returned %q twice", p)
				}
				seen[p] = true
				mu.Unlock()
			}
		})
	}
}

func TestProjectsAreIsolated(t *testing.T) {
	t.Parallel()
	p1, p2 := Project(t), Project(t)
	put(t, newClient(t, p1, "(default)"), "c/doc")
	if exists(t, newClient(t, p2, "(default)"), "c/doc") {
		t.Error("a document written in one project is visible in another")
	}
}

func TestReset(t *testing.T) {
	t.Parallel()
	p, other := Project(t), Project(t)
	def := newClient(t, p, "(default)")
	named := newClient(t, p, "refresher")
	elsewhere := newClient(t, other, "(default)")
	put(t, def, "c/a")
	put(t, def, "c/b")
	put(t, named, "c/a")
	put(t, elsewhere, "c/a")

	Reset(t, p, "")
	if exists(t, def, "c/a") || exists(t, def, "c/b") {
		t.Error("documents survive Reset of their database")
	}
	if !exists(t, named, "c/a") {
		t.Error("Reset of (default) deleted a document of a named database")
	}
	if !exists(t, elsewhere, "c/a") {
		t.Error("Reset deleted a document of another project")
	}

	Reset(t, p, "refresher")
	if exists(t, named, "c/a") {
		t.Error("a document survives Reset of its named database")
	}
}

// The state store uses a named database in production; the emulator must
// keep it apart from (default).
func TestNamedDatabase(t *testing.T) {
	t.Parallel()
	p := Project(t)
	named := newClient(t, p, "refresher")
	ctx := context.Background()
	if _, err := named.Doc("c/doc").Set(ctx, map[string]any{"v": "named"}); err != nil {
		t.Fatal(err)
	}
	snap, err := named.Doc("c/doc").Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := snap.DataAt("v"); v != "named" {
		t.Errorf("read back v = %v, want named", v)
	}
	if exists(t, newClient(t, p, "(default)"), "c/doc") {
		t.Error("a document of database refresher is visible in (default)")
	}
}

func TestStopEndsEmulator(t *testing.T) {
	t.Parallel()
	e := Spec.Private(t)
	// The helpers wait for a call to this emulator a multiple of what its
	// start took, so that a busy machine slows both alike.
	if e.StartTook() <= 0 || Patience(e.Host()) < 10*e.StartTook() || Patience(e.Host()) < 30*time.Second {
		t.Errorf("start took %v, patience %v; want the start measured and the patience 10 times it, at least 30s", e.StartTook(), Patience(e.Host()))
	}
	if p := Patience("127.0.0.1:1"); p != 30*time.Second {
		t.Errorf("patience with an emulator this process did not start: %v, want 30s", p)
	}
	pid := e.Pid()
	e.Stop()
	select {
	case <-e.Exited():
	default:
		t.Fatal("Stop returned before the emulator exited")
	}
	if alive(pid) {
		t.Errorf("emulator process %d still alive after Stop", pid)
	}
	if c, err := net.DialTimeout("tcp", e.Host(), time.Second); err == nil {
		c.Close()
		t.Errorf("something still listens on %s after Stop", e.Host())
	}
}

func TestEmulatorDiesWithTestBinary(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux kills a child when its parent dies")
	}
	t.Parallel()
	needLocal(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(withoutEnv(os.Environ(), EnvHost), childEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := -1
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "pid="); ok {
			pid, _ = strconv.Atoi(s)
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err == nil {
		t.Fatal("child exited cleanly; it should have panicked")
	}
	if pid <= 0 {
		t.Fatalf("child did not report its emulator; stderr:\n%s", stderr.String())
	}
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("emulator %d outlived the test binary that started it", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func withoutEnv(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// alive reports whether pid is a live process; a zombie nobody reaped yet
// counts as dead.
func alive(pid int) bool {
	if runtime.GOOS == "linux" {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		// The state follows the parenthesised command name.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return p.Signal(syscall.Signal(0)) == nil
}
