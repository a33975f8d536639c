package service

import "golang.org/x/sys/windows"

// elevationHint completes "service install: needs …".
const elevationHint = "an elevated token: run it from a terminal opened with \"Run as administrator\" (the service control manager refuses others)"

// elevated: an elevated token; GetCurrentProcessToken is a pseudo-handle,
// nothing to close.
func elevated() bool { return windows.GetCurrentProcessToken().IsElevated() }
