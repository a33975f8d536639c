//go:build !linux

package probe

// goInCallerNetNS starts fn on a new goroutine. Only Linux has per-thread
// network namespaces (probe_linux.go); elsewhere any goroutine will do.
func goInCallerNetNS(fn func(err error)) error {
	go fn(nil)
	return nil
}
