package agentd

import (
	"syscall"

	"golang.org/x/sys/windows"
)

// detachedAttr starts the watchdog without a console and in its own
// process group, so the agent's console or service stop does not end it.
func detachedAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP | windows.DETACHED_PROCESS}
}
