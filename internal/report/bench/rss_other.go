//go:build !linux && !darwin

package bench

import (
	"os"
	"runtime"
)

// maxRSS is not measured here: only Linux and macOS report the child's
// peak resident set through os.ProcessState.SysUsage.
func maxRSS(*os.ProcessState) (int64, string) {
	return 0, "not measured on " + runtime.GOOS
}
