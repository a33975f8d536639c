package results

import (
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

func TestAnswer(t *testing.T) {
	at := time.Unix(100, 0)
	healed := at.Add(6500 * time.Millisecond)
	af := 3602 * time.Millisecond
	kill := 3 * time.Millisecond
	model := &keepalive.Prediction{AfterFault: keepalive.Window{Min: 3072 * time.Millisecond, Max: 4096 * time.Millisecond}}
	tests := []struct {
		name string
		r    Result
		want string
	}{
		{"drop", Result{Outcome: OutcomePass, Expect: ExpectDetected, Detected: true, ErrnoName: "ETIMEDOUT", Model: model,
			Measured: Measured{AfterFault: &af}}, "detected 3.60 s after the fault (model 3.07 s – 4.10 s), ETIMEDOUT: pass"},
		{"pause", Result{Outcome: OutcomePass, Expect: ExpectNotDetected, Anchors: Anchors{Fault: &at, Healed: &healed}},
			"not detected while silenced for 6.50 s: pass"},
		{"kill", Result{Outcome: OutcomePass, Expect: ExpectImmediate, Detected: true, ErrnoName: "EOF", Model: model,
			Measured: Measured{AfterFault: &kill}}, "detected 3 ms after the fault, EOF: pass"},
		{"deviation", Result{Outcome: OutcomeDeviation, Why: "not detected within the window + margin", Expect: ExpectDetected},
			"not detected: deviation (not detected within the window + margin)"},
		{"survived", Result{Outcome: OutcomePass, Expect: ExpectSurvives, Hold: 2 * time.Second, Survived: true, EchoRTT: &kill},
			"survived a 2.00 s outage: echo 3 ms after the heal: pass"},
		{"failed", Result{Outcome: OutcomeFailed, Failure: "prepare server: timeout"}, "failed: prepare server: timeout"},
		{"interrupted", Result{Outcome: OutcomeInterrupted, Failure: "experiment stopped during settle"}, "interrupted: experiment stopped during settle"},
	}
	for _, tt := range tests {
		if got := tt.r.Answer(); got != tt.want {
			t.Errorf("%s: Answer() = %q, want %q", tt.name, got, tt.want)
		}
	}
	for d, want := range map[time.Duration]string{999 * time.Microsecond: "1 ms", 31200 * time.Millisecond: "31.20 s", 7200 * time.Second: "7200 s", -2 * time.Millisecond: "−2 ms", -400 * time.Microsecond: "0 ms"} {
		if got := Seconds(d); got != want {
			t.Errorf("Seconds(%s) = %q, want %q", d, got, want)
		}
	}
	for d, want := range map[time.Duration]string{210 * time.Microsecond: "0.21 ms", 2 * time.Millisecond: "2 ms", 0: "0 ms"} {
		if got := RTT(d); got != want {
			t.Errorf("RTT(%s) = %q, want %q", d, got, want)
		}
	}
}
