package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: what is written to tty is read
// from ptmx.
func openPTY(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking the pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("naming the pty: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening the pty: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return ptmx, tty
}

// TestStatusColoursOnTerminal: on a terminal the status is coloured, unless
// NO_COLOR is set.
func TestStatusColoursOnTerminal(t *testing.T) {
	t.Parallel()
	w := newWorld(t, local)
	w.seed("main", time.Hour)
	if r := w.run("run"); r.code != 0 {
		t.Fatal(r)
	}
	for _, tt := range []struct {
		noColor string
		want    bool
	}{{unset, true}, {"1", false}} {
		ptmx, tty := openPTY(t)
		read := make(chan string, 1)
		go func() {
			var b bytes.Buffer
			io.Copy(&b, ptmx) // ends with EIO once the tty side is closed
			read <- b.String()
		}()
		r := w.runCall(call{stdout: tty, env: map[string]string{"NO_COLOR": tt.noColor}}, "status")
		tty.Close()
		out := <-read
		w.record("refresher status on a terminal", out)
		if r.code != 0 {
			t.Fatalf("status on a terminal: %v", r)
		}
		if got := strings.Contains(out, "\x1b[32mok\x1b[0m"); got != tt.want {
			t.Errorf("NO_COLOR=%q: coloured %v, want %v:\n%q", tt.noColor, got, tt.want, out)
		}
	}
}
