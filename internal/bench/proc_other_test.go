//go:build !linux

package bench

import "os/exec"

// Peak-RSS figures come from /proc and getrusage as Linux reports them;
// elsewhere they are not measured.

func resetPeakRSS() bool      { return false }
func peakRSS() uint64         { return 0 }
func currentRSS() uint64      { return 0 }
func childPeakRSS(int) uint64 { return 0 }
func childAttr(*exec.Cmd)     {}
