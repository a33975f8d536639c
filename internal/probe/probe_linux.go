package probe

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// goInCallerNetNS starts fn on a new goroutine whose OS thread is in the
// network namespace of the thread the caller runs on, so the socket pro-bing
// opens there (ping.go:551) lands where the caller is. fn gets nil, or the
// error of switching namespace (and should then not open anything).
//
// Why: namespaces are per thread, and a new goroutine runs on any thread of
// the process, all of which are in the process's namespace unless locked.
// A caller inside lab.Host.Do is locked into a host namespace; its
// goroutines are not. When the namespaces already match (the agent: whole
// process in one namespace, or an unlocked caller) fn runs unlocked.
// Otherwise the goroutine locks its thread, setns-es it and never unlocks:
// a goroutine that exits locked takes its thread with it
// (runtime.LockOSThread), so the modified thread never runs other code.
func goInCallerNetNS(fn func(err error)) error {
	// The calling goroutine may be unlocked: then its current thread is in
	// the process's namespace like every unlocked thread, which is right.
	caller, err := netns.Get()
	if err != nil {
		return fmt.Errorf("read the caller's network namespace: %w", err)
	}
	go func() {
		defer caller.Close()
		here, err := netns.Get()
		if err == nil {
			same := here.Equal(caller)
			here.Close()
			if same {
				fn(nil)
				return
			}
		}
		runtime.LockOSThread() // never unlocked, see above
		if err := netns.Set(caller); err != nil {
			fn(fmt.Errorf("enter the caller's network namespace %s: %w", caller, err))
			return
		}
		fn(nil)
	}()
	return nil
}
