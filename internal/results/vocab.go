package results

import (
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// Fault kinds: how the client is silenced. The agent's fault package
// implements each per OS; experiment files, wire requests and results all
// use these names.
const (
	// KindDrop drops the client's packets (scope flow or host).
	KindDrop = "drop"
	// KindPause freezes the client process; its kernel still answers.
	KindPause = "pause"
	// KindVMPause pauses the client's whole VM through the hypervisor hook.
	KindVMPause = "vm-pause"
	// KindKill kills the client process; its kernel closes the connection.
	KindKill = "kill"
)

// CapDropHost is the caps-tag entry of a host-scope drop; every other
// fault needs the entry named like its kind (Capability).
const CapDropHost = "drop-host"

// Capability is the entry an agent's caps tag must list for it to apply a
// fault of kind with scope as the client: the kind, or CapDropHost for a
// host-scope drop.
func Capability(kind, scope string) string {
	if kind == KindDrop && scope == ScopeHost {
		return CapDropHost
	}
	return kind
}

// Kinds lists every fault kind in the order documentation shows them.
var Kinds = []string{KindDrop, KindPause, KindVMPause, KindKill}

// Drop scopes.
const (
	// ScopeFlow drops only the experiment's connection (the default).
	ScopeFlow = "flow"
	// ScopeHost silences the client host toward the server host, ICMP
	// included, except the cluster's gossip port.
	ScopeHost = "host"
)

// Drop directions, named from the experiment's point of view: the client is
// silenced, so a one-way drop loses either what it sends to the server or
// what the server sends it. The agent that applies a drop runs on the
// client's host, where to-server is its outgoing traffic and to-client its
// incoming traffic.
const (
	// DirectionBoth drops the client's packets both ways (the default).
	DirectionBoth = "both"
	// DirectionToServer drops only what the client sends to the server: the
	// client still hears the server's keepalive probes, but its answers
	// never arrive.
	DirectionToServer = "to-server"
	// DirectionToClient drops only what the server sends to the client: the
	// server's probes never reach the client.
	DirectionToClient = "to-client"
)

// Directions lists every drop direction in the order documentation shows
// them.
var Directions = []string{DirectionBoth, DirectionToServer, DirectionToClient}

// DirectionSuffix is how names show a one-way drop: "→server" or
// "→client"; "" for a drop both ways and for an empty direction (results
// written before kalab recorded one, and every fault but drop).
func DirectionSuffix(direction string) string {
	switch direction {
	case DirectionToServer:
		return "→server"
	case DirectionToClient:
		return "→client"
	}
	return ""
}

// Expectation is what a run's fault should lead to.
type Expectation string

const (
	// ExpectDetected: keepalive kills the connection inside the model window.
	ExpectDetected Expectation = "detected-in-window"
	// ExpectNotDetected: the peer's kernel still answers (paused process), so
	// nothing may be detected within the window plus margin.
	ExpectNotDetected Expectation = "not-detected"
	// ExpectImmediate: the peer's kernel closes the connection (kill).
	ExpectImmediate Expectation = "immediate"
	// ExpectSurvives: the fault heals (its hold) before keepalive can give
	// up, so nothing may be detected and, after the heal, the server and
	// the client must exchange an echo on the same connection.
	ExpectSurvives Expectation = "survives"
)

// ImmediateBound is how soon a killed client must be noticed.
const ImmediateBound = time.Second

// Expect returns the expectation for a fault kind in a scenario: a paused
// process goes unnoticed by the kernel's mechanisms (its kernel keeps
// answering) but not by an application heartbeat, which it no longer
// answers.
func Expect(kind string, sc keepalive.Scenario) Expectation {
	switch kind {
	case KindPause:
		if sc == keepalive.ScenarioHeartbeat {
			return ExpectDetected
		}
		return ExpectNotDetected
	case KindKill:
		return ExpectImmediate
	}
	return ExpectDetected
}

// Outcomes of a run.
const (
	// OutcomePass: the run behaved as its expectation says.
	OutcomePass = "pass"
	// OutcomeDeviation: measured, but not as expected (Why says how).
	OutcomeDeviation = "deviation"
	// OutcomeFailed: the run could not be carried out (Failure says why).
	OutcomeFailed = "failed"
	// OutcomeUnconfirmed: the fault could not be shown to bite.
	OutcomeUnconfirmed = "unconfirmed"
	// OutcomeSkipped: the plan did not run it: the model says the run
	// cannot end within max_run on the server's OS (Why says why), e.g.
	// macOS listener mode falling back to the 2 h idle.
	OutcomeSkipped = "skipped"
	// OutcomeInterrupted: the experiment was stopped (Ctrl-C) while the
	// run was in progress; `experiment run --resume` runs it again.
	OutcomeInterrupted = "interrupted"
)

// IsKeepaliveDetection reports whether an errno name is a keepalive
// verdict (the peer did not answer), as opposed to the peer closing.
// Linux/macOS: ETIMEDOUT; Windows: WSAETIMEDOUT or WSAENETRESET (both
// documented for recv after keepalive gives up: docs/keepalive-models.md §3).
func IsKeepaliveDetection(errnoName string) bool {
	switch errnoName {
	case "ETIMEDOUT", "WSAETIMEDOUT", "WSAENETRESET":
		return true
	}
	return false
}

// HeartbeatTimeout is the ErrnoName of a run the application's heartbeat
// ended (the heartbeat scenario): not an OS error number, the server's own
// verdict that misses periods passed without an answer.
const HeartbeatTimeout = "HEARTBEAT_TIMEOUT"

// IsPeerClosed reports a close by the peer's kernel (kill): EOF or a reset.
func IsPeerClosed(errnoName string) bool {
	switch errnoName {
	case "EOF", "ECONNRESET", "WSAECONNRESET":
		return true
	}
	return false
}
