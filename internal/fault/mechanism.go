package fault

// mechanisms name, per OS, what silences the client for each fault kind
// ("kind" or "kind/scope"). Results carry the text (wire.FaultResp.How), so
// a report says what really ran on that host. Each OS's implementation is
// in the file named after the fault and the OS (drop_windows.go,
// signal_unix.go, …); docs/drop-mechanisms.md explains them.
var mechanisms = map[string]map[string]string{
	"linux": {
		"drop/flow": "nftables drop rules (table inet kalab; the set element expires in the kernel at the TTL)",
		"drop/host": "nftables drop of all traffic (table inet kalab; the set element expires in the kernel at the TTL)",
		CapPause:    "SIGSTOP",
		CapKill:     "SIGKILL",
	},
	"windows": {
		"drop/flow": "WFP block filters at the transport layers (dynamic session)",
		"drop/host": "WFP block filters for all traffic (dynamic session)",
		CapPause:    "NtSuspendProcess",
		CapKill:     "TerminateProcess",
	},
	"darwin": {
		"drop/flow": "pf block rules (anchor com.apple/kalab.<run>) with state kill",
		"drop/host": "pf block rules for all traffic (anchor com.apple/kalab.<run>)",
		CapPause:    "SIGSTOP",
		CapKill:     "SIGKILL",
	},
}

// directionMechanisms name, per OS, what a one-way drop keeps of the
// mechanism: the rules of one side only.
var directionMechanisms = map[string]map[Direction]string{
	"linux": {
		DirectionToServer: "output chain only: this host's packets to the peer",
		DirectionToClient: "input chain only: the peer's packets to this host",
	},
	"windows": {
		DirectionToServer: "outbound transport layer only: this host's packets to the peer",
		DirectionToClient: "inbound transport layer only: the peer's packets to this host",
	},
	"darwin": {
		DirectionToServer: "block out only: this host's packets to the peer",
		DirectionToClient: "block in only: the peer's packets to this host",
	},
}

// DirectionMechanism says which side of goos's drop mechanism a drop of
// direction d uses: "both ways" for DirectionBoth (and ""), else the chain,
// layer or rule direction and the packets it drops.
func DirectionMechanism(goos string, d Direction) string {
	if d == "" || d == DirectionBoth {
		return "both ways"
	}
	if m, ok := directionMechanisms[goos][d]; ok {
		return string(d) + ", " + m
	}
	return string(d) + " only"
}

// vmPauseMechanism is the same on every OS: a command from the agent's own
// agent.toml, never from the network.
const vmPauseMechanism = "hypervisor hook from agent.toml"

// Mechanism names what applies fault kind (scope "flow" or "host" for a
// drop) on goos, or says it is not supported there.
func Mechanism(goos, kind, scope string) string {
	if kind == CapVMPause {
		return vmPauseMechanism
	}
	key := kind
	if kind == CapDrop {
		if scope == "" {
			scope = "flow"
		}
		key += "/" + scope
	}
	if m, ok := mechanisms[goos][key]; ok {
		return m
	}
	return key + ": not supported on " + goos
}
