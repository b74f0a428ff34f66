package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/syncbuf"
)

// served is `refresher serve` running in-process.
type served struct {
	addr   string // host:port
	stderr *syncbuf.Buffer
	done   chan int
}

// serveInProcess starts `refresher serve` in-process on a free port, with
// the given server timeouts (nil: serve's own), and waits until it says it
// serves. It is stopped, as by Ctrl-C, when the test ends, and what it
// printed is searched for secrets.
func (w *world) serveInProcess(t *testing.T, timeouts *serverTimeouts, overrides map[string]string) *served {
	t.Helper()
	port := freePort(t)
	vars := w.environ(overrides)
	vars["PORT"] = port
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{addr: "127.0.0.1:" + port, stderr: &syncbuf.Buffer{}, done: make(chan int, 1)}
	go func() {
		s.done <- realMain(ctx, []string{"serve"}, &env{
			stdin: strings.NewReader(""), stdout: io.Discard, stderr: s.stderr,
			lookup:         func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
			serverTimeouts: timeouts,
		})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-s.done; code != 0 {
			t.Errorf("serve exited %d when stopped:\n%s", code, s.stderr.String())
		}
		w.record("refresher serve (in-process)", s.stderr.String())
	})
	for !strings.Contains(s.stderr.String(), "serving RefreshTokens on http://"+s.addr) {
		select {
		case code := <-s.done:
			t.Fatalf("serve exited %d before serving:\n%s", code, s.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return s
}

// closedWithin reads conn until the server closes it, and returns how long
// that took. The wait is bounded only so that a server that never closes
// fails the test instead of hanging it: backstop is far above any timeout
// under test, however busy the machine.
func closedWithin(t *testing.T, conn net.Conn, backstop time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	if err := conn.SetReadDeadline(start.Add(backstop)); err != nil {
		t.Fatal(err)
	}
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %v", backstop)
	}
	return time.Since(start)
}

// TestServeClosesSlowAndIdleConnections: a client that sends its headers
// slowly, or keeps an idle connection, is cut off after serve's timeouts,
// so that slow connections cannot pile up. The timeouts here are short so
// that the test is quick; serve's own are defaultServerTimeouts.
func TestServeClosesSlowAndIdleConnections(t *testing.T) {
	t.Parallel()
	w := newWorld(t, local)
	const timeout = 500 * time.Millisecond
	const backstop = time.Minute
	s := w.serveInProcess(t, &serverTimeouts{readHeader: timeout, idle: timeout}, nil)

	t.Run("slow headers", func(t *testing.T) {
		t.Parallel()
		conn, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// The request line and one header, then nothing: the headers never end.
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"); err != nil {
			t.Fatal(err)
		}
		if took := closedWithin(t, conn, backstop); took < timeout/2 {
			t.Errorf("closed after %v, before the header timeout of %v", took, timeout)
		}
	})

	t.Run("idle keep-alive", func(t *testing.T) {
		t.Parallel()
		conn, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET /robots.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		status, err := br.ReadString('\n')
		if err != nil || !strings.Contains(status, " 404 ") {
			t.Fatalf("GET /robots.txt answered %q, %v; want 404 as the buildpack's main answers", status, err)
		}
		// The rest of the answer, then the idle connection until closed.
		if took := closedWithin(t, &readerConn{Conn: conn, r: br}, backstop); took < timeout/2 {
			t.Errorf("idle connection closed after %v, before the idle timeout of %v", took, timeout)
		}
	})
}

// readerConn reads through r, which has buffered part of Conn.
type readerConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *readerConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// TestServeDefaultTimeouts: serve's own timeouts are set, and none bounds
// a pass, which may take as long as PASS_TIMEOUT allows.
func TestServeDefaultTimeouts(t *testing.T) {
	t.Parallel()
	if d := defaultServerTimeouts; d.readHeader <= 0 || d.readHeader > time.Minute || d.idle <= 0 || d.idle > 10*time.Minute {
		t.Errorf("defaultServerTimeouts = %+v; want both set, the header timeout at most a minute", d)
	}
}

// TestServePortMustBeAPortNumber: PORT is a number from 1 to 65535,
// refused before anything is opened. A service name was taken as one
// ("http" bound port 80 as root), and 0 hung ten seconds before failing.
func TestServePortMustBeAPortNumber(t *testing.T) {
	t.Parallel()
	w := newWorld(t, local)
	for _, port := range []string{"http", "0", "65536", "-1", "80/tcp"} {
		r := w.runCall(call{env: map[string]string{"PORT": port}}, "serve")
		line := wantOneLine(t, "serve with PORT="+port, r.stderr)
		if r.code != 2 || !strings.Contains(line, `PORT is "`+port+`"; it must be a port number from 1 to 65535`) {
			t.Errorf("serve with PORT=%s: %v; want exit 2 naming PORT and the range", port, r)
		}
	}
	assertNotCreated(t, w.db)
}
