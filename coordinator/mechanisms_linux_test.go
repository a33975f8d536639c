package main

import (
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// TestMechanismsInLab runs configs/mechanisms.toml (keepalive idle,
// unacked with TCP_USER_TIMEOUT 5 s, user-timeout 3 s, heartbeat 200 ms ×
// 3; against a drop both ways, each one-way drop and a pause) and checks
// the acceptance with generous bounds: unacked ends near 5 s after
// the fault, not at the keepalive time; user-timeout near 3 s after the
// last ACK; the heartbeat near 0.6 s after its last answer and it alone
// notices the paused process; each one-way drop is detected and named;
// the report has the mechanism table.
func TestMechanismsInLab(t *testing.T) {
	rs, md := runLabExperiment(t, "../configs/mechanisms.toml")
	seen := map[string]int{}
	for _, r := range rs {
		sc := r.Scenario
		if sc == "" {
			sc = keepalive.ScenarioIdle
		}
		seen[string(sc)+" "+r.FaultKind+results.DirectionSuffix(r.FaultDirection)]++
		if r.Outcome != results.OutcomePass {
			t.Errorf("%s: %s (%s%s)", r.Label(), r.Outcome, r.Why, r.Failure)
		}
		if r.FaultKind == results.KindPause {
			if detected := sc == keepalive.ScenarioHeartbeat; r.Detected != detected {
				t.Errorf("%s: detected = %v, want %v (a paused process answers keepalive, not heartbeats)", r.Label(), r.Detected, detected)
			}
			continue
		}
		switch sc {
		case keepalive.ScenarioIdle:
			within(t, r, "detection − T0", r.Measured.FromT0, 10*time.Second, 12*time.Second)
		case keepalive.ScenarioUnacked:
			within(t, r, "detection − fault", r.Measured.AfterFault, 4*time.Second, 6*time.Second)
			if r.Retransmit == nil || r.RTT == nil {
				t.Errorf("%s: the server's retransmission values or RTT were not reported", r.Label())
			}
		case keepalive.ScenarioUserTimeout:
			within(t, r, "detection − T0", r.Measured.FromT0, 2500*time.Millisecond, 3600*time.Millisecond)
		case keepalive.ScenarioHeartbeat:
			within(t, r, "detection − last answer", r.Measured.FromT0, 550*time.Millisecond, 900*time.Millisecond)
			if r.ErrnoName != results.HeartbeatTimeout {
				t.Errorf("%s: ended with %s", r.Label(), r.ErrnoName)
			}
		}
	}
	for _, sc := range keepalive.Scenarios {
		for _, f := range []string{"drop", "drop→server", "drop→client", "pause"} {
			if seen[string(sc)+" "+f] == 0 {
				t.Errorf("no %s run with %s (runs: %v)", f, sc, seen)
			}
		}
	}
	for _, want := range []string{"## Which mechanism detects first", "heartbeat 200ms×3", "→server", "→client"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
}

// TestBlipsInLab runs configs/blips.toml (1s/1s/3; the model detects 3.07
// – 4.10 s after the fault): a 2 s drop and a 2 s pause are survived (the
// echo after the heal goes through on the same connection), a 6 s drop is
// detected; the report shows the outages.
func TestBlipsInLab(t *testing.T) {
	rs, md := runLabExperiment(t, "../configs/blips.toml")
	for _, r := range rs {
		if r.Outcome != results.OutcomePass {
			t.Errorf("%s: %s (%s%s)", r.Label(), r.Outcome, r.Why, r.Failure)
		}
		survives := r.Hold <= 2*time.Second
		if r.Survived != survives || r.Detected == survives {
			t.Errorf("%s: survived %v detected %v, want survived %v", r.Label(), r.Survived, r.Detected, survives)
		}
		if survives {
			within(t, r, "echo round trip", r.EchoRTT, 0, 2*time.Second)
		} else {
			within(t, r, "detection − fault", r.Measured.AfterFault, 3*time.Second, 4600*time.Millisecond)
		}
	}
	if len(rs) < 3 {
		t.Errorf("%d runs, want at least the three faults", len(rs))
	}
	if !strings.Contains(md, "## Outages survived") {
		t.Error("report.md lacks the outages section")
	}
}
