//go:build !windows

package session

import "syscall"

// detached makes the lab keeper a session of its own: it outlives the
// command that started it and the terminal.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// terminate asks a lab keeper to tear its lab down.
func terminate(pid int) error { return syscall.Kill(pid, syscall.SIGTERM) }

// running says whether process pid still exists.
func running(pid int) bool { return syscall.Kill(pid, 0) == nil }
