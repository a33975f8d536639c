//go:build !linux && !darwin && !windows

package doctor

import "runtime"

// The agent is built and supported on Linux, macOS and Windows only; on
// other OSes doctor says so instead of guessing.

func privileges() Check {
	return Check{Name: "privileges", State: Info, Detail: "not supported on " + runtime.GOOS}
}

func clockSync() Check {
	return Check{Name: "clock", State: Info, Detail: "not supported on " + runtime.GOOS}
}

func icmpNote() string { return "" }

func isAddrInUse(error) bool { return false }
