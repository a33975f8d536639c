package keepalive

import (
	"strings"
	"testing"
	"time"
)

// TestPredictScenario: which limit wins per OS and scenario
// (docs/keepalive-models.md §4).
func TestPredictScenario(t *testing.T) {
	ka := func(i, v time.Duration, c int) *Settings { return &Settings{Idle: i, Interval: v, Count: c} }
	for _, tc := range []struct {
		name      string
		goos      string
		in        ScenarioInput
		limit     string
		within    *Window // FromT0 must lie inside
		after     *Window // exact AfterFault
		inferred  bool
		verdict   string // part of the verdict
		keepalive bool   // a keepalive prediction is attached
	}{
		// Acceptance: 1s/1s/10 with TCP_USER_TIMEOUT 3 s dies near 3 s after
		// the last ACK: the first firing ≥ 3 s with a probe out.
		{name: "linux user-timeout 3s over 1s/1s/10, HZ=250", goos: "linux",
			in:    ScenarioInput{Scenario: ScenarioUserTimeout, Settings: ka(sec, sec, 10), Phase: PhaseCycling, HZ: 250, UserTimeout: 3 * sec},
			limit: "TCP_USER_TIMEOUT", within: &Window{Min: 3 * sec, Max: 4500 * ms}, after: &Window{Min: 2048 * ms, Max: 3072 * ms},
			verdict: "earlier than the count would", keepalive: true},
		{name: "linux user-timeout 3s over 1s/1s/10, HZ unknown", goos: "linux",
			in:    ScenarioInput{Scenario: ScenarioUserTimeout, Settings: ka(sec, sec, 10), Phase: PhaseCycling, UserTimeout: 3 * sec},
			limit: "TCP_USER_TIMEOUT", within: &Window{Min: 3 * sec, Max: 4500 * ms}, keepalive: true},
		// A user timeout past idle + count × interval keeps probing (§6.2 b4).
		{name: "linux user-timeout 10s over 3s/1s/3", goos: "linux",
			in:    ScenarioInput{Scenario: ScenarioUserTimeout, Settings: ka(3*sec, sec, 3), Phase: PhaseCycling, HZ: 250, UserTimeout: 10 * sec},
			limit: "TCP_USER_TIMEOUT", within: &Window{Min: 10 * sec, Max: 11 * sec}, verdict: "probing goes on past it", keepalive: true},
		{name: "windows user-timeout: keepalive decides [infer]", goos: "windows",
			in:    ScenarioInput{Scenario: ScenarioUserTimeout, Settings: ka(sec, sec, 10), Phase: PhaseCycling, UserTimeout: 3 * sec},
			limit: "TCP_KEEPCNT", within: &Window{Min: 11 * sec, Max: 11500 * ms}, inferred: true, verdict: "TCP_MAXRT 3s", keepalive: true},
		{name: "macos user-timeout: keepalive decides", goos: "darwin",
			in:    ScenarioInput{Scenario: ScenarioUserTimeout, Settings: ka(sec, sec, 10), Phase: PhaseCycling, UserTimeout: 3 * sec},
			limit: "TCP_KEEPCNT", within: &Window{Min: 11 * sec, Max: 11500 * ms}, verdict: "TCPT_REXMT", keepalive: true},
		{name: "idle", goos: "linux",
			in:    ScenarioInput{Scenario: ScenarioIdle, Settings: ka(sec, sec, 3), Phase: PhaseCycling, HZ: 250},
			limit: "TCP_KEEPCNT", after: &Window{Min: 3072 * ms, Max: 4096 * ms}, keepalive: true},
		{name: "idle windows", goos: "windows",
			in:    ScenarioInput{Scenario: ScenarioIdle, Settings: ka(sec, sec, 10), Phase: PhaseCycling},
			limit: "TCP_KEEPCNT", keepalive: true},
		// Unacked: the write is the anchor; Linux keepalive stands aside.
		{name: "linux unacked with keepalive on", goos: "linux",
			in: ScenarioInput{Scenario: ScenarioUnacked, Settings: ka(sec, sec, 3), Phase: PhaseCycling, RTT: ms, UserTimeout: 5 * sec,
				Limits: limits(t, "linux", nil)},
			limit: "TCP_USER_TIMEOUT", after: &Window{Min: 5402 * ms, Max: 6080250 * time.Microsecond}, verdict: "alive without keepalive"},
		// macOS keepalive does not check for data in flight: 1s/1s/3 ends it
		// long before 12 retransmissions [infer].
		{name: "macos unacked: keepalive first", goos: "darwin",
			in: ScenarioInput{Scenario: ScenarioUnacked, Settings: ka(sec, sec, 3), Phase: PhaseCycling, RTT: ms,
				Limits: limits(t, "darwin", nil)},
			limit: "TCP_KEEPCNT", after: &Window{Min: 3 * sec, Max: 4500 * ms}, inferred: true, verdict: "keepalive wins", keepalive: true},
		{name: "macos unacked without keepalive", goos: "darwin",
			in:    ScenarioInput{Scenario: ScenarioUnacked, Phase: PhaseCycling, RTT: ms, Limits: limits(t, "darwin", nil)},
			limit: "TCP_MAXRXTSHIFT", after: &Window{Min: 17930 * ms, Max: 54200 * ms}},
		{name: "windows unacked [infer]", goos: "windows",
			in:    ScenarioInput{Scenario: ScenarioUnacked, Settings: ka(sec, sec, 3), RTT: ms, Limits: limits(t, "windows", nil)},
			limit: "TcpMaxDataRetransmissions", after: &Window{Min: 18900 * ms, Max: 19400 * ms}, inferred: true, verdict: "not documented"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp, err := PredictScenario(Platform{OS: tc.goos}, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if sp.Limit != tc.limit {
				t.Errorf("Limit = %q, want %q", sp.Limit, tc.limit)
			}
			if tc.within != nil && (sp.FromT0 == nil || sp.FromT0.Min < tc.within.Min || sp.FromT0.Max > tc.within.Max) {
				t.Errorf("FromT0 = %v, want inside %s", sp.FromT0, tc.within)
			}
			if tc.after != nil && sp.AfterFault != *tc.after {
				t.Errorf("AfterFault = %s, want %s", sp.AfterFault, tc.after)
			}
			if sp.Inferred != tc.inferred {
				t.Errorf("Inferred = %v, want %v", sp.Inferred, tc.inferred)
			}
			if !strings.Contains(sp.Verdict, tc.verdict) || sp.Rule == "" {
				t.Errorf("Verdict %q lacks %q (rule %q)", sp.Verdict, tc.verdict, sp.Rule)
			}
			if (sp.Keepalive != nil) != tc.keepalive {
				t.Errorf("Keepalive = %v, want attached %v", sp.Keepalive, tc.keepalive)
			}
			if tc.in.Scenario == ScenarioUnacked && (sp.Retransmit == nil || len(sp.Values) == 0) {
				t.Errorf("unacked without retransmission prediction or values: %+v", sp)
			}
		})
	}
}

func TestPredictScenarioRejects(t *testing.T) {
	s := &Settings{Idle: sec, Interval: sec, Count: 3}
	for name, tc := range map[string]struct {
		goos string
		in   ScenarioInput
		want string
	}{
		"user-timeout without settings": {"linux", ScenarioInput{Scenario: ScenarioUserTimeout, UserTimeout: sec}, "settings are required"},
		"user-timeout without timeout":  {"linux", ScenarioInput{Scenario: ScenarioUserTimeout, Settings: s}, "user timeout is required"},
		"TCP_MAXRT in ms":               {"windows", ScenarioInput{Scenario: ScenarioUserTimeout, Settings: s, UserTimeout: 1500 * ms}, "TCP_MAXRT on windows takes whole seconds"},
		"unknown scenario":              {"linux", ScenarioInput{Scenario: "busy", Settings: s}, "PredictScenario models idle, unacked and user-timeout"},
		"unacked without limits":        {"linux", ScenarioInput{Scenario: ScenarioUnacked}, "limits"},
	} {
		if _, err := PredictScenario(Platform{OS: tc.goos}, tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", name, err, tc.want)
		}
	}
}

func TestParseScenario(t *testing.T) {
	for _, s := range []string{"idle", "unacked", "user-timeout"} {
		if got, err := ParseScenario(s); err != nil || string(got) != s {
			t.Errorf("ParseScenario(%q) = %q, %v", s, got, err)
		}
	}
	if _, err := ParseScenario("Idle"); err == nil || !strings.Contains(err.Error(), "allowed idle, unacked, user-timeout, heartbeat") {
		t.Errorf("ParseScenario(Idle): %v", err)
	}
	for goos, want := range map[string]string{"linux": "TCP_USER_TIMEOUT", "windows": "TCP_MAXRT", "darwin": "TCP_RXT_CONNDROPTIME", "plan9": ""} {
		if got := UserTimeoutOption(goos); got != want {
			t.Errorf("UserTimeoutOption(%s) = %q, want %q", goos, got, want)
		}
	}
}
