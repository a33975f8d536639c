package service

import (
	"fmt"
	"os"
	"strings"

	ks "github.com/kardianos/service"
)

// systemdDir exists only while systemd runs as PID 1 (sd_booted(3)). A
// variable so tests can play a host without systemd.
var systemdDir = "/run/systemd/system"

// detectManager: kalab installs the agent only as a systemd unit.
func detectManager() error {
	if fi, err := os.Stat(systemdDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("systemd is not running on this host (%s does not exist; PID 1 is %s), "+
			"as in most containers and CI jobs, and kalab installs the agent only as a systemd unit", systemdDir, pid1())
	}
	// kardianos/service picks its backend at init; with systemd booted it
	// picks systemd, but say so if it ever does not.
	if p := ks.Platform(); p != "linux-systemd" {
		return fmt.Errorf("systemd is running but kardianos/service chose %q; kalab installs the agent only as a systemd unit", p)
	}
	return nil
}

// pid1 names the init process, to make "no systemd" concrete.
func pid1() string {
	b, err := os.ReadFile("/proc/1/comm")
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%q", strings.TrimSpace(string(b)))
}
