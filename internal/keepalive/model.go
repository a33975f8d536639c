package keepalive

import (
	"fmt"
	"time"

	"github.com/kalab-dev/kalab/internal/unsupported"
)

// Phase says what an idle connection was doing when its peer went silent;
// it decides which instant the model counts from.
type Phase string

const (
	// PhaseCycling: keepalive probes were already being sent and answered.
	// T0 is the ACK of the last answered probe.
	PhaseCycling Phase = "cycling"
	// PhaseFirstIdle: the peer went silent before the first probe. T0 is the
	// last segment from the peer (e.g. the ACK of the greeting).
	PhaseFirstIdle Phase = "first-idle"
)

// Window is a closed interval of durations.
type Window struct {
	// Min and Max are the earliest and latest duration, both included
	// (nanoseconds in JSON). Min == Max is an exact prediction; a Min of 0
	// means no lower bound (e.g. a first-idle Cycle).
	Min time.Duration `json:"min"`
	Max time.Duration `json:"max"`
}

// Contains reports whether d lies in the window widened by slack on the late
// side.
func (w Window) Contains(d, slack time.Duration) bool { return d >= w.Min && d <= w.Max+slack }

func (w Window) String() string {
	if w.Min == w.Max {
		return w.Min.String()
	}
	return fmt.Sprintf("%s..%s", w.Min, w.Max)
}

// Prediction is the model's answer for one OS, settings and phase.
type Prediction struct {
	// Platform is the OS (and Windows build) whose rule was applied.
	Platform Platform `json:"platform"`
	// Settings are the values the model used: the ones passed to Predict,
	// except that a Windows build before 15063 gets the fixed count of 10.
	Settings Settings `json:"settings"`
	// Phase is the connection's state when the peer went silent; it picks
	// T0 and, on Linux, changes the result when interval > idle
	// (docs/keepalive-models.md §3.1).
	Phase Phase `json:"phase"`
	// FromT0 is detection − T0 (last peer activity): the tightest comparison,
	// with no clock skew.
	FromT0 Window `json:"from_t0"`
	// Cycle is the time between answered probes before the fault (or, in the
	// first-idle phase, how long the connection can idle before a probe). A
	// fault lands somewhere in it, which widens AfterFault.
	Cycle Window `json:"cycle"`
	// AfterFault is detection − fault instant.
	AfterFault Window `json:"after_fault"`
	// Probes is how many unanswered probes go out before the kill.
	Probes int `json:"probes"`
	// HZ is the Linux tick rate the prediction used (0: not modelled, the
	// window then carries the timer wheel's worst-case lateness).
	HZ int `json:"hz,omitempty"`
	// Rule states the rule and its source in one line, for reports.
	Rule string `json:"rule"`
}

// ModelOptions carry host facts the model needs beyond the settings.
type ModelOptions struct {
	// HZ is the Linux kernel tick rate (DetectHZ); 0 = unknown.
	HZ int
	// UserTimeout is Linux TCP_USER_TIMEOUT read back from the socket.
	// Predict applies it on Linux only: Windows TCP_MAXRT and macOS
	// TCP_RXT_CONNDROPTIME do not act on an idle connection (PredictScenario
	// says why; PredictRetransmit applies all three to unacknowledged data).
	UserTimeout time.Duration
}

// slackUnverified is the late-side allowance for OSes whose timer
// granularity kalab has not measured (Windows, macOS). The published Windows
// runs were up to 0.2 s past T0 + idle + count × interval
// (docs/keepalive-models.md §8) [infer].
const slackUnverified = 500 * time.Millisecond

// Predict returns when p's kernel declares a silent peer dead, given the
// *effective* settings read back from the accepted socket (not the requested
// ones: macOS never inherits idle, Go may overwrite, Windows may fix count).
func Predict(p Platform, s Settings, phase Phase, o ModelOptions) (Prediction, error) {
	if s.Idle <= 0 || s.Interval <= 0 || s.Count < 0 {
		return Prediction{}, fmt.Errorf("keepalive model: settings %s are not effective keepalive values", s)
	}
	pr := Prediction{Platform: p, Settings: s, Phase: phase}
	switch p.OS {
	case "linux":
		predictLinux(&pr, o)
	case "darwin", "windows":
		if p.OS == "windows" && p.Build > 0 && p.Build < WindowsBuildKeepCnt {
			pr.Settings.Count = WindowsFixedCount
		}
		predictBSDStyle(&pr)
	default:
		return Prediction{}, fmt.Errorf("keepalive model: %w", unsupported.On("keepalive", p.OS))
	}
	pr.AfterFault = Window{Min: max(0, pr.FromT0.Min-pr.Cycle.Max), Max: pr.FromT0.Max}
	return pr, nil
}

// predictBSDStyle: macOS (XNU TCPT_KEEP, tcp_timer.c:1479-1530) drops when
// idle_time ≥ KEEPIDLE + KEEPCNT·KEEPINTVL, probing every KEEPINTVL after
// KEEPIDLE; every received segment re-arms the timer at KEEPIDLE, so
// answered probes cycle every idle. Death = T0 + idle + cnt·intvl [src].
// Windows documents the two times and the count of 10 (MS docs,
// SIO_KEEPALIVE_VALS), from which the same rule follows; the published 31.2 s for 1/3/10 and 10.3 s for 1/1/10
// fit the same rule with a cycle of idle [unverified beyond the blog].
func predictBSDStyle(pr *Prediction) {
	s := pr.Settings
	d := s.Idle + time.Duration(s.Count)*s.Interval
	pr.FromT0 = Window{Min: d, Max: d + slackUnverified}
	pr.Probes = s.Count
	if pr.Phase == PhaseCycling {
		pr.Cycle = Window{Min: s.Idle, Max: s.Idle}
	} else {
		pr.Cycle = Window{Max: s.Idle}
	}
	src := "XNU tcp_timer.c TCPT_KEEP"
	if pr.Platform.OS == "windows" {
		src = "MS docs SIO_KEEPALIVE_VALS/TCP_KEEPCNT [unverified timer granularity]"
	}
	pr.Rule = fmt.Sprintf("T0 + idle + count×interval = %s + %d×%s (%s)", s.Idle, s.Count, s.Interval, src)
}

// predictLinux runs tcp_keepalive_timer (net/ipv4/tcp_timer.c) as a state
// machine. Each firing: elapsed = now − T0; if elapsed ≥ idle then either
// probes_out ≥ cnt → reset + ETIMEDOUT, or send a probe and re-arm at intvl;
// otherwise re-arm at idle − elapsed. An answered probe resets probes_out
// but leaves the timer at intvl, which is why 1/3/10 dies at T0 + 33 s, not
// 31 s (docs/keepalive-models.md §3.1).
//
// With HZ known every re-arm goes through the timer wheel's rounding
// (kernel/time/timer.c calc_wheel_index/calc_index: the expiry is rounded up
// to the next multiple of the level's granularity, levels 8× coarser every
// 63<<3n jiffies), giving instants exact to a jiffy: 1/1/3 at HZ=250 dies at
// T0 + 4096 ms every time (docs/linux-lab.md §6). The wheel's phase
// depends on where the connection started, so the model tries every
// alignment and reports the range.
//
// Without HZ each firing may be late by up to 1/8 of its timeout (the
// granularity bound in timer.c's header comment).
func predictLinux(pr *Prediction, o ModelOptions) {
	s := pr.Settings
	pr.HZ = o.HZ
	if o.HZ <= 0 {
		const unit = int64(time.Millisecond)
		m := linuxMachine{
			idle: int64(s.Idle) / unit, intvl: int64(s.Interval) / unit, cnt: s.Count,
			uto: int64(o.UserTimeout) / unit,
		}
		m.arm = func(now, d int64) int64 { return now + d }
		lo, cyc, probes := m.run(0, pr.Phase)
		m.arm = func(now, d int64) int64 { return now + d + d/8 + 1 }
		hi, cycHi, _ := m.run(0, pr.Phase)
		pr.FromT0 = Window{Min: time.Duration(lo * unit), Max: time.Duration(hi * unit)}
		pr.Cycle = Window{Min: time.Duration(cyc * unit), Max: time.Duration(cycHi * unit)}
		if pr.Phase == PhaseFirstIdle {
			pr.Cycle.Min = 0
		}
		pr.Probes = probes
		pr.Rule = "tcp_keepalive_timer state machine (net/ipv4/tcp_timer.c); HZ unknown: each firing may be up to 1/8 of its timeout late"
		return
	}
	hz := int64(o.HZ)
	m := linuxMachine{
		idle: int64(s.Idle/time.Second) * hz, intvl: int64(s.Interval/time.Second) * hz, cnt: s.Count,
		// msecs_to_jiffies rounds up.
		uto: (o.UserTimeout.Milliseconds()*hz + 999) / 1000,
		arm: func(now, d int64) int64 { return wheelExpiry(now, d, hz) },
	}
	j := func(n int64) time.Duration { return time.Duration(n) * time.Second / time.Duration(hz) }
	first := true
	var lo, hi, cycLo, cycHi int64
	gran := levelGran(max(m.idle, m.intvl), hz)
	step := max(1, gran/4096)
	for off := int64(0); off < gran; off += step {
		d, cyc, probes := m.run(off, pr.Phase)
		if first || d < lo {
			lo = d
		}
		if first || d > hi {
			hi = d
		}
		if first || cyc < cycLo {
			cycLo = cyc
		}
		if first || cyc > cycHi {
			cycHi = cyc
		}
		pr.Probes = probes
		first = false
	}
	pr.FromT0 = Window{Min: j(lo), Max: j(hi)}
	pr.Cycle = Window{Min: j(cycLo), Max: j(cycHi)}
	if pr.Phase == PhaseFirstIdle {
		pr.Cycle.Min = 0
	}
	pr.Rule = fmt.Sprintf("tcp_keepalive_timer state machine (net/ipv4/tcp_timer.c) on the HZ=%d timer wheel (kernel/time/timer.c calc_index)", hz)
	if o.UserTimeout > 0 {
		pr.Rule += fmt.Sprintf("; TCP_USER_TIMEOUT=%s replaces the count", o.UserTimeout)
	}
}

// linuxMachine is tcp_keepalive_timer with a pluggable timer (arm returns
// the absolute firing instant for a re-arm of d at now). Units are whatever
// arm uses (jiffies or ms).
type linuxMachine struct {
	idle, intvl, uto int64
	cnt              int
	arm              func(now, d int64) int64
}

// run starts a connection at start (its last segment and the keepalive
// timer armed at idle, as tcp_create_openreq_child does). In the cycling
// phase it first lets four probes be answered instantly, then silences the
// peer; it returns death − T0, the last answered cycle length, and the
// number of unanswered probes sent.
func (m linuxMachine) run(start int64, phase Phase) (death, cycle int64, probes int) {
	t0 := start
	next := m.arm(start, m.idle)
	if phase == PhaseCycling {
		prev := t0
		for answered := 0; answered < 4; {
			t := next
			if el := t - t0; el >= m.idle {
				prev, t0 = t0, t // probe sent and ACKed within the jiffy
				answered++
				next = m.arm(t, m.intvl)
			} else {
				next = m.arm(t, m.idle-el)
			}
		}
		cycle = t0 - prev
	} else {
		cycle = m.idle
	}
	for {
		t := next
		el := t - t0
		if el < m.idle {
			next = m.arm(t, m.idle-el)
			continue
		}
		if (m.uto > 0 && el >= m.uto && probes > 0) || (m.uto == 0 && probes >= m.cnt) {
			return t - t0, cycle, probes
		}
		probes++
		next = m.arm(t, m.intvl)
	}
}

// Timer wheel constants from kernel/time/timer.c.
const (
	lvlClkShift = 3
	lvlSize     = 64
)

func lvlStart(n int) int64 { return (lvlSize - 1) << ((n - 1) * lvlClkShift) }

func lvlDepth(hz int64) int {
	if hz > 100 {
		return 9
	}
	return 8
}

// wheelExpiry is when a timer armed at now for delta jiffies really fires:
// calc_wheel_index picks the level from delta, calc_index rounds the expiry
// up to the next multiple of the level's granularity (always +1 bucket, so
// even level 0 fires one jiffy late), and timers beyond the wheel's capacity
// are clamped to WHEEL_TIMEOUT_MAX.
func wheelExpiry(now, delta, hz int64) int64 {
	depth := lvlDepth(hz)
	cutoff := lvlStart(depth)
	if delta >= cutoff {
		delta = cutoff - (int64(1) << ((depth - 1) * lvlClkShift))
	}
	lvl := 0
	for lvl < depth-1 && delta >= lvlStart(lvl+1) {
		lvl++
	}
	shift := uint(lvl * lvlClkShift)
	return ((now+delta)>>shift + 1) << shift
}

// levelGran is the coarsest granularity a timer of up to d jiffies uses.
func levelGran(d, hz int64) int64 {
	depth := lvlDepth(hz)
	lvl := 0
	for lvl < depth-1 && d >= lvlStart(lvl+1) {
		lvl++
	}
	return int64(1) << (lvl * lvlClkShift)
}
