package fault

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// Windows has no SIGSTOP: the undocumented but stable ntdll
// NtSuspendProcess/NtResumeProcess suspend every thread of a process (what
// Process Explorer and gopsutil use; x/sys has no wrapper). Suspends nest,
// so Pause resumes exactly once per suspend (Active heals once).
var (
	ntdll            = windows.NewLazySystemDLL("ntdll.dll")
	procNtSuspend    = ntdll.NewProc("NtSuspendProcess")
	procNtResume     = ntdll.NewProc("NtResumeProcess")
	processSuspendRW = uint32(0x0800) // PROCESS_SUSPEND_RESUME
)

func ntCall(p *os.Process, proc *windows.LazyProc) error {
	h, err := windows.OpenProcess(processSuspendRW, false, uint32(p.Pid))
	if err != nil {
		return fmt.Errorf("open process %d: %w", p.Pid, err)
	}
	defer windows.CloseHandle(h)
	if err := proc.Find(); err != nil {
		return err
	}
	if st, _, _ := proc.Call(uintptr(h)); st != 0 {
		return fmt.Errorf("%s: NTSTATUS 0x%08x", proc.Name, st)
	}
	return nil
}

func suspend(p *os.Process) error { return ntCall(p, procNtSuspend) }
func resume(p *os.Process) error  { return ntCall(p, procNtResume) }

// ResumePID resumes a suspended process by pid: a watchdog or a restarted
// agent healing a pause whose Active died with the agent.
func ResumePID(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	defer p.Release()
	return resume(p)
}
