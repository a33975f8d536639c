//go:build !linux && !darwin && !windows

package role

import (
	"os/exec"
	"syscall"
)

// childAttr: no process control on this OS; the child ends with its TTL.
func childAttr() *syscall.SysProcAttr { return nil }

func adoptChild(*exec.Cmd) error { return nil }
