//go:build !linux && !darwin && !windows

package keepalive

import (
	"runtime"
	"sync"
)

// localPlatform names the OS only; kalab has no keepalive support here.
var localPlatform = sync.OnceValue(func() Platform { return Platform{OS: runtime.GOOS} })
