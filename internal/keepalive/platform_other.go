//go:build !linux && !darwin && !windows

package keepalive

import "runtime"

// LocalPlatform names the OS only; kalab has no keepalive support here.
func LocalPlatform() Platform { return Platform{OS: runtime.GOOS} }
