//go:build !windows

package agentd

import "syscall"

// detachedAttr starts the watchdog in its own session: no terminal
// signal and no process-group kill of the agent reaches it.
func detachedAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
