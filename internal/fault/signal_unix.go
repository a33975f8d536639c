//go:build linux || darwin

package fault

import (
	"os"
	"syscall"
)

func suspend(p *os.Process) error { return p.Signal(syscall.SIGSTOP) }
func resume(p *os.Process) error  { return p.Signal(syscall.SIGCONT) }

// ResumePID continues a stopped process by pid: a watchdog or a restarted
// agent healing a pause whose Active died with the agent.
func ResumePID(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return resume(p)
}
