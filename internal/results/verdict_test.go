package results

import (
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

func TestJudge(t *testing.T) {
	pred, err := keepalive.Predict(keepalive.Platform{OS: "linux"}, keepalive.Settings{Idle: time.Second, Interval: time.Second, Count: 3}, keepalive.PhaseCycling, keepalive.ModelOptions{HZ: 250})
	if err != nil {
		t.Fatal(err)
	}
	d := func(v time.Duration) *time.Duration { return &v }
	probes := func(n int) *int { return &n }
	drop := func(fromT0 time.Duration, mutate func(*Result)) Result {
		r := Result{Expect: ExpectDetected, FaultKind: KindDrop, FaultCounted: true, FaultInPackets: 3, Detected: true,
			ErrnoName: "ETIMEDOUT", Model: &pred, Measured: Measured{FromT0: d(fromT0)}, Client: Host{OS: "linux"}}
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
		{"exact", drop(4096*time.Millisecond, nil), OutcomePass, "model 4.096s"},
		{"one jiffy early (TCP_INFO resolution)", drop(4092*time.Millisecond, nil), OutcomePass, ""},
		{"too early", drop(3900*time.Millisecond, nil), OutcomeDeviation, "outside the model"},
		{"late within 1/8", drop(4500*time.Millisecond, nil), OutcomePass, ""},
		{"too late", drop(5*time.Second, nil), OutcomeDeviation, "outside the model"},
		{"not a keepalive error", drop(4096*time.Millisecond, func(r *Result) { r.ErrnoName = "ECONNRESET" }), OutcomeDeviation, "not a keepalive timeout"},
		{"windows errno counts", drop(4096*time.Millisecond, func(r *Result) { r.ErrnoName = "WSAENETRESET" }), OutcomePass, ""},
		{"rules counted nothing", drop(4096*time.Millisecond, func(r *Result) { r.FaultInPackets = 0 }), OutcomeUnconfirmed, "counted no packet"},
		{"to-server counted its direction", drop(4096*time.Millisecond, func(r *Result) {
			r.FaultDirection, r.FaultInPackets, r.FaultOutPackets = DirectionToServer, 0, 3
		}), OutcomePass, ""},
		{"to-client counted its direction", drop(4096*time.Millisecond, func(r *Result) { r.FaultDirection = DirectionToClient }), OutcomePass, ""},
		{"to-server counted nothing out", drop(4096*time.Millisecond, func(r *Result) { r.FaultDirection = DirectionToServer }), OutcomeUnconfirmed, "from the client to the server"},
		{"to-client counted nothing in", drop(4096*time.Millisecond, func(r *Result) {
			r.FaultDirection, r.FaultInPackets, r.FaultOutPackets = DirectionToClient, 0, 3
		}), OutcomeUnconfirmed, "from the server to the client"},
		{"both counted one way", drop(4096*time.Millisecond, func(r *Result) { r.FaultDirection = DirectionBoth }), OutcomePass, ""},
		{"no counters, server saw unanswered probes (WFP)", drop(4096*time.Millisecond, func(r *Result) {
			r.FaultCounted, r.FaultInPackets, r.Probes = false, 0, probes(3)
		}), OutcomePass, ""},
		{"no counters, no evidence, no detection", drop(0, func(r *Result) {
			r.FaultCounted, r.FaultInPackets, r.Detected, r.ErrnoName, r.Measured.FromT0, r.Client.OS = false, 0, false, "", nil, "windows"
		}), OutcomeUnconfirmed, "no evidence"},
		{"not detected", drop(0, func(r *Result) { r.Detected, r.Measured.FromT0 = false, nil }), OutcomeDeviation, "not detected"},
		{"pause not detected", Result{Expect: ExpectNotDetected}, OutcomePass, "as expected"},
		{"pause detected", Result{Expect: ExpectNotDetected, Detected: true, ErrnoName: "ETIMEDOUT"}, OutcomeDeviation, "although"},
		{"kill EOF fast", Result{Expect: ExpectImmediate, Detected: true, ErrnoName: "EOF", Measured: Measured{AfterFault: d(3 * time.Millisecond)}}, OutcomePass, ""},
		{"kill slow", Result{Expect: ExpectImmediate, Detected: true, ErrnoName: "EOF", Measured: Measured{AfterFault: d(3 * time.Second)}}, OutcomeDeviation, "over"},
		{"kill timeout", Result{Expect: ExpectImmediate, Detected: true, ErrnoName: "ETIMEDOUT"}, OutcomeDeviation, "not a close"},
		{"survives: echo back", Result{Expect: ExpectSurvives, Hold: 2 * time.Second, Survived: true, EchoRTT: d(time.Millisecond)}, OutcomePass, "survived a 2.00 s outage"},
		{"survives: drop counted, echo back", Result{Expect: ExpectSurvives, FaultKind: KindDrop, FaultCounted: true, FaultInPackets: 2, Hold: 2 * time.Second, Survived: true, EchoRTT: d(time.Millisecond)}, OutcomePass, ""},
		{"survives: drop counted nothing", Result{Expect: ExpectSurvives, FaultKind: KindDrop, FaultCounted: true, Hold: 2 * time.Second, Survived: true, EchoRTT: d(time.Millisecond)}, OutcomeUnconfirmed, "counted no packet"},
		{"survives: detected anyway", Result{Expect: ExpectSurvives, Hold: 2 * time.Second, Detected: true, ErrnoName: "ETIMEDOUT", Measured: Measured{AfterFault: d(2500 * time.Millisecond)}}, OutcomeDeviation, "although the 2.00 s outage"},
		{"survives: echo lost", Result{Expect: ExpectSurvives, Hold: 2 * time.Second, EchoErr: "no echo within 5s"}, OutcomeDeviation, "did not go through: no echo within 5s"},
		{"survives: echo not tried", Result{Expect: ExpectSurvives, Hold: 2 * time.Second}, OutcomeDeviation, "no echo was tried"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outcome, why := Judge(tt.r, 250)
			if outcome != tt.outcome || !strings.Contains(why, tt.why) {
				t.Errorf("judge = %s (%s), want %s (~%q)", outcome, why, tt.outcome, tt.why)
			}
		})
	}
}
