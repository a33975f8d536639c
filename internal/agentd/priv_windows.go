package agentd

import "golang.org/x/sys/windows"

// privileged: an elevated token (WFP needs Administrator);
// GetCurrentProcessToken is a pseudo-handle, nothing to close.
func privileged() bool { return windows.GetCurrentProcessToken().IsElevated() }

var isPrivileged = privileged
