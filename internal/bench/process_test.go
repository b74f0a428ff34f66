package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/config"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/firestoreemu"
)

const refresherPackage = "github.com/threads-token-refresher/threads-token-refresher/internal/cmd/refresher"

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// refresherBinary builds the refresher command once per test binary, as a
// user would (no race detector, whatever flags the tests run with).
func refresherBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "bench-refresher-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "refresher")
		goTool, err := exec.LookPath(filepath.Join(runtime.GOROOT(), "bin", "go"))
		if err != nil {
			goTool = "go"
		}
		out, err := exec.Command(goTool, "build", "-o", binPath, refresherPackage).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build %s: %w\n%s", refresherPackage, err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

func removeBinaries() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

// googleEnv is the environment that points the refresher at w's servers,
// and nothing else from this process's environment.
func (w *world) googleEnv(concurrency int) []string {
	ids := make([]string, len(w.accounts))
	for i, a := range w.accounts {
		ids[i] = a.ID
	}
	return []string{
		"HOME=" + w.tb.TempDir(),
		"GOOGLE_CLOUD_PROJECT=" + w.fs.project,
		"THREADS_SECRETS=" + strings.Join(ids, ","),
		"SECRET_MANAGER_EMULATOR_HOST=" + w.sm.Addr(),
		firestoreemu.EnvHost + "=" + firestoreemu.Host(w.tb),
		"THREADS_API_BASE_URL=" + w.th.URL(),
		"CONCURRENCY=" + strconv.Itoa(concurrency),
		"THREADS_TIMEOUT=" + threadsTimeout.String(),
		"REFRESH_AFTER=" + refreshAfter.String(),
		"KEEP_VERSIONS=" + strconv.Itoa(keepVersions),
		// As a project whose quotas were raised: these passes measure the
		// function's time, CPU and memory, not the quotas' (herd_test.go).
		"SECRET_MANAGER_READS_PER_MINUTE=" + strconv.Itoa(config.MaxPerMinute),
		"SECRET_MANAGER_WRITES_PER_MINUTE=" + strconv.Itoa(config.MaxPerMinute),
		"SECRET_MANAGER_ACCESSES_PER_MINUTE=" + strconv.Itoa(config.MaxPerMinute),
	}
}

// localEnv runs the refresher on an embedded database in dir.
func localEnv(dir string) []string {
	return []string{"HOME=" + dir, "REFRESHER_DB=" + filepath.Join(dir, "refresher.db")}
}

// startUp starts `refresher serve` and returns the time from starting the
// process to its first answered GET, polling every millisecond. The
// process is killed before startUp returns.
func startUp(tb testing.TB, env []string) time.Duration {
	tb.Helper()
	port, err := freePort()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(refresherBinary(tb), "serve")
	cmd.Env = append(env, "PORT="+port)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	childAttr(cmd)
	url := "http://127.0.0.1:" + port + "/"
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	// A GET that gets no answer in time is only tried again; the start as a
	// whole is given what a call to the emulator may take on this machine,
	// not fixed seconds.
	patience := firestoreemu.Patience(firestoreemu.Host(tb))

	start := time.Now()
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting refresher serve: %v", err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			took := time.Since(start)
			if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"accounts"`)) {
				tb.Fatalf("GET %s answered %s: %s", url, resp.Status, body)
			}
			return took
		}
		if took := time.Since(start); took > patience {
			cmd.Process.Kill()
			cmd.Wait()
			tb.Fatalf("refresher serve did not answer within %v: %v\n%s", took, err, out.String())
		}
		time.Sleep(time.Millisecond)
	}
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

// childPass is one `refresher run` in its own process.
type childPass struct {
	report   refresh.Report
	wall     time.Duration // from process start to exit
	cpu      time.Duration // user and system CPU time
	maxRSS   uint64        // peak RSS in bytes (VmHWM); 0 when unknown
	heapPeak uint64        // bytes: the largest heap a GC started at
	heapGoal uint64        // bytes: the largest heap goal the GC set
	gcs      int
	smServer map[string]int
	threads  int
}

// gcLine is the heap part of a gctrace line: "4->4->1 MB, 5 MB goal".
var gcLine = regexp.MustCompile(`(?m)^gc \d+ .* (\d+)->(\d+)->(\d+) MB, (\d+) MB goal`)

// runChild runs one pass with `refresher run`, the deployed function's code
// and wiring in a process of its own, so that its memory is the function's
// alone, without the fakes this process runs. The peak heap is read from
// the runtime's GC trace (GODEBUG=gctrace=1).
func (w *world) runChild(concurrency int) childPass {
	w.tb.Helper()
	smBefore := w.sm.CallCounts()
	thBefore := w.th.TotalCalls()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, refresherBinary(w.tb), "run")
	cmd.Env = append(w.googleEnv(concurrency), "GODEBUG=gctrace=1", "LOG_LEVEL=info")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	childAttr(cmd)

	start := time.Now()
	if err := cmd.Start(); err != nil {
		w.tb.Fatalf("starting refresher run: %v", err)
	}
	// The kernel's high-water mark only rises; reading it every
	// millisecond until the process ends misses at most the last
	// millisecond's growth.
	peak := make(chan uint64)
	done := make(chan struct{})
	go func() {
		var p uint64
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			p = max(p, childPeakRSS(cmd.Process.Pid))
			select {
			case <-t.C:
			case <-done:
				peak <- p
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	c := childPass{wall: time.Since(start), threads: w.th.TotalCalls() - thBefore, maxRSS: <-peak}
	if err != nil {
		w.tb.Fatalf("refresher run: %v\n%s", err, lastLines(stderr.String(), 5))
	}
	if err := json.Unmarshal(stdout.Bytes(), &c.report); err != nil {
		w.tb.Fatalf("refresher run printed no report: %v\n%s", err, stdout.String())
	}
	c.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	for _, m := range gcLine.FindAllStringSubmatch(stderr.String(), -1) {
		c.gcs++
		start, _ := strconv.ParseUint(m[1], 10, 64)
		goal, _ := strconv.ParseUint(m[4], 10, 64)
		c.heapPeak = max(c.heapPeak, start*mib)
		c.heapGoal = max(c.heapGoal, goal*mib)
	}
	if c.gcs == 0 {
		// No collection ran: the heap never reached the first goal.
		c.heapGoal = 4 * mib
	}
	c.smServer = w.sm.CallCounts()
	for m, n := range smBefore {
		c.smServer[m] -= n
	}
	return c
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
