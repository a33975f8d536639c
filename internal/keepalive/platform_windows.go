package keepalive

import (
	"fmt"
	"sync"

	"golang.org/x/sys/windows"
)

// localPlatform describes this host: windows and its build number from
// RtlGetVersion, which ignores manifests (unlike GetVersionEx) and is what
// decides which keepalive options exist (docs/drop-mechanisms.md §3).
var localPlatform = sync.OnceValue(func() Platform {
	v := windows.RtlGetVersion()
	return Platform{
		OS:      "windows",
		Build:   int(v.BuildNumber),
		Version: fmt.Sprintf("%d.%d.%d", v.MajorVersion, v.MinorVersion, v.BuildNumber),
	}
})
