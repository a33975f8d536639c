//go:build !linux && !darwin

package role

import (
	"os/exec"
	"syscall"
)

// childAttr: Windows puts the child in a kill-on-close job object (the
// Windows issue); until then the child ends with its TTL.
func childAttr() *syscall.SysProcAttr { return nil }

func adoptChild(*exec.Cmd) error { return nil }
