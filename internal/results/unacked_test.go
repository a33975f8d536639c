package results

import (
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// TestJudgeUnacked: an unacked run is judged after the fault against the
// retransmission model's window, whatever T0 says; ETIMEDOUT (and
// Windows' WSAECONNABORTED) count, an EOF does not; the drop counters
// confirm the fault.
func TestJudgeUnacked(t *testing.T) {
	model := keepalive.Prediction{AfterFault: keepalive.Window{Min: 5420 * time.Millisecond, Max: 5680 * time.Millisecond}}
	d := func(v time.Duration) *time.Duration { return &v }
	run := func(after time.Duration, mutate func(*Result)) Result {
		r := Result{Expect: ExpectDetected, FaultKind: KindDrop, FaultCounted: true, FaultInPackets: 6, Detected: true,
			ErrnoName: "ETIMEDOUT", Model: &model, Scenario: keepalive.ScenarioUnacked, UserTimeout: 5 * time.Second,
			Measured: Measured{AfterFault: d(after), FromT0: d(after + 500*time.Millisecond)}, Client: Host{OS: "linux"}}
		if mutate != nil {
			mutate(&r)
		}
		return r
	}
	tests := []struct {
		name    string
		r       Result
		outcome string
		why     string
	}{
		{"inside", run(5622*time.Millisecond, nil), OutcomePass, "retransmission model 5.42s..5.68s"},
		{"late within an eighth", run(6200*time.Millisecond, nil), OutcomePass, ""},
		{"at the keepalive time", run(11*time.Second, nil), OutcomeDeviation, "outside the retransmission model"},
		{"early", run(5*time.Second, nil), OutcomeDeviation, "outside the retransmission model"},
		{"windows abort", run(5622*time.Millisecond, func(r *Result) { r.ErrnoName = "WSAECONNABORTED" }), OutcomePass, ""},
		{"peer closed", run(5622*time.Millisecond, func(r *Result) { r.ErrnoName = "EOF" }), OutcomeDeviation, "not a retransmission timeout"},
		{"drop counted nothing", run(5622*time.Millisecond, func(r *Result) { r.FaultInPackets = 0 }), OutcomeUnconfirmed, "counted no packet"},
		{"no fault anchor", run(0, func(r *Result) { r.Measured.AfterFault = nil }), OutcomeDeviation, "no fault anchor"},
	}
	for _, tt := range tests {
		got, why := Judge(tt.r, 250)
		if got != tt.outcome || !strings.Contains(why, tt.why) {
			t.Errorf("%s: %s (%s), want %s containing %q", tt.name, got, why, tt.outcome, tt.why)
		}
	}
}
