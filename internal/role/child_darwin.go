package role

import (
	"os/exec"
	"syscall"
)

// childAttr: its own process group. macOS has no Pdeathsig; the agent
// kills its clients on shutdown and on start sweeps none (children of a
// dead agent are re-parented and exit when their TTL ends).
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func adoptChild(*exec.Cmd) error { return nil }
