package fault

import (
	"fmt"
	"runtime"
)

// Drop silences one flow, both ways or in spec.Direction only, with the
// OS's packet filter (installFlowDrop in drop_<os>.go) and arms the
// deadman. The result says which mechanism did it, and which way
// (Active.How).
func Drop(spec DropSpec) (*Active, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	remove, err := installFlowDrop(spec)
	if err != nil {
		return nil, fmt.Errorf("drop %s: %w", spec.Flow, err)
	}
	a := newActive(CapDrop, spec.Run, spec.TTL, remove)
	a.How = Mechanism(runtime.GOOS, CapDrop, "flow") + ", " + DirectionMechanism(runtime.GOOS, spec.Direction) + ", for " + spec.Flow.String()
	return a, nil
}

// DropHost silences this host toward spec.Peer (everything but the
// cluster's port, ICMP included), both ways or in spec.Direction only, with
// the OS's packet filter (installHostDrop in drop_<os>.go /
// hostdrop_linux.go) and arms the deadman. The cluster's port stays open
// both ways.
func DropHost(spec HostDropSpec) (*Active, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	remove, err := installHostDrop(spec)
	if err != nil {
		return nil, fmt.Errorf("host drop toward %s: %w", spec.Peer, err)
	}
	a := newActive(CapDropHost, spec.Run, spec.TTL, remove)
	a.How = fmt.Sprintf("%s, %s, toward %s except port %d", Mechanism(runtime.GOOS, CapDrop, "host"),
		DirectionMechanism(runtime.GOOS, spec.Direction), spec.Peer, spec.KeepPort)
	return a, nil
}
