//go:build linux || darwin

package bench

import (
	"os"
	"runtime"
	"syscall"
)

// maxRSS is the exited child's peak resident set in bytes: getrusage's
// ru_maxrss, in KiB on Linux and in bytes on macOS.
func maxRSS(ps *os.ProcessState) (int64, string) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0, "not measured: no rusage"
	}
	if runtime.GOOS == "darwin" {
		return ru.Maxrss, ""
	}
	return ru.Maxrss * 1024, ""
}
