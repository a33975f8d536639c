package keepalive

import (
	"sync"

	"golang.org/x/sys/unix"
)

// localPlatform describes this host: linux and its kernel release.
var localPlatform = sync.OnceValue(func() Platform {
	var u unix.Utsname
	p := Platform{OS: "linux"}
	if err := unix.Uname(&u); err == nil {
		p.Version = unix.ByteSliceToString(u.Release[:])
	}
	return p
})
