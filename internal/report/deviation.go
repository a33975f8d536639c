package report

import (
	"cmp"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// Verdicts of a run against the model window.
const (
	VsInside = "inside" // inside the window
	// VsWithinResolution: outside the window, but by no more than
	// results.Judge accepts (the rule that gave the run its outcome): up
	// to two kernel ticks early from T0 (T0 is read in whole ticks),
	// results.LateTolerance late (the timer wheel's slack), the clock
	// bound either way after the fault. The data cannot tell it from
	// inside, and the run passed.
	VsWithinResolution = "within-resolution"
	// VsEarly and VsLate: outside the window by more than results.Judge
	// accepts; the run is a deviation.
	VsEarly = "early"
	VsLate  = "late"
)

// Anchors a deviation is measured on.
const (
	AnchorFromT0     = "from_t0"
	AnchorAfterFault = "after_fault"
)

// Deviation is how far a detected run lies outside its model window, on the
// tightest anchor it has: from T0 (server-local, no clock skew) where the OS
// exposes the last peer activity (for a heartbeat, the last answer the
// application read), else after the fault (mapped across clocks).
type Deviation struct {
	// Anchor is the anchor compared ("from T0" or "after fault"); Window
	// the model's window for it.
	Anchor string           `json:"anchor"`
	Window keepalive.Window `json:"window"`
	// By is measured − window max when late, measured − window min when
	// early, 0 inside.
	By time.Duration `json:"by_ns"`
	// Resolution is what the anchor can resolve: one kernel tick for T0
	// (TCP_INFO ages are in jiffies), the clock-mapping bound for the fault.
	Resolution time.Duration `json:"resolution_ns"`
	// Verdict is one of the Vs* constants, decided by results.Judge's
	// tolerance so that it agrees with the run's outcome.
	Verdict string `json:"verdict"`
}

// deviation compares a run with the model. Only runs that expect a
// detection by their mechanism and ended with one are compared: a kill, a
// pause or an EOF says nothing about the model. An unacked run (the
// retransmission model, from the write) is compared after the fault; a
// heartbeat run from the last answer it read.
func deviation(res results.Result) *Deviation {
	if res.Expect != results.ExpectDetected || !res.Detected || res.Model == nil {
		return nil
	}
	unacked := res.Scenario == keepalive.ScenarioUnacked // the model runs from the write: no T0 window
	switch {
	case res.Scenario == keepalive.ScenarioHeartbeat:
		if res.ErrnoName != results.HeartbeatTimeout {
			return nil
		}
	case unacked:
		if !results.IsRetransmitDetection(res.ErrnoName) {
			return nil
		}
	case !results.IsKeepaliveDetection(res.ErrnoName):
		return nil
	}
	hz := cmp.Or(res.Model.HZ, res.Server.HZ)
	var d Deviation
	var got time.Duration
	switch m := res.Measured; {
	case m.FromT0 != nil && !unacked:
		d.Anchor, d.Window, got = AnchorFromT0, res.Model.FromT0, *m.FromT0
		d.Resolution = jiffy(hz)
	case m.AfterFault != nil:
		d.Anchor, d.Window, got = AnchorAfterFault, res.Model.AfterFault, *m.AfterFault
		d.Resolution = res.Anchors.FaultBound
	default:
		return nil
	}
	switch {
	case got > d.Window.Max:
		d.By = got - d.Window.Max
	case got < d.Window.Min:
		d.By = got - d.Window.Min
	}
	switch {
	case d.By == 0:
		d.Verdict = VsInside
	case judgedInWindow(res, hz):
		d.Verdict = VsWithinResolution
	case d.By > 0:
		d.Verdict = VsLate
	default:
		d.Verdict = VsEarly
	}
	return &d
}

// judgedInWindow asks results.Judge, the rule that gave the run its
// outcome, whether it accepts the detection's time: the report keeps no
// tolerance of its own. Only the window decides here, so the copy judged
// counts as shown to bite (a detection with the mechanism's own error is
// that proof; whether the drop rules counted packets is the outcome's
// business, not the window's).
func judgedInWindow(res results.Result, hz int) bool {
	res.FaultCounted = false
	if res.Probes == nil || *res.Probes == 0 {
		one := 1
		res.Probes = &one
	}
	outcome, _ := results.Judge(res, hz)
	return outcome == results.OutcomePass
}

// jiffy is one kernel tick; 10 ms (HZ=100, the coarsest common) when the
// tick rate is unknown.
func jiffy(hz int) time.Duration {
	if hz <= 0 {
		return 10 * time.Millisecond
	}
	return time.Second / time.Duration(hz)
}

// VsModel summarises a group's deviations.
type VsModel struct {
	// Compared runs had an anchor and a model; of them, Inside lay in the
	// window, WithinResolution outside it by no more than results.Judge
	// accepts (VsWithinResolution), and Early and Late beyond that.
	Compared         int `json:"compared"`
	Inside           int `json:"inside"`
	WithinResolution int `json:"within_resolution"`
	Early            int `json:"early"`
	Late             int `json:"late"`
	// Worst is the run farthest outside the window (ties: the first).
	WorstRun string        `json:"worst_run,omitempty"`
	WorstBy  time.Duration `json:"worst_by_ns"`
}

// Outside counts runs the data shows outside the window.
func (v *VsModel) Outside() int { return v.Early + v.Late }

func vsModel(rs []results.Result) *VsModel {
	var v VsModel
	for _, res := range rs {
		d := deviation(res)
		if d == nil {
			continue
		}
		v.Compared++
		switch d.Verdict {
		case VsInside:
			v.Inside++
		case VsWithinResolution:
			v.WithinResolution++
		case VsEarly:
			v.Early++
		case VsLate:
			v.Late++
		}
		if abs(d.By) > abs(v.WorstBy) {
			v.WorstRun, v.WorstBy = res.Run, d.By
		}
	}
	if v.Compared == 0 {
		return nil
	}
	return &v
}

func abs(d time.Duration) time.Duration { return max(d, -d) }
