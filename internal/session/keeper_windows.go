package session

import (
	"errors"
	"syscall"
)

// Lab sessions need Linux network namespaces; these exist so that the
// coordinator builds on Windows, where `session start --lab` fails in
// labrun before any keeper is started.

func detached() *syscall.SysProcAttr { return nil }

func terminate(int) error {
	return errors.New("lab sessions are not supported on windows (the netns lab is Linux only)")
}

func running(int) bool { return false }
