//go:build !linux && !windows && !darwin

package observe

import (
	"runtime"

	"github.com/kalab-dev/kalab/internal/unsupported"
)

// openSource: kalab reads other processes' sockets only where it knows the
// OS's socket table (Linux sock_diag, Windows GetExtendedTcpTable, macOS
// netstat); elsewhere it says so rather than guess.
func openSource(cfg Config) (source, error) {
	return nil, unsupported.On("observing another program's connection", runtime.GOOS)
}

// ListenerOwner is not supported on this OS.
func ListenerOwner(port int) (Owner, error) {
	return Owner{}, unsupported.On("finding a listener's owner", runtime.GOOS)
}
