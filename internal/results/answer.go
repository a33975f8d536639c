package results

import (
	"fmt"
	"time"
)

// Answer is the run's answer in one line for people: what the server
// noticed and when, against the model, then the verdict — e.g.
// "detected 3.60 s after the fault (model 3.07 s – 4.10 s): pass", or for
// a fault healed in time "survived a 2.00 s outage: echo 1 ms after the
// heal: pass".
func (r Result) Answer() string {
	var what string
	switch {
	case r.Outcome == OutcomeFailed || r.Outcome == OutcomeInterrupted:
		return r.Outcome + ": " + r.Failure
	case r.Outcome == OutcomeSkipped:
		return r.Outcome + ": " + r.Why
	case r.Target != nil && r.Target.Bracket != nil:
		b := r.Target.Bracket
		what = fmt.Sprintf("detected between %s and %s after the fault (bisection, %d trials)", Seconds(b.Min), Seconds(b.Max), r.Target.Trials)
		if r.Model != nil {
			what += " (model " + WindowSeconds(r.Model.FromT0.Min, r.Model.FromT0.Max) + ")"
		}
	case r.Expect == ExpectSurvives && !r.Detected:
		what = "not detected during a " + Seconds(r.Outage()) + " outage, no echo after the heal"
		if r.Survived && r.EchoRTT != nil {
			what = "survived a " + Seconds(r.Outage()) + " outage: echo " + RTT(*r.EchoRTT) + " after the heal"
		}
	case r.Detected && r.Measured.AfterFault != nil:
		what = "detected " + Seconds(*r.Measured.AfterFault) + " after the fault"
		if r.Model != nil && r.Expect == ExpectDetected {
			what += " (model " + WindowSeconds(r.Model.AfterFault.Min, r.Model.AfterFault.Max) + ")"
		}
	case r.Detected:
		what = "detected"
	case r.Anchors.Fault != nil && r.Anchors.Healed != nil:
		what = "not detected while silenced for " + Seconds(r.Anchors.Healed.Sub(*r.Anchors.Fault))
	default:
		what = "not detected"
	}
	if r.Detected && r.ErrnoName != "" {
		what += ", " + r.ErrnoName
	}
	if r.Outcome == OutcomePass {
		return what + ": pass"
	}
	return fmt.Sprintf("%s: %s (%s)", what, r.Outcome, r.Why)
}

// Outage is how long the client was silenced: heal − fault when both
// anchors exist, otherwise the configured Hold.
func (r Result) Outage() time.Duration {
	if r.Anchors.Fault != nil && r.Anchors.Healed != nil {
		return r.Anchors.Healed.Sub(*r.Anchors.Fault)
	}
	return r.Hold
}

// Seconds writes a duration for people: "3.60 s", "31.2 s", "12 ms".
func Seconds(d time.Duration) string {
	switch {
	case d.Round(time.Millisecond) == 0:
		return "0 ms"
	case d < 0:
		return "−" + Seconds(-d)
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
	case d < 100*time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.0f s", d.Seconds())
}

// RTT writes a round trip for people: like Seconds, but a sub-millisecond
// one keeps two decimals ("0.21 ms") instead of rounding to "0 ms".
func RTT(d time.Duration) string {
	if d > 0 && d < time.Millisecond {
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	return Seconds(d)
}

// WindowSeconds writes a model window: "4.10 s" or "3.07 s – 4.10 s".
func WindowSeconds(lo, hi time.Duration) string {
	if lo == hi {
		return Seconds(lo)
	}
	return Seconds(lo) + " – " + Seconds(hi)
}
