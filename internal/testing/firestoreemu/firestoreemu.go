// Package firestoreemu runs the real Cloud Firestore emulator for the tests
// of one package, so that they exercise the real Go client against a real
// server instead of a fake.
//
// A package that needs it declares
//
//	func TestMain(m *testing.M) { os.Exit(firestoreemu.Main(m)) }
//
// and its tests call Host (or Project) before talking to Firestore. When
// FIRESTORE_EMULATOR_HOST is already set, that emulator is used. Otherwise
// Main starts one from the gcloud SDK, which needs Java 17 or later and the
// emulator component:
//
//	gcloud components install cloud-firestore-emulator
//
// or, where the SDK came from apt, the package
// google-cloud-cli-firestore-emulator. Without them the tests that need the
// emulator skip, except when the environment variable CI is set, where a
// missing emulator fails the run.
package firestoreemu

import (
	"context"
	"errors"
	"fmt"
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

// EnvHost is the variable the Firestore client libraries read to find an
// emulator.
const EnvHost = "FIRESTORE_EMULATOR_HOST"

const (
	mainClass    = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"
	jarPath      = "platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
	startTimeout = 30 * time.Second
	stopTimeout  = 5 * time.Second
	howToGet     = "install Java 17+ and the Firestore emulator (`gcloud components install cloud-firestore-emulator`, " +
		"or the apt package google-cloud-cli-firestore-emulator), or set " + EnvHost + " to a running emulator"
)

var errNoJava = errors.New("java not found in JAVA_HOME or on PATH")

// What Main found; read by Host.
var (
	mu          sync.Mutex
	mainRan     bool
	host        string
	unavailable string // why the emulator could not be had, when it could not
)

// Main starts the emulator (unless FIRESTORE_EMULATOR_HOST names one), sets
// FIRESTORE_EMULATOR_HOST, runs the tests, stops the emulator and returns
// the exit code for os.Exit.
func Main(m *testing.M) int {
	if h := os.Getenv(EnvHost); h != "" {
		setFound(h, "")
		return m.Run()
	}
	java, jar, err := locate()
	if err != nil {
		reason := fmt.Sprintf("Firestore emulator not available: %v; %s", err, howToGet)
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "firestoreemu: CI is set, failing:", reason)
			return 1
		}
		setFound("", reason)
		return m.Run()
	}

	// Pdeathsig fires when the thread that started the child exits, not the
	// process; keep this goroutine on its thread until the emulator is gone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	emu, err := start(java, jar)
	if err != nil {
		fmt.Fprintln(os.Stderr, "firestoreemu:", err)
		return 1
	}
	defer emu.stop()

	// An interrupted run would otherwise leave the emulator behind where
	// Pdeathsig does not exist.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer func() {
		signal.Stop(sigs)
		close(sigs)
	}()
	go func() {
		s, ok := <-sigs
		if !ok {
			return
		}
		emu.stop()
		fmt.Fprintf(os.Stderr, "firestoreemu: stopped the emulator on %v\n", s)
		os.Exit(2)
	}()

	if err := os.Setenv(EnvHost, emu.host); err != nil {
		fmt.Fprintln(os.Stderr, "firestoreemu: setting", EnvHost+":", err)
		return 1
	}
	defer os.Unsetenv(EnvHost)
	setFound(emu.host, "")
	return m.Run()
}

func setFound(h, reason string) {
	mu.Lock()
	defer mu.Unlock()
	mainRan, host, unavailable = true, h, reason
}

// Host returns the emulator's host:port. When there is no emulator the test
// is skipped, or fails when CI is set.
func Host(t testing.TB) string {
	t.Helper()
	mu.Lock()
	ran, h, reason := mainRan, host, unavailable
	mu.Unlock()
	if h != "" {
		return h
	}
	if !ran {
		if h := os.Getenv(EnvHost); h != "" {
			return h
		}
		t.Fatal("firestoreemu: the package's TestMain must call firestoreemu.Main")
	}
	if os.Getenv("CI") != "" {
		t.Fatal(reason)
	}
	t.Skip(reason)
	return ""
}

var projects atomic.Int64

// Project returns a project ID that no other test in this binary uses, so
// that tests running in parallel against one emulator do not see each
// other's documents. It skips or fails the test as Host does.
func Project(t testing.TB) string {
	t.Helper()
	Host(t)
	var b strings.Builder
	dash := true // no leading dash, no doubled dashes
	for _, r := range strings.ToLower(t.Name()) {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	name := strings.TrimSuffix(b.String(), "-")
	return fmt.Sprintf("test-%s-%d", name, projects.Add(1))
}

// Reset deletes every document of the project's database ("" means
// "(default)") in the emulator.
func Reset(t testing.TB, project, database string) {
	t.Helper()
	h := Host(t)
	if database == "" {
		database = "(default)"
	}
	u := fmt.Sprintf("http://%s/emulator/v1/projects/%s/databases/%s/documents", h, project, database)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u, nil)
	if err != nil {
		t.Fatalf("resetting the emulator: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("resetting the emulator: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("resetting the emulator: DELETE %s: %s", u, resp.Status)
	}
}

// locate finds Java and the emulator's jar.
func locate() (java, jar string, err error) {
	java, err = findJava()
	if err != nil {
		return "", "", err
	}
	var tried []string
	for _, root := range sdkRoots() {
		p := filepath.Join(root, jarPath)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return java, p, nil
		}
		tried = append(tried, p)
	}
	return "", "", fmt.Errorf("emulator jar not found (looked at %s)", strings.Join(tried, ", "))
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
		return "", errNoJava
	}
	return p, nil
}

// sdkRoots lists where the gcloud SDK may be, most specific first.
func sdkRoots() []string {
	var roots []string
	if r := os.Getenv("CLOUDSDK_ROOT_DIR"); r != "" {
		roots = append(roots, r)
	}
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
}

// emulator is a running emulator process.
type emulator struct {
	host   string
	cmd    *exec.Cmd
	out    *syncbuf.Buffer
	exited chan struct{} // closed once cmd.Wait returned
	once   sync.Once
}

// start starts the emulator on a free port and waits until it answers. A
// port taken between choosing and binding it gets a few more tries.
func start(java, jar string) (*emulator, error) {
	var err error
	for range 3 {
		var e *emulator
		var exitedEarly bool
		e, exitedEarly, err = startOnce(java, jar)
		if err == nil {
			return e, nil
		}
		if !exitedEarly {
			break
		}
	}
	return nil, err
}

func startOnce(java, jar string) (e *emulator, exitedEarly bool, err error) {
	port, err := freePort()
	if err != nil {
		return nil, false, err
	}
	hostPort := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(java, "-cp", jar, mainClass, "start",
		"--host=127.0.0.1", "--port="+strconv.Itoa(port))
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, false, fmt.Errorf("starting the Firestore emulator: %w", err)
	}
	e = &emulator{host: hostPort, cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(e.exited)
	}()

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := client.Get("http://" + hostPort + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return e, false, nil
			}
		}
		select {
		case <-e.exited:
			return nil, true, fmt.Errorf("the Firestore emulator exited before answering on %s (%v); its output:\n%s",
				hostPort, cmd.ProcessState, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.stop()
			return nil, false, fmt.Errorf("the Firestore emulator did not answer on %s within %v; its output:\n%s",
				hostPort, startTimeout, out.String())
		}
	}
}

// stop ends the emulator's whole process group, politely first, and waits
// for it.
func (e *emulator) stop() {
	e.once.Do(func() {
		killGroup(e.cmd, syscall.SIGTERM)
		select {
		case <-e.exited:
		case <-time.After(stopTimeout):
		}
		// Also reaches anything the JVM started that outlived it.
		killGroup(e.cmd, syscall.SIGKILL)
		<-e.exited
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
