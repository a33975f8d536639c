package doctor

import (
	"errors"

	"github.com/kalab-dev/kalab/internal/privilege"

	"golang.org/x/sys/windows"
)

// privileges: WFP filters (drop) and raw ICMP sockets need an elevated
// token; GetCurrentProcessToken is a pseudo-handle, nothing to close.
func privileges() Check {
	if !privilege.Elevated() {
		return Check{Name: "privileges", State: Warn,
			Detail: "not elevated: drop faults need Administrator for the Windows Filtering Platform, and raw ICMP sockets may be refused",
			Fix:    "run from a terminal opened with \"Run as administrator\", or install the agent as a service (agent service install)"}
	}
	return Check{Name: "privileges", State: OK, Detail: "elevated (Administrator)"}
}

// clockSync: the Windows Time service's state is read with w32tm, which
// kalab does not run; a hint instead.
func clockSync() Check {
	return Check{Name: "clock", State: Info,
		Detail: "not inspected on Windows; the coordinator estimates each agent's clock offset, but a clock stepped during a run shifts the fault instant",
		Fix:    "check: w32tm /query /status (Source should not be \"Local CMOS Clock\"); w32tm /resync to sync now"}
}

func icmpNote() string { return "" }

// isAddrInUse: Winsock's WSAEADDRINUSE, which is not syscall.EADDRINUSE
// on Windows.
func isAddrInUse(err error) bool { return errors.Is(err, windows.WSAEADDRINUSE) }
