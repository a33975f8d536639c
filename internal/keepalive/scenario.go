package keepalive

import (
	"fmt"
	"strings"
	"time"
)

// Scenario is what the server's connection does when its peer goes silent;
// it decides which kernel limit ends the connection
// (docs/keepalive-models.md §3, §4).
type Scenario string

const (
	// ScenarioIdle: nothing is written after the peer went silent, so
	// keepalive decides (Predict).
	ScenarioIdle Scenario = "idle"
	// ScenarioUnacked: the server writes right after the peer went silent,
	// so the retransmission timer decides (PredictRetransmit); keepalive
	// does not act on Linux while data is unacknowledged.
	ScenarioUnacked Scenario = "unacked"
	// ScenarioUserTimeout: idle, with keepalive and the OS's cap on
	// unacknowledged time (UserTimeoutOption) both set: which one ends the
	// connection.
	ScenarioUserTimeout Scenario = "user-timeout"
	// ScenarioHeartbeat: keepalive off; the application sends a heartbeat
	// every period and declares the peer dead after misses periods without
	// an answer (Heartbeat, PredictHeartbeat).
	ScenarioHeartbeat Scenario = "heartbeat"
)

// Scenarios are the scenarios an experiment can run, in the order errors
// list them.
var Scenarios = []Scenario{ScenarioIdle, ScenarioUnacked, ScenarioUserTimeout, ScenarioHeartbeat}

// ParseScenario reads a scenario name: idle, unacked, user-timeout or
// heartbeat.
func ParseScenario(s string) (Scenario, error) {
	for _, sc := range Scenarios {
		if string(sc) == s {
			return sc, nil
		}
	}
	names := make([]string, len(Scenarios))
	for i, sc := range Scenarios {
		names[i] = string(sc)
	}
	return "", fmt.Errorf("scenario %q: allowed %s", s, strings.Join(names, ", "))
}

// UserTimeoutOption names goos's per-socket cap on unacknowledged time:
// TCP_USER_TIMEOUT (Linux, ms), TCP_MAXRT (Windows, s),
// TCP_RXT_CONNDROPTIME (macOS, s); "" for other OSes.
func UserTimeoutOption(goos string) string {
	switch goos {
	case "linux":
		return "TCP_USER_TIMEOUT"
	case "windows":
		return "TCP_MAXRT"
	case "darwin":
		return "TCP_RXT_CONNDROPTIME"
	}
	return ""
}

// ScenarioInput is what PredictScenario needs besides the platform.
type ScenarioInput struct {
	// Scenario is the scenario to model.
	Scenario Scenario
	// Settings are the keepalive settings the accepted socket really has
	// (Applied); required for idle and user-timeout, optional for unacked
	// (nil: keepalive off).
	Settings *Settings
	// Phase is the idle connection's state at the fault (PhaseCycling in
	// `coordinator model`).
	Phase Phase
	// HZ is the Linux tick rate (0 = unknown).
	HZ int
	// RTT is the smoothed round-trip time before the fault (unacked).
	RTT time.Duration
	// UserTimeout is the value of UserTimeoutOption(platform), 0 = unset;
	// Windows and macOS take whole seconds. Required for user-timeout.
	UserTimeout time.Duration
	// Limits are the platform's retransmission values (unacked).
	Limits RetransmitLimits
}

// ScenarioPrediction is one OS's answer for one scenario: when the server
// notices the silent peer, and which limit wins.
type ScenarioPrediction struct {
	// Scenario is the scenario modelled.
	Scenario Scenario `json:"scenario"`
	// Platform is the OS modelled.
	Platform Platform `json:"platform"`
	// AfterFault is detection − the fault. In the unacked scenario the
	// server writes at the fault, so it is detection − the write unless
	// keepalive (macOS) ends the connection first.
	AfterFault Window `json:"after_fault"`
	// FromT0 is detection − the last ACK from the peer, where keepalive
	// decides (idle, user-timeout); absent when the write is the anchor.
	FromT0 *Window `json:"from_t0,omitempty"`
	// Limit names the limit that ends the connection, as the OS names it:
	// TCP_KEEPCNT, TCP_USER_TIMEOUT, tcp_retries2,
	// TcpMaxDataRetransmissions, TCP_MAXRT, TCP_MAXRXTSHIFT,
	// TCP_RXT_CONNDROPTIME, or two joined by " or " when either may.
	Limit string `json:"limit"`
	// Verdict says in one sentence which limit wins and what it beat.
	Verdict string `json:"verdict"`
	// Rule states the rule applied and its sources in one line.
	Rule string `json:"rule"`
	// Keepalive is the keepalive model's answer where keepalive is in play.
	Keepalive *Prediction `json:"keepalive,omitempty"`
	// WithoutUserTimeout is, in the user-timeout scenario on Linux, the
	// keepalive answer without the user timeout, for comparison.
	WithoutUserTimeout *Prediction `json:"without_user_timeout,omitempty"`
	// Retransmit is the retransmission model's answer (unacked).
	Retransmit *RetransmitPrediction `json:"retransmit,omitempty"`
	// Values are the host values the retransmission model used (unacked).
	Values []HostValue `json:"values,omitempty"`
	// Inferred is true when part of the answer is reasoned, not read in
	// source or documentation (Windows; macOS keepalive with data out).
	Inferred bool `json:"inferred,omitempty"`
}

// countName is the keepalive limit an idle connection dies by on p.
func countName(p Platform, s Settings) string {
	if l, err := LimitsFor(p); err == nil && !l.CountSettable {
		return fmt.Sprintf("the fixed count of %d", s.Count)
	}
	return "TCP_KEEPCNT"
}

// PredictScenario answers one scenario for p (docs/keepalive-models.md §4):
// idle and user-timeout run the keepalive model (Predict; on Linux with the
// user timeout, which tcp_keepalive_timer puts in place of the count),
// unacked runs the retransmission model (PredictRetransmit) and, on macOS
// with keepalive on, the keepalive model too, since XNU's keepalive timer
// does not check for outstanding data.
func PredictScenario(p Platform, in ScenarioInput) (ScenarioPrediction, error) {
	sp := ScenarioPrediction{Scenario: in.Scenario, Platform: p}
	opt := UserTimeoutOption(p.OS)
	if in.UserTimeout < 0 {
		return sp, fmt.Errorf("scenario %s: negative user timeout %s", in.Scenario, in.UserTimeout)
	}
	if in.UserTimeout > 0 && p.OS != "linux" && in.UserTimeout%time.Second != 0 {
		return sp, fmt.Errorf("scenario %s: %s on %s takes whole seconds, not %s", in.Scenario, opt, p, in.UserTimeout)
	}
	switch in.Scenario {
	case ScenarioIdle, ScenarioUserTimeout:
		if in.Settings == nil {
			return sp, fmt.Errorf("scenario %s: keepalive settings are required", in.Scenario)
		}
		if in.Scenario == ScenarioUserTimeout && in.UserTimeout == 0 {
			return sp, fmt.Errorf("scenario %s: a user timeout is required", in.Scenario)
		}
		return sp, predictIdle(&sp, p, in)
	case ScenarioUnacked:
		return sp, predictUnacked(&sp, p, in)
	}
	return sp, fmt.Errorf("scenario %q: PredictScenario models idle, unacked and user-timeout (heartbeat: PredictHeartbeat)", in.Scenario)
}

// predictIdle: keepalive on an idle connection, with the user timeout
// where it acts (Linux only).
func predictIdle(sp *ScenarioPrediction, p Platform, in ScenarioInput) error {
	o := ModelOptions{HZ: in.HZ}
	if p.OS == "linux" {
		o.UserTimeout = in.UserTimeout
	}
	ka, err := Predict(p, *in.Settings, in.Phase, o)
	if err != nil {
		return err
	}
	fromT0 := ka.FromT0
	sp.Keepalive, sp.AfterFault, sp.FromT0, sp.Rule = &ka, ka.AfterFault, &fromT0, ka.Rule
	count := countName(p, ka.Settings)
	sp.Limit = count
	sp.Verdict = fmt.Sprintf("keepalive: %d unanswered probes (%s)", ka.Probes, count)
	if in.UserTimeout == 0 {
		return nil
	}
	uto, opt := ShortDuration(in.UserTimeout), UserTimeoutOption(p.OS)
	switch p.OS {
	case "linux":
		base, err := Predict(p, *in.Settings, in.Phase, ModelOptions{HZ: in.HZ})
		if err != nil {
			return err
		}
		sp.WithoutUserTimeout, sp.Limit = &base, opt
		cmp := "about when the count would"
		switch {
		case ka.FromT0.Max < base.FromT0.Min:
			cmp = "earlier than the count would"
		case ka.FromT0.Min > base.FromT0.Max:
			cmp = "later than the count would: probing goes on past it"
		}
		sp.Verdict = fmt.Sprintf("%s %s wins: it replaces %s %d once a probe is out, and ends the connection %s (%s after the last ACK without it)",
			opt, uto, count, ka.Settings.Count, cmp, base.FromT0)
		sp.Rule = fmt.Sprintf("%s: the kill condition becomes icsk_user_timeout && elapsed >= user_timeout && icsk_probes_out > 0, "+
			"elapsed since the last segment received (%d probes)", ka.Rule, ka.Probes)
	case "windows":
		sp.Inferred = true
		sp.Verdict = fmt.Sprintf("keepalive: %d unanswered probes (%s); %s %s is documented as the timeout of retransmissions, "+
			"and an idle connection retransmits nothing, so it is taken not to act [infer]", ka.Probes, count, opt, uto)
	case "darwin":
		sp.Verdict = fmt.Sprintf("keepalive: %d unanswered probes (%s); %s %s does not act: XNU checks it only in the retransmit timer "+
			"(tcp_timer.c tcp_timers TCPT_REXMT), which an idle connection does not run, and TCPT_KEEP ignores it", ka.Probes, count, opt, uto)
	}
	return nil
}

// predictUnacked: the retransmission timer decides; on macOS keepalive may
// end the connection first.
func predictUnacked(sp *ScenarioPrediction, p Platform, in ScenarioInput) error {
	rx, err := PredictRetransmit(p, RetransmitOptions{Limits: in.Limits, RTT: in.RTT, UserTimeout: in.UserTimeout, HZ: in.HZ})
	if err != nil {
		return err
	}
	sp.Retransmit, sp.AfterFault, sp.Limit, sp.Rule, sp.Inferred = &rx, rx.FromWrite, rx.Limit, rx.Rule, rx.Inferred
	sp.Values = in.Limits.Values
	sp.Verdict = fmt.Sprintf("%s wins: %s after the write, then the connection is dropped", rx.Limit, retransmissions(rx))
	if in.Settings == nil {
		return nil
	}
	switch p.OS {
	case "linux":
		sp.Verdict += "; keepalive does not act while data is unacknowledged (tcp_keepalive_timer re-arms while packets_out: \"It is alive without keepalive 8)\")"
	case "windows":
		sp.Verdict += "; whether keepalive acts while data is unacknowledged is not documented: not modelled [infer]"
	case "darwin":
		ka, err := Predict(p, *in.Settings, in.Phase, ModelOptions{})
		if err != nil {
			return err
		}
		sp.Keepalive, sp.Inferred = &ka, true
		kw, rw := ka.AfterFault, rx.FromWrite
		sp.AfterFault = Window{Min: min(kw.Min, rw.Min), Max: min(kw.Max, rw.Max)}
		switch {
		case kw.Max < rw.Min:
			fromT0 := ka.FromT0
			sp.FromT0, sp.Limit, sp.Rule = &fromT0, countName(p, ka.Settings), ka.Rule
			sp.Verdict = fmt.Sprintf("keepalive wins: XNU's TCPT_KEEP has no outstanding-data check, so %d unanswered probes end the connection "+
				"before %s would [infer: not tested]", ka.Probes, rx.Limit)
		case rw.Max < kw.Min:
			sp.Verdict += fmt.Sprintf("; keepalive (%s after the fault) would come later [infer]", kw)
		default:
			sp.Limit = rx.Limit + " or " + countName(p, ka.Settings)
			sp.Verdict += fmt.Sprintf("; or keepalive, %s after the fault, whichever fires first (TCPT_KEEP has no outstanding-data check) [infer]", kw)
		}
	}
	return nil
}

// retransmissions writes a prediction's retransmission count: "15
// retransmissions", "4–5 retransmissions".
func retransmissions(rx RetransmitPrediction) string {
	if rx.MinRetransmissions == rx.MaxRetransmissions {
		return fmt.Sprintf("%d retransmissions", rx.MinRetransmissions)
	}
	return fmt.Sprintf("%d–%d retransmissions", rx.MinRetransmissions, rx.MaxRetransmissions)
}

// ScenarioLabel is what names and labels add after the settings for a
// non-idle scenario: " unacked", " unacked uto 5s", " user-timeout uto
// 3s"; "" for idle (written "idle" or not at all).
func ScenarioLabel(sc Scenario, uto time.Duration) string {
	if sc == "" || sc == ScenarioIdle {
		return ""
	}
	s := " " + string(sc)
	if uto > 0 {
		s += " uto " + ShortDuration(uto)
	}
	return s
}
