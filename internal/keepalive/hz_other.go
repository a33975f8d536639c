//go:build !linux

package keepalive

import (
	"fmt"
	"runtime"
)

// DetectHZ is Linux-only: other kernels' keepalive timers are not modelled
// on a jiffy wheel.
func DetectHZ() (int, string, error) {
	return 0, "", fmt.Errorf("detect kernel HZ: %w", unsupported(runtime.GOOS))
}
