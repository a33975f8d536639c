package results

import (
	"fmt"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// LateTolerance is how late a detection may be against the model before it
// counts as a deviation: each keepalive firing may be late by up to 1/8 of
// its timeout (kernel/time/timer.c header), bounded below by 50 ms.
func LateTolerance(p keepalive.Prediction) time.Duration {
	return max(50*time.Millisecond, p.FromT0.Min/8)
}

// Judge compares a run with its expectation and returns its outcome and
// why. hz is the server's kernel tick rate (0 when unknown), which sets
// how early a detection may seem to be (T0 is read in whole ticks).
func Judge(r Result, hz int) (string, string) {
	m := r.Measured
	switch r.Expect {
	case ExpectNotDetected:
		if r.Detected {
			return OutcomeDeviation, fmt.Sprintf("detected (%s) although the peer's kernel was alive", r.ErrnoName)
		}
		return OutcomePass, "not detected within the window + margin, as expected"
	case ExpectImmediate:
		if !r.Detected {
			return OutcomeDeviation, "the killed client was not noticed"
		}
		if !endedByPeerClose(r) {
			return OutcomeDeviation, fmt.Sprintf("ended with %s, not a close by the peer", endName(r))
		}
		if m.AfterFault != nil && *m.AfterFault > ImmediateBound+r.Anchors.FaultBound {
			return OutcomeDeviation, fmt.Sprintf("noticed %s after the kill, over %s", m.AfterFault.Round(time.Millisecond), ImmediateBound)
		}
		return OutcomePass, "peer closed at once"
	case ExpectSurvives:
		return judgeSurvives(r)
	}
	// detected-in-window
	if r.Target != nil && r.Target.Method == MethodBisection {
		return judgeBisection(r)
	}
	if why, ok := confirmed(r); !ok {
		return OutcomeUnconfirmed, why
	}
	if !r.Detected {
		return OutcomeDeviation, "not detected within the window + margin"
	}
	if r.Scenario == keepalive.ScenarioUnacked {
		return judgeUnacked(r)
	}
	if r.Scenario == keepalive.ScenarioHeartbeat {
		if r.ErrnoName != HeartbeatTimeout {
			return OutcomeDeviation, fmt.Sprintf("ended with %s before the heartbeat's deadline", r.ErrnoName)
		}
	} else if !endedByKeepalive(r) {
		return OutcomeDeviation, fmt.Sprintf("ended with %s, not a keepalive timeout", endName(r))
	}
	if r.Model == nil {
		return OutcomeDeviation, "no model for this OS"
	}
	jiffy := 10 * time.Millisecond
	if hz > 0 {
		jiffy = time.Second / time.Duration(hz)
	}
	if m.FromT0 != nil {
		lo, hi := r.Model.FromT0.Min-2*jiffy, r.Model.FromT0.Max+LateTolerance(*r.Model)
		if *m.FromT0 < lo || *m.FromT0 > hi {
			return OutcomeDeviation, fmt.Sprintf("detection − T0 = %s outside the model %s (tolerance −%s/+%s)",
				m.FromT0.Round(time.Millisecond), r.Model.FromT0, 2*jiffy, LateTolerance(*r.Model))
		}
		return OutcomePass, fmt.Sprintf("detection − T0 = %s, model %s", m.FromT0.Round(time.Millisecond), r.Model.FromT0)
	}
	if m.AfterFault != nil {
		b := r.Anchors.FaultBound
		if *m.AfterFault < r.Model.AfterFault.Min-b || *m.AfterFault > r.Model.AfterFault.Max+LateTolerance(*r.Model)+b {
			return OutcomeDeviation, fmt.Sprintf("detection − fault = %s outside the model %s (±%s clock bound)", m.AfterFault.Round(time.Millisecond), r.Model.AfterFault, b)
		}
	}
	return OutcomePass, "detected inside the model window"
}

// IsRetransmitDetection reports whether an errno name ends a connection
// whose data went unacknowledged (the unacked scenario): a keepalive-class
// timeout (ETIMEDOUT, WSAETIMEDOUT, WSAENETRESET), or on Windows
// WSAECONNABORTED, "possibly due to a data transmission time-out"
// (docs/keepalive-models.md §4.2 [infer]).
func IsRetransmitDetection(errnoName string) bool {
	return IsKeepaliveDetection(errnoName) || errnoName == "WSAECONNABORTED"
}

// judgeUnacked: the server wrote after the fault, so the retransmission
// model's window after the fault (r.Model.AfterFault, the executor shifts
// it by the write's delay after the fault) decides; T0 is not the anchor.
// The late tolerance is an eighth of the earliest detection, at least
// 50 ms, plus the clock bound.
func judgeUnacked(r Result) (string, string) {
	if !IsRetransmitDetection(r.ErrnoName) {
		return OutcomeDeviation, fmt.Sprintf("ended with %s, not a retransmission timeout", r.ErrnoName)
	}
	if r.Model == nil {
		return OutcomeDeviation, "no model for this OS"
	}
	m := r.Measured.AfterFault
	if m == nil {
		return OutcomeDeviation, "no fault anchor to measure the detection from"
	}
	b := r.Anchors.FaultBound
	late := max(50*time.Millisecond, r.Model.AfterFault.Min/8)
	w := keepalive.Window{Min: r.Model.AfterFault.Min.Round(time.Millisecond), Max: r.Model.AfterFault.Max.Round(time.Millisecond)}
	if *m < r.Model.AfterFault.Min-b || *m > r.Model.AfterFault.Max+late+b {
		return OutcomeDeviation, fmt.Sprintf("detection − fault = %s outside the retransmission model %s (+%s late, ±%s clock bound)",
			m.Round(time.Millisecond), w, late, b)
	}
	return OutcomePass, fmt.Sprintf("detection − fault = %s, retransmission model %s", m.Round(time.Millisecond), w)
}

// confirmed says whether a silencing fault was shown to bite: by the drop
// rules' own counters where the OS keeps them (nftables, pf); otherwise
// (WFP, hypervisor hooks) by the server's unanswered keepalive probes
// (Linux TCP_INFO), or by the server's keepalive timeout itself, which is
// the kernel's statement that its probes went unanswered (in the heartbeat
// scenario the heartbeat's timeout, the application's statement). A one-way drop
// has rules in its own direction only, so that direction's count is the
// proof: the client's answers for to-server, the server's probes for
// to-client.
func confirmed(r Result) (string, bool) {
	if r.FaultCounted {
		n, what := r.FaultInPackets+r.FaultOutPackets, "no packet"
		switch r.FaultDirection {
		case DirectionToServer:
			n, what = r.FaultOutPackets, "no packet from the client to the server"
		case DirectionToClient:
			n, what = r.FaultInPackets, "no packet from the server to the client"
		}
		if n == 0 {
			return "the drop rules counted " + what + ": the fault was not shown to bite", false
		}
		return "", true
	}
	if r.Probes != nil && *r.Probes > 0 {
		return "", true
	}
	if r.Detected && endedByKeepalive(r) {
		return "", true // also a retransmission timeout (unacked): the data went unanswered
	}
	if r.Detected && r.ErrnoName == HeartbeatTimeout {
		return "", true // the application's own statement: its heartbeats went unanswered
	}
	if r.FaultKind == KindDrop && r.FaultEvidence == "" && r.Client.OS == "linux" {
		return "the drop rules' counters could not be read", false
	}
	return "no evidence that the fault bit: no rule counters, no unanswered probe seen by the server", false
}

// judgeSurvives: a fault healed before keepalive could give up passes when
// the server detected nothing and the echo after the heal went through on
// the same connection. A drop whose rules counted nothing was not shown to
// bite (unconfirmed).
func judgeSurvives(r Result) (string, string) {
	if r.FaultCounted {
		if why, ok := confirmed(r); !ok {
			return OutcomeUnconfirmed, why
		}
	}
	if r.Detected {
		when := ""
		if r.Measured.AfterFault != nil {
			when = " " + Seconds(*r.Measured.AfterFault) + " after the fault"
		}
		return OutcomeDeviation, fmt.Sprintf("detected (%s)%s although the %s outage was shorter than the model's earliest detection",
			r.ErrnoName, when, Seconds(r.Hold))
	}
	if !r.Survived || r.EchoRTT == nil {
		why := r.EchoErr
		if why == "" {
			why = "no echo was tried"
		}
		return OutcomeDeviation, "the echo after the heal did not go through: " + why
	}
	return OutcomePass, fmt.Sprintf("survived a %s outage: echo round trip %s after the heal", Seconds(r.Hold), RTT(*r.EchoRTT))
}
