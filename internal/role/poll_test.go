package role

import (
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/tcpinfo"
)

// TestPollDelay: sampling is dense only around the next probe's due
// instant (T0 + idle, then + interval per probe out), and never waits
// past the start of that window.
func TestPollDelay(t *testing.T) {
	opt := func(d time.Duration) keepalive.Opt[time.Duration] {
		return keepalive.Opt[time.Duration]{Value: d, Known: true}
	}
	eff := keepalive.Effective{Enabled: keepalive.Opt[bool]{Value: true, Known: true}, Idle: opt(time.Second), Interval: opt(3 * time.Second),
		Count: keepalive.Opt[int]{Value: 3, Known: true}}
	sched := probeSchedule(eff)
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	for _, tc := range []struct {
		now    time.Time
		probes uint8
		want   time.Duration
	}{
		{ms(100), 0, pollEvery},              // far from the first probe (due at 1 s)
		{ms(975), 0, 15 * time.Millisecond},  // wake at due − 10 ms
		{ms(995), 0, pollDense},              // inside the window
		{ms(1100), 0, pollDense},             // late by up to 125 ms (1 s / 8)
		{ms(1200), 0, pollEvery},             // past it (the next window opens at 2.99 s)
		{ms(1200), 1, pollEvery},             // the next is due at 4 s
		{ms(2980), 0, 10 * time.Millisecond}, // cycling with interval > idle: also at T0 + 3 s
		{ms(3100), 0, pollDense},
		{ms(3995), 1, pollDense},
		{ms(4300), 1, pollDense}, // 3 s interval: late by up to 375 ms
	} {
		if got := pollDelay(tcpinfo.Info{Probes: tc.probes}, sched, t0, tc.now); got != tc.want {
			t.Errorf("at %s with %d probes out: %s, want %s", tc.now.Sub(t0), tc.probes, got, tc.want)
		}
	}
	if probeSchedule(keepalive.Effective{}) != nil || pollDelay(tcpinfo.Info{}, nil, t0, t0) != pollEvery {
		t.Error("unknown options must keep the plain 20 ms sampling")
	}
}
