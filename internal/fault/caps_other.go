//go:build !linux

package fault

import "runtime"

// osCapabilities: drops and pauses on Windows (WFP, NtSuspendProcess) and
// macOS (pf, SIGSTOP) are not wired up on this OS yet.
func osCapabilities() []Capability {
	no := "not supported on " + runtime.GOOS + " yet"
	return []Capability{
		{Kind: CapDrop, Why: no}, {Kind: CapDropHost, Why: no}, {Kind: CapPause, Why: no},
		{Kind: CapKill, OK: true, Why: "terminate the client child"},
	}
}
