package role

import (
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// childAttr: a new process group, so a console Ctrl-C to the agent is not
// delivered to the client as well.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP}
}

// clientJob is a job object with KILL_ON_JOB_CLOSE: when the agent exits,
// crash included, the kernel closes its last handle to the job and kills
// every client in it (the Windows counterpart of Pdeathsig). The handle is
// not inheritable (nil security attributes), so a child cannot keep the job
// alive (Raymond Chen, oldnewthing 20131209).
var clientJob = sync.OnceValues(func() (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, fmt.Errorf("create job object: %w", err)
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{
		BasicLimitInformation: windows.JOBOBJECT_BASIC_LIMIT_INFORMATION{LimitFlags: windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE},
	}
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(job)
		return 0, fmt.Errorf("set KILL_ON_JOB_CLOSE: %w", err)
	}
	return job, nil
})

// adoptChild puts the just-started client into the job. A grandchild the
// client spawned in the instant before this would escape; the client spawns
// none.
func adoptChild(cmd *exec.Cmd) error {
	job, err := clientJob()
	if err != nil {
		return err
	}
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(cmd.Process.Pid))
	if err != nil {
		return fmt.Errorf("open client process: %w", err)
	}
	defer windows.CloseHandle(h)
	if err := windows.AssignProcessToJobObject(job, h); err != nil {
		return fmt.Errorf("assign client to job: %w", err)
	}
	return nil
}
