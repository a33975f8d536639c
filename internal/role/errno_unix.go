//go:build linux || darwin

package role

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

func errnoOf(err error) (int, string) {
	var e syscall.Errno
	if !errors.As(err, &e) {
		return 0, ""
	}
	return int(e), unix.ErrnoName(e)
}
