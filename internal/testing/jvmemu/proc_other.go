//go:build !unix

package jvmemu

import (
	"os/exec"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

// killGroup can only kill the emulator itself here: there are no process
// groups to signal.
func killGroup(cmd *exec.Cmd, _ syscall.Signal) {
	_ = cmd.Process.Kill()
}
