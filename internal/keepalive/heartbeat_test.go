package keepalive

import (
	"strings"
	"testing"
	"time"
)

func TestPredictHeartbeat(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		hb               Heartbeat
		fromT0, after    Window
		label, rule, err string
	}{
		{hb: Heartbeat{200 * ms, 3}, fromT0: Window{600 * ms, 620 * ms}, after: Window{400 * ms, 621 * ms},
			label: "heartbeat 200ms×3", rule: "after 3 periods without an answer"},
		{hb: Heartbeat{time.Second, 1}, fromT0: Window{time.Second, time.Second + 20*ms}, after: Window{0, time.Second + 21*ms},
			label: "heartbeat 1s×1", rule: "read deadline of 1s"},
		{hb: Heartbeat{0, 3}, err: "period 0s"},
		{hb: Heartbeat{time.Second, 0}, err: "misses 0"},
		{hb: Heartbeat{2 * time.Hour, 3}, err: "allowed 1ms..1h"},
	} {
		p, err := PredictHeartbeat(Platform{OS: "windows"}, tc.hb, ms)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: error %v, want %q", tc.hb, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.FromT0 != tc.fromT0 || p.AfterFault != tc.after || p.Probes != tc.hb.Misses || !strings.Contains(p.Rule, tc.rule) {
			t.Errorf("%+v: from T0 %s after fault %s probes %d rule %q", tc.hb, p.FromT0, p.AfterFault, p.Probes, p.Rule)
		}
		if got := Label(Settings{}, ScenarioHeartbeat, 0, tc.hb); got != tc.label {
			t.Errorf("label %q, want %q", got, tc.label)
		}
	}
	if got := Label(Settings{Idle: time.Second, Interval: time.Second, Count: 10}, ScenarioUnacked, 5*time.Second, Heartbeat{}); got != "1s/1s/10 unacked uto 5s" {
		t.Errorf("unacked label %q", got)
	}
}
