//go:build unix && !linux

package jvmemu

import (
	"os/exec"
	"syscall"
)

// sysProcAttr puts the emulator in its own process group, so that stopping
// it reaches every process it started.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

func killGroup(cmd *exec.Cmd, sig syscall.Signal) {
	// The group's ID is the leader's PID; errors mean it is already gone.
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}
