//go:build !linux && !windows && !darwin

package fault

import (
	"fmt"
	"runtime"
)

func unsupported(what string) error {
	return fmt.Errorf("%s: %w on %s", what, ErrUnsupported, runtime.GOOS)
}

// Drop is not implemented on this OS yet.
func Drop(spec DropSpec) (*Active, error) { return nil, unsupported("drop") }

// DropCounters is not implemented on this OS yet.
func DropCounters(run string, netNS int) (Counters, error) {
	return Counters{}, unsupported("drop counters")
}

// Sweep has nothing of kalab's to remove on this OS yet.
func Sweep(netNS int) error { return nil }

// DropHost is not implemented on this OS yet.
func DropHost(spec HostDropSpec) (*Active, error) { return nil, unsupported("host drop") }
