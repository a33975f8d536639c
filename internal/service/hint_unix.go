//go:build !windows

package service

// elevationHint completes "service install: needs …".
const elevationHint = "root: run it with sudo (the service manager's files and controls are root's)"
