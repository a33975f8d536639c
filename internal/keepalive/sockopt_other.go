//go:build !linux && !darwin && !windows

package keepalive

import (
	"time"

	"github.com/kalab-dev/kalab/internal/unsupported"
)

func setOptions(fd uintptr, s Settings) error { return unsupported.Error("keepalive options") }

func getOptions(fd uintptr) (Effective, error) {
	return Effective{}, unsupported.Error("keepalive options")
}

func setUserTimeout(fd uintptr, d time.Duration) error {
	return unsupported.Error("user timeout")
}
