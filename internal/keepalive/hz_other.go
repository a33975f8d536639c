//go:build !linux

package keepalive

import "github.com/kalab-dev/kalab/internal/unsupported"

// DetectHZ is Linux-only: other kernels' keepalive timers are not modelled
// on a jiffy wheel.
func DetectHZ() (int, string, error) {
	return 0, "", unsupported.Error("detect kernel HZ")
}
