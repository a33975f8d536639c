package keepalive

import (
	"sync"

	"golang.org/x/sys/unix"
)

// localPlatform describes this host: darwin and kern.osproductversion
// (e.g. "15.1"); empty if the sysctl is missing (before macOS 10.13.4).
var localPlatform = sync.OnceValue(func() Platform {
	p := Platform{OS: "darwin"}
	if v, err := unix.Sysctl("kern.osproductversion"); err == nil {
		p.Version = v
	}
	return p
})
