//go:build !linux

package tcpinfo

import (
	"fmt"
	"runtime"
)

// get: macOS has TCP_CONNECTION_INFO and Windows SIO_TCP_INFO, but neither
// is wired up yet; say so rather than guess.
func get(fd uintptr) (Info, error) {
	return Info{}, fmt.Errorf("TCP_INFO: %w on %s", ErrUnsupported, runtime.GOOS)
}
