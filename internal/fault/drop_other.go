//go:build !linux && !windows && !darwin

package fault

import "github.com/kalab-dev/kalab/internal/unsupported"

// installFlowDrop: kalab has no drop mechanism for this OS.
func installFlowDrop(DropSpec) (func() error, error) { return nil, unsupported.Error("drop") }

// DropCounters: kalab has no drop mechanism for this OS.
func DropCounters(run string, netNS int) (Counters, error) {
	return Counters{}, unsupported.Error("drop counters")
}

// Sweep has nothing of kalab's to remove on this OS.
func Sweep(netNS int) error { return nil }

// installHostDrop: kalab has no drop mechanism for this OS.
func installHostDrop(HostDropSpec) (func() error, error) { return nil, unsupported.Error("host drop") }
