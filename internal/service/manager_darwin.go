package service

import (
	"fmt"
	"os/exec"

	ks "github.com/kardianos/service"
)

// detectManager: launchd is always PID 1 on macOS; kardianos/service drives
// it through launchctl, so that tool must be on PATH.
func detectManager() error {
	if _, err := exec.LookPath("launchctl"); err != nil {
		return fmt.Errorf("launchctl, launchd's control tool, is not on PATH (%v)", err)
	}
	if p := ks.Platform(); p != "darwin-launchd" {
		return fmt.Errorf("kardianos/service chose %q instead of launchd", p)
	}
	return nil
}
