package jvmemu

import (
	"os/exec"
	"syscall"
)

// sysProcAttr puts the emulator in its own process group, so that stopping
// it reaches every process it started, and has the kernel kill it if the
// test binary dies without stopping it (a panic, a timeout, a SIGKILL).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killGroup(cmd *exec.Cmd, sig syscall.Signal) {
	// The group's ID is the leader's PID; errors mean it is already gone.
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}
