package doctor

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// privileges: pf (drop) needs root; unprivileged ICMP works on macOS.
func privileges() Check {
	if uid := os.Geteuid(); uid != 0 {
		return Check{Name: "privileges", State: Warn,
			Detail: fmt.Sprintf("not root (euid %d): drop faults need root for pfctl (/dev/pf)", uid),
			Fix:    "run the agent as root: sudo agent run …, or install it as a launchd daemon (sudo agent service install)"}
	}
	return Check{Name: "privileges", State: OK, Detail: "root (euid 0)"}
}

// clockSync: macOS exposes no kernel sync flag to Go without cgo
// (ntp_adjtime is not in x/sys/unix for darwin), so only a hint.
func clockSync() Check {
	return Check{Name: "clock", State: Info,
		Detail: "not inspected on macOS; the coordinator estimates each agent's clock offset, but a clock stepped during a run shifts the fault instant",
		Fix:    "check: sudo systemsetup -getusingnetworktime (should be On); sntp time.apple.com shows the offset"}
}

func icmpNote() string { return "" }

func isAddrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }
