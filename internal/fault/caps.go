package fault

import "github.com/kalab-dev/kalab/internal/results"

// Capability says whether this host can apply a fault kind now, and if not,
// why (missing privilege, missing kernel feature, no hypervisor hook).
type Capability struct {
	// Kind is the fault kind checked, one of the Cap* names below.
	Kind string `json:"kind"`
	// OK is true when this host can apply Kind right now; the agent's caps
	// tag lists only the kinds with OK set.
	OK bool `json:"ok"`
	// Why is the mechanism that will be used when OK (e.g. "nftables table
	// inet kalab"), otherwise the reason it cannot be (missing privilege,
	// unsupported OS, mechanism unavailable, no hypervisor hook).
	Why string `json:"why,omitempty"`
}

// Fault kinds as the cluster names them ("drop-host" is drop with scope
// host).
const (
	CapDrop     = results.KindDrop
	CapDropHost = results.CapDropHost
	CapPause    = results.KindPause
	CapKill     = results.KindKill
	CapVMPause  = results.KindVMPause
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

// capFacts are what an OS's probe found out; capabilitiesFor turns them
// into capabilities, so the logic is tested with fake facts on any OS.
type capFacts struct {
	OS         string
	Privileged bool
	// DropErr is why the drop mechanism (nftables, WFP, pf) is unusable;
	// nil means it answered.
	DropErr error
}

// mechanisms per OS, for the reasons shown to users.
var dropMechanism = map[string]string{
	"linux":   "nftables table inet kalab",
	"windows": "Windows Filtering Platform filters in a dynamic session",
	"darwin":  "pf rules in anchor com.apple/kalab.<run>",
}

var needPrivilege = map[string]string{
	"linux":   "needs root (CAP_NET_ADMIN) for nftables",
	"windows": "needs an elevated agent (Administrator) for WFP",
	"darwin":  "needs root for pfctl",
}

var pauseMechanism = map[string]string{
	"linux":   "SIGSTOP/SIGCONT of the client child",
	"darwin":  "SIGSTOP/SIGCONT of the client child",
	"windows": "NtSuspendProcess/NtResumeProcess of the client child",
}

func capabilitiesFor(f capFacts) []Capability {
	drop := Capability{Kind: CapDrop}
	mech, ok := dropMechanism[f.OS]
	switch {
	case !ok:
		drop.Why = "not supported on " + f.OS
	case !f.Privileged:
		drop.Why = needPrivilege[f.OS]
	case f.DropErr != nil:
		drop.Why = "unavailable: " + f.DropErr.Error()
	default:
		drop.OK, drop.Why = true, mech
	}
	host := drop
	host.Kind = CapDropHost
	pause := Capability{Kind: CapPause}
	if m, ok := pauseMechanism[f.OS]; ok {
		pause.OK, pause.Why = true, m
	} else {
		pause.Why = "not supported on " + f.OS
	}
	return []Capability{drop, host, pause, {Kind: CapKill, OK: true, Why: "terminate the client child"}}
}
