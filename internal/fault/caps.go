package fault

// Capability says whether this host can apply a fault kind now, and if not,
// why (missing privilege, missing kernel feature, no hypervisor hook).
type Capability struct {
	Kind string `json:"kind"`
	OK   bool   `json:"ok"`
	Why  string `json:"why,omitempty"`
}

// Fault kinds as the cluster names them ("drop-host" is drop with scope
// host).
const (
	CapDrop     = "drop"
	CapDropHost = "drop-host"
	CapPause    = "pause"
	CapKill     = "kill"
	CapVMPause  = "vm-pause"
)

// Capabilities checks every fault kind on this host. labEmulateVM reports
// vm-pause as available through the lab's emulation (host drop + pause).
func Capabilities(h Hypervisor, labEmulateVM bool) []Capability {
	caps := osCapabilities()
	byKind := map[string]Capability{}
	for _, c := range caps {
		byKind[c.Kind] = c
	}
	vm := Capability{Kind: CapVMPause}
	switch {
	case h.Configured():
		vm.OK, vm.Why = true, "hypervisor hook for VM "+h.VM
	case labEmulateVM && byKind[CapDropHost].OK && byKind[CapPause].OK:
		vm.OK, vm.Why = true, "emulated: host drop + pause of the client (netns lab)"
	default:
		vm.Why = "no [hypervisor] vm/pause/resume in the agent's local config"
	}
	return append(caps, vm)
}
