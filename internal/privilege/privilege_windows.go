package privilege

import "golang.org/x/sys/windows"

// Elevated reports an elevated token (Administrator), which WFP needs.
// GetCurrentProcessToken is a pseudo-handle: nothing to close.
func Elevated() bool { return windows.GetCurrentProcessToken().IsElevated() }
