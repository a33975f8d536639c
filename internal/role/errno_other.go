//go:build !linux && !darwin && !windows

package role

import (
	"errors"
	"syscall"
)

func errnoOf(err error) (int, string) {
	var e syscall.Errno
	if !errors.As(err, &e) {
		return 0, ""
	}
	return int(e), e.Error()
}
