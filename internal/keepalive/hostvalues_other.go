//go:build !linux && !darwin && !windows

package keepalive

import "github.com/kalab-dev/kalab/internal/unsupported"

// localRetransmitLimits: kalab reads retransmission values only on Linux,
// Windows and macOS.
func localRetransmitLimits() (RetransmitLimits, error) {
	return RetransmitLimits{}, unsupported.Error("read retransmission limits")
}
