package role

import (
	"os/exec"
	"syscall"
)

// childAttr: the client dies with the agent (Pdeathsig), and gets its own
// process group so a signal to it never reaches the agent.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

func adoptChild(*exec.Cmd) error { return nil }
