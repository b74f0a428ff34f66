package bench

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// resetPeakRSS resets the kernel's peak-RSS mark (VmHWM) of this process,
// so that peakRSS covers only what follows.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSS is VmHWM, the peak resident set size, in bytes.
func peakRSS() uint64 { return statusField("self", "VmHWM:") }

// currentRSS is VmRSS, the resident set size now, in bytes.
func currentRSS() uint64 { return statusField("self", "VmRSS:") }

// childPeakRSS is the VmHWM of a running child, in bytes; 0 once it is
// gone. (getrusage's ru_maxrss is no use for a child: execve keeps the
// high-water mark of the process it replaces, which for a child of this
// process is this process's RSS.)
func childPeakRSS(pid int) uint64 { return statusField(strconv.Itoa(pid), "VmHWM:") }

func statusField(pid, name string) uint64 {
	data, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		f := strings.Fields(line[len(name):])
		if len(f) != 2 || f[1] != "kB" {
			return 0
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}

// childAttr has the kernel kill a child if the benchmark dies first.
func childAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
