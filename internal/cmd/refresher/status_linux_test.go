package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
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
// NO_COLOR is set or the terminal is dumb (TERM=dumb), and the colour takes
// no room: every column starts where its header does, as on a terminal the
// escape codes are not shown.
func TestStatusColoursOnTerminal(t *testing.T) {
	t.Parallel()
	w := newWorld(t, local)
	w.seed("main", time.Hour)
	broken, _ := w.seed("broken", 3*day)
	w.th.Revoke(broken)
	if r := w.run("run"); r.code != 1 {
		t.Fatal(r)
	}
	for _, tt := range []struct {
		noColor, term string
		want          bool
	}{{unset, unset, true}, {unset, "xterm-256color", true}, {"1", unset, false}, {unset, "dumb", false}} {
		ptmx, tty := openPTY(t)
		read := make(chan string, 1)
		go func() {
			var b bytes.Buffer
			io.Copy(&b, ptmx) // ends with EIO once the tty side is closed
			read <- b.String()
		}()
		r := w.runCall(call{stdout: tty, env: map[string]string{"NO_COLOR": tt.noColor, "TERM": tt.term}}, "status")
		tty.Close()
		out := <-read
		w.record("refresher status on a terminal", out)
		if r.code != 0 {
			t.Fatalf("status on a terminal: %v", r)
		}
		name := fmt.Sprintf("NO_COLOR=%q TERM=%q", tt.noColor, tt.term)
		coloured := strings.Contains(out, "\x1b[32mok\x1b[0m") && strings.Contains(out, "\x1b[31mneeds_reauth\x1b[0m")
		if coloured != tt.want || !tt.want && strings.Contains(out, "\x1b[") {
			t.Errorf("%s: coloured %v, want %v:\n%q", name, coloured, tt.want, out)
		}
		checkColumns(t, name, ansi.ReplaceAllString(strings.ReplaceAll(out, "\r\n", "\n"), ""))
	}
}

// ansi matches the escape codes that colour text.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// checkColumns checks that in the table that starts out, as a terminal
// shows it, each row's STATUS and REFRESHED cells start under their
// headers.
func checkColumns(t *testing.T, name, out string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	header := []rune(lines[0])
	rows := 0
	for _, l := range lines[1:] {
		fields := strings.Fields(l)
		if len(fields) < 4 || !strings.HasPrefix(fields[2], "@user_") {
			continue // a note below the table
		}
		rows++
		line := []rune(l)
		for _, col := range []string{"STATUS", "REFRESHED"} {
			at := strings.Index(string(header), col)
			at = len([]rune(string(header)[:at]))
			if at >= len(line) || line[at] == ' ' || line[at-1] != ' ' {
				t.Errorf("%s: in %q, the %s cell does not start under its header:\n%s", name, l, col, out)
			}
		}
	}
	if rows != 2 {
		t.Errorf("%s: %d rows in the table, want 2:\n%s", name, rows, out)
	}
}
