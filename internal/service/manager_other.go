//go:build !linux && !darwin && !windows

package service

import (
	"fmt"
	"runtime"
)

// detectManager: kalab installs its agent as a service only on Linux
// (systemd), macOS (launchd) and Windows.
func detectManager() error {
	return fmt.Errorf("not supported on %s: kalab installs the agent as a service only on Linux (systemd), macOS (launchd) and Windows", runtime.GOOS)
}
