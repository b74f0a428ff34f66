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
func peakRSS() uint64 { return statusField("VmHWM:") }

// currentRSS is VmRSS, the resident set size now, in bytes.
func currentRSS() uint64 { return statusField("VmRSS:") }

func statusField(name string) uint64 {
	data, err := os.ReadFile("/proc/self/status")
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

// childMaxRSS is the peak RSS of an exited child, in bytes.
func childMaxRSS(ps *os.ProcessState) (uint64, bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru.Maxrss <= 0 {
		return 0, false
	}
	return uint64(ru.Maxrss) << 10, true // kilobytes on Linux
}

// childAttr has the kernel kill a child if the benchmark dies first.
func childAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
