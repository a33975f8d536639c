package role

import (
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/tcpinfo"
)

// TCP_INFO sampling: every pollEvery while nothing is due, every
// pollDense around the instant the next keepalive probe is due, so that a
// probe's instant on kalab's timeline is late by about a millisecond
// rather than up to pollEvery (docs/benchmarks.md, fidelity).
const (
	pollEvery = 20 * time.Millisecond
	pollDense = time.Millisecond
	// denseBefore is how early before the due instant dense sampling
	// starts (T0 is known to a jiffy and the timer may fire a little
	// early relative to that estimate).
	denseBefore = 10 * time.Millisecond
)

// probeSchedule returns, for the options the accepted socket really has,
// when probe k (0-based, the unanswered ones) may be due after T0 and how
// late the kernel's timer may fire it (an eighth of the timeout, the timer
// wheel's bound, at least 10 ms); nil when keepalive is off or the options
// are unknown. The first is due at T0 + idle on a connection idle since
// its last data, but at T0 + interval once probes cycle with interval >
// idle (Linux re-arms at the interval after an answered probe, and the
// idle time has then passed: docs/keepalive-models.md §3.1), so both are
// watched.
func probeSchedule(eff keepalive.Effective) func(k int) []window {
	s, ok := eff.Settings()
	if !ok || s.Idle <= 0 || s.Interval <= 0 {
		return nil
	}
	return func(k int) []window {
		var ws []window
		for _, base := range []time.Duration{s.Idle, max(s.Idle, s.Interval)} {
			due, timeout := base+time.Duration(k)*s.Interval, base
			if k > 0 {
				timeout = s.Interval
			}
			if len(ws) == 0 || ws[0].due != due {
				ws = append(ws, window{due, max(timeout/8, 10*time.Millisecond)})
			}
		}
		return ws
	}
}

// window is when a probe may be due after T0, and how late it may come.
type window struct{ due, late time.Duration }

// pollDelay is how long to wait before the next sample: pollDense inside
// [due − denseBefore, due + late] of a window of the next unanswered probe,
// otherwise pollEvery, shortened so that no window is entered late.
func pollDelay(i tcpinfo.Info, schedule func(int) []window, t0 time.Time, now time.Time) time.Duration {
	if schedule == nil || t0.IsZero() {
		return pollEvery
	}
	wait := pollEvery
	for _, w := range schedule(int(i.Probes)) {
		start, end := t0.Add(w.due-denseBefore), t0.Add(w.due+w.late)
		switch {
		case now.After(end):
			// past it: the probe went out, or it is due in another window
		case now.After(start):
			return pollDense
		default:
			wait = min(wait, max(start.Sub(now), pollDense))
		}
	}
	return wait
}
