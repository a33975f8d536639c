package results

import (
	"fmt"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// How a target's side of the connection ended, as the agent on its host
// read it from the socket table (Target.Ended).
const (
	// EndedKeepalive: the socket left the table after unanswered keepalive
	// probes (Linux then sends a RST): the service's keepalive detected the
	// silent client.
	EndedKeepalive = "keepalive-timeout"
	// EndedRetransmit: it ended with data unacknowledged: the
	// retransmission timer gave up.
	EndedRetransmit = "retransmit-timeout"
	// EndedByTarget: the service closed it (FIN from the application),
	// e.g. after reading the killed client's FIN, or its own idle timeout.
	EndedByTarget = "closed-by-target"
	// EndedReset: the peer reset it.
	EndedReset = "reset-by-peer"
	// EndedByPeer: the peer closed it (CLOSE_WAIT, LAST_ACK): a killed
	// client's kernel sent FIN and the service had not closed its side yet.
	EndedByPeer = "closed-by-peer"
	// EndedGone: it vanished and the table does not say why.
	EndedGone = "gone"
)

// Methods of measuring a target (Target.Method).
const (
	// MethodObserved: the agent on the target's host watched the socket.
	MethodObserved = "observed"
	// MethodBisection: no agent there; the client bracketed the detection
	// time by surviving or not outages of chosen lengths.
	MethodBisection = "bisection"
)

// Target describes the real service a run measured (an experiment's
// [target]) and how its side of the connection ended.
type Target struct {
	// Agent is the node name of the agent on the service's host.
	Agent string `json:"agent"`
	// Port is the service's port.
	Port int `json:"port"`
	// Process is the owner of the service's socket as its host names it
	// (/proc/PID/comm on Linux), or the experiment's process when the owner
	// could not be read; PID is its process id (0 unknown).
	Process string `json:"process,omitempty"`
	PID     int    `json:"pid,omitempty"`
	// Product and Version name the service when kalab started it (the
	// lab's Debian package: "redis-server 7.0.15"); empty on real hosts.
	Product string `json:"product,omitempty"`
	Version string `json:"version,omitempty"`
	// ConfigLines are the service's configuration lines that set keepalive
	// (lab services), e.g. "tcp-keepalive 3"; none: its defaults.
	ConfigLines []string `json:"config_lines,omitempty"`
	// EffectiveFrom says where Result.Effective came from: "socket" (read
	// from the service's own socket) or "unknown: why".
	EffectiveFrom string `json:"effective_from,omitempty"`
	// Ended is how the service's side ended: one of the Ended* names, empty
	// while it lived.
	Ended string `json:"ended,omitempty"`
	// Timer is the socket's timer at the last sample (keepalive,
	// retransmit, probe0, none), as the socket table reports it.
	Timer string `json:"timer,omitempty"`
	// Method is MethodObserved or MethodBisection.
	Method string `json:"method"`
	// Bracket is, for bisection, the outage lengths between which the
	// service's detection lies (survived below Min, detected above Max).
	Bracket *keepalive.Window `json:"bracket,omitempty"`
	// Trials is how many outages the bisection tried.
	Trials int `json:"trials,omitempty"`
}

// endedByKeepalive reports whether r ended the way a keepalive verdict
// does: the errno of kalab's server, or a target's socket leaving after
// unanswered probes.
func endedByKeepalive(r Result) bool {
	if r.Target != nil {
		return r.Target.Ended == EndedKeepalive
	}
	return IsKeepaliveDetection(r.ErrnoName)
}

// endedByPeerClose reports whether r ended as a killed client's close
// does: EOF or a reset at kalab's server, or the target closing or reset.
func endedByPeerClose(r Result) bool {
	if r.Target != nil {
		switch r.Target.Ended {
		case EndedByTarget, EndedReset, EndedByPeer, EndedGone:
			return true
		}
		return false
	}
	return IsPeerClosed(r.ErrnoName)
}

// endName is how r ended, for verdicts: the errno name, or for a target
// how its socket ended.
func endName(r Result) string {
	if r.Target != nil {
		return r.Target.Ended
	}
	return r.ErrnoName
}

// BisectionSlack is how far a bisection bracket may miss the model's
// window before it counts as a deviation: the outage starts a command's
// trip (tens of ms) after the service's last sign of life, and the heal a
// command's trip after the outage's nominal end.
const BisectionSlack = 100 * time.Millisecond

// judgeBisection: the service's detection time lies in Target.Bracket
// (survived at its low end, detected at its high end), measured from an
// outage that began right after the hello, so it is compared with the
// model's window from T0 (first idle), widened by BisectionSlack early and
// the late tolerance late.
func judgeBisection(r Result) (string, string) {
	b := r.Target.Bracket
	if b == nil {
		return OutcomeDeviation, "the bisection did not bracket the detection"
	}
	if r.Model == nil {
		return OutcomeDeviation, "no model for this OS"
	}
	w := r.Model.FromT0
	bracket := WindowSeconds(b.Min, b.Max)
	if b.Max < w.Min-BisectionSlack || b.Min > w.Max+LateTolerance(*r.Model) {
		return OutcomeDeviation, fmt.Sprintf("detection between %s after the outage began, outside the model %s", bracket, WindowSeconds(w.Min, w.Max))
	}
	return OutcomePass, fmt.Sprintf("detection between %s after the outage began (%d trials), model %s", bracket, r.Target.Trials, WindowSeconds(w.Min, w.Max))
}
