// Package advise answers three questions from kalab's per-OS keepalive
// models (internal/keepalive), with no cluster and nothing run: when does
// each OS notice a silent peer with these settings (Predict), which
// settings notice it within a target on every listed OS (Search), and, when
// the server writes after the fault or also caps unacknowledged time, which
// limit ends the connection and when (PredictScenarios). The first two can
// sit beside the measured runs of results.jsonl files (Compare). It backs
// `coordinator model`; docs/keepalive-models.md §9 describes the command.
//
// JSON: Model, Advice and ScenarioModel are the documents
// `coordinator model --json` prints, one object each. Durations are integer nanoseconds (Go's
// time.Duration), as in keepalive.Prediction and results.jsonl; fields
// whose names end in _ns say so. Fields are only ever added, and Schema
// changes if one changes meaning.
package advise

import (
	"fmt"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// Schema versions the JSON documents (Model, Advice).
const Schema = 1

// Query is what every prediction of one invocation shares: which OSes, how
// the server sets keepalive, and the host facts the Linux model needs.
type Query struct {
	// Platforms are the OSes to model, in the order asked: "linux",
	// "windows" (with Build when --windows-build was given; 0 = unknown,
	// modelled as Windows 10 1709 or later) and "darwin" (asked as macos).
	Platforms []keepalive.Platform `json:"platforms"`
	// Mode is where the server puts the options: "listener" (inherited by
	// accepted sockets), "per-connection" or "listener-go-default" (Go's
	// accept path re-applies 15s/15s/9).
	Mode keepalive.Mode `json:"mode"`
	// Phase is always "cycling": probes were sent and answered until the
	// fault, so T0 is the ACK of the last answered probe.
	Phase keepalive.Phase `json:"phase"`
	// HZ is the Linux tick rate the model ran at; 0 means unknown, and each
	// Linux timer firing may then be up to 1/8 of its timeout late.
	HZ int `json:"hz"`
	// HZSource says where HZ came from, in words: "this host's
	// (/proc/config.gz)", "from --hz", or why the default was used.
	HZSource string `json:"hz_source"`
	// UserTimeout is --user-timeout (0 = not set). In the idle scenario it
	// is Linux TCP_USER_TIMEOUT, and other OSes ignore it; in the unacked
	// and user-timeout scenarios every OS gets it in its own option
	// (keepalive.UserTimeoutOption: TCP_MAXRT, TCP_RXT_CONNDROPTIME).
	UserTimeout time.Duration `json:"user_timeout_ns,omitempty"`
	// Scenario is --scenario: "idle" (keepalive on an idle connection),
	// "unacked" (the server writes after the fault) or "user-timeout".
	Scenario keepalive.Scenario `json:"scenario"`
	// RTT is --rtt, the smoothed round-trip time before the fault; it sets
	// the first RTO in the unacked scenario (absent otherwise).
	RTT time.Duration `json:"rtt_ns,omitempty"`
	// OSDefaults is --os-defaults: the unacked scenario models every OS
	// with its stock retransmission values, not this host's.
	OSDefaults bool `json:"os_defaults,omitempty"`
}

// Quirk is an OS behaviour that changes what the settings do.
type Quirk struct {
	// Code names the quirk for programs; one of the Quirk* constants.
	Code string `json:"code"`
	// Text says what happens and what to do about it, for people.
	Text string `json:"text"`
}

// Quirk codes (Quirk.Code).
const (
	// QuirkListenerIdle: macOS accepted sockets do not inherit the
	// listener's idle and fall back to the 2 h default.
	QuirkListenerIdle = "listener-idle-not-inherited"
	// QuirkGoDefault: Go's default accept path re-applies 15s/15s/9.
	QuirkGoDefault = "go-default-override"
	// QuirkCountFixed: Windows before build 15063 fixes the count at 10.
	QuirkCountFixed = "windows-count-fixed"
	// QuirkWindowsSIO: Windows before build 16299 only has
	// SIO_KEEPALIVE_VALS (milliseconds, cannot be read back).
	QuirkWindowsSIO = "windows-sio-keepalive-vals"
	// QuirkWindowsBuildUnknown: no --windows-build, so Windows is modelled
	// as 1709 or later.
	QuirkWindowsBuildUnknown = "windows-build-unknown"
	// QuirkLinuxRearm: Linux with idle < interval re-arms at the interval
	// after an answered probe.
	QuirkLinuxRearm = "linux-rearm-at-interval"
	// QuirkLinuxUserTimeout: TCP_USER_TIMEOUT replaces the probe count.
	QuirkLinuxUserTimeout = "linux-user-timeout"
	// QuirkLinuxHZUnknown: the Linux model ran without a tick rate.
	QuirkLinuxHZUnknown = "linux-hz-unknown"
	// QuirkUserTimeoutIgnored: --user-timeout has no effect on this OS's
	// idle connections.
	QuirkUserTimeoutIgnored = "user-timeout-not-modelled"
	// QuirkTimerUnmeasured: the OS's timer granularity is not measured; the
	// window allows 500 ms late.
	QuirkTimerUnmeasured = "timer-granularity-unmeasured"
)

// OSModel is one OS's answer for one set of requested settings.
type OSModel struct {
	// Name is the OS as kalab's CLI names it: "linux", "windows", "macos".
	Name string `json:"name"`
	// Platform is the platform modelled (OS is the GOOS value, "darwin" for
	// macOS).
	Platform keepalive.Platform `json:"platform"`
	// Requested are the settings the server asks for.
	Requested keepalive.Settings `json:"requested"`
	// Applied are the settings the accepted socket really gets
	// (keepalive.Applied, and the fixed count of 10 on Windows before
	// build 15063): the ones the prediction uses.
	Applied keepalive.Settings `json:"applied"`
	// Prediction is keepalive.Predict's answer for Applied in the cycling
	// phase: FromT0 (detection − the last ACK), AfterFault (detection − the
	// fault instant; Max is the worst case), Cycle, Probes and Rule.
	Prediction keepalive.Prediction `json:"prediction"`
	// ProbesPerHour is how many keepalive probes the server sends in an
	// idle hour while the peer answers: 3600 s / Prediction.Cycle.Min (the
	// shortest cycle, so the most probes).
	ProbesPerHour float64 `json:"probes_per_idle_hour"`
	// Quirks are the OS behaviours that matter for these settings and this
	// mode; empty when none does.
	Quirks []Quirk `json:"quirks"`
	// Measured summarizes the matching runs of the --results files; absent
	// when no results were given.
	Measured *Measured `json:"measured,omitempty"`
}

// Model is the answer to `coordinator model --idle … --interval … --count …`:
// when each OS notices a silent peer with the requested settings.
type Model struct {
	// Schema is the Schema constant; Kind is always "model".
	Schema int    `json:"schema"`
	Kind   string `json:"kind"`
	// Query is what every prediction shares.
	Query Query `json:"query"`
	// Requested are the settings asked for (--idle, --interval, --count).
	Requested keepalive.Settings `json:"requested"`
	// OSes are the per-OS answers, in the order of Query.Platforms.
	OSes []OSModel `json:"oses"`
	// Results describes the --results files read; absent without them.
	Results *ResultsRead `json:"results,omitempty"`
}

// Name is how kalab's CLI writes an OS: macos for darwin, else the GOOS.
func Name(goos string) string {
	if goos == "darwin" {
		return "macos"
	}
	return goos
}

// phase is the phase every prediction uses: probes cycling until the fault.
const phase = keepalive.PhaseCycling

// model runs the model for one OS without quirks (the search calls it for
// every candidate; Explain adds them).
func model(q Query, p keepalive.Platform, s keepalive.Settings) (OSModel, error) {
	var o keepalive.ModelOptions
	if p.OS == "linux" {
		o = keepalive.ModelOptions{HZ: q.HZ, UserTimeout: q.UserTimeout}
	}
	pr, err := keepalive.Predict(p, keepalive.Applied(p, s, q.Mode), phase, o)
	if err != nil {
		return OSModel{}, err
	}
	m := OSModel{Name: Name(p.OS), Platform: p, Requested: s, Applied: pr.Settings, Prediction: pr}
	if pr.Cycle.Min > 0 {
		m.ProbesPerHour = float64(time.Hour) / float64(pr.Cycle.Min)
	}
	return m, nil
}

// Predict models the requested settings on every platform of q. Settings
// an OS refuses (setsockopt would fail) are an error naming the flag; a
// count that old Windows ignores is a quirk, not an error.
func Predict(q Query, s keepalive.Settings) (Model, error) {
	if err := checkSettings(q.Platforms, s); err != nil {
		return Model{}, err
	}
	out := Model{Schema: Schema, Kind: "model", Query: q, Requested: s}
	for _, p := range q.Platforms {
		m, err := model(q, p, s)
		if err != nil {
			return Model{}, err
		}
		out.OSes = append(out.OSes, explain(q, m))
	}
	return out, nil
}

// checkSettings runs keepalive's Validate on every platform and turns what
// an OS refuses into one error per field that names the flag. A count on a
// Windows that fixes it is let through: Predict uses the fixed value and
// the quirk says so.
func checkSettings(ps []keepalive.Platform, s keepalive.Settings) error {
	var msgs []string
	for _, p := range ps {
		err := s.Validate(p)
		if err == nil {
			continue
		}
		for _, fe := range fieldErrors(err) {
			if l, lerr := keepalive.LimitsFor(p); lerr == nil && fe.Field == "count" && !l.CountSettable {
				continue
			}
			msgs = append(msgs, fmt.Sprintf("--%s %s is not valid on %s: allowed %s", fe.Field, fe.Value, displayPlatform(p), fe.Allowed))
		}
		if len(fieldErrors(err)) == 0 {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%s (change the value, or drop that OS from --os)", strings.Join(msgs, "; "))
}

// fieldErrors unpacks the *keepalive.FieldError values Validate joined.
func fieldErrors(err error) []*keepalive.FieldError {
	var out []*keepalive.FieldError
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) {
		case *keepalive.FieldError:
			out = append(out, x)
		case interface{ Unwrap() []error }:
			for _, c := range x.Unwrap() {
				walk(c)
			}
		}
	}
	walk(err)
	return out
}

// displayPlatform writes a platform the CLI's way: macos, windows (build N).
func displayPlatform(p keepalive.Platform) string {
	if p.OS == "windows" && p.Build > 0 {
		return fmt.Sprintf("windows (build %d)", p.Build)
	}
	return Name(p.OS)
}

// explain adds the quirks that matter for m's OS, settings and mode.
func explain(q Query, m OSModel) OSModel {
	p, s, a := m.Platform, m.Requested, m.Applied
	add := func(code, format string, args ...any) {
		m.Quirks = append(m.Quirks, Quirk{Code: code, Text: fmt.Sprintf(format, args...)})
	}
	if q.Mode == keepalive.ModeListenerGoDefault {
		add(QuirkGoDefault, "Go's default accept path re-applies %s to every accepted socket, whatever the listener had "+
			"(net/tcpsock.go newTCPConn; docs/keepalive-models.md §5): use mode per-connection, or ListenConfig.KeepAlive = -1 to keep the listener's values",
			keepalive.GoDefault.Short())
	} else if keepalive.LosesListenerIdle(p, q.Mode) {
		add(QuirkListenerIdle, "%s (--mode per-connection here); the accepted socket gets idle %s", keepalive.ListenerIdleAdvice, keepalive.ShortDuration(a.Idle))
	}
	l, err := keepalive.LimitsFor(p)
	if err != nil {
		return m
	}
	switch p.OS {
	case "windows":
		if p.Build == 0 {
			add(QuirkWindowsBuildUnknown, "build unknown: modelled as Windows 10 1709 (build %d) or later, with TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT; "+
				"give --windows-build N for an older Windows (the count is fixed at %d before build %d)",
				keepalive.WindowsBuildKeepIdle, keepalive.WindowsFixedCount, keepalive.WindowsBuildKeepCnt)
		}
		if !l.CountSettable {
			what := "the count is"
			if asked := keepalive.Applied(p, s, q.Mode).Count; asked != l.FixedCount {
				what = fmt.Sprintf("count %d is ignored: the count is", asked)
			}
			add(QuirkCountFixed, "%s fixed at %d before build %d (Windows 10 1703; no TCP_KEEPCNT), modelled with %d; "+
				"a Go server must set KeepAliveConfig.Count = -1 there, since Go's setKeepAliveCount fails (docs/keepalive-models.md §5)",
				what, l.FixedCount, keepalive.WindowsBuildKeepCnt, l.FixedCount)
		}
		if p.Build > 0 && p.Build < keepalive.WindowsBuildKeepIdle {
			add(QuirkWindowsSIO, "before build %d idle and interval are set with %s: milliseconds, and they cannot be read back (docs/keepalive-models.md §1)",
				keepalive.WindowsBuildKeepIdle, l.Mechanism)
		}
	case "linux":
		if a.Idle < a.Interval {
			add(QuirkLinuxRearm, "idle %s < interval %s: after an answered probe Linux re-arms at the interval, not at idle, so probes cycle every %s "+
				"and detection is max(idle, interval) + count × interval after the last ACK (docs/keepalive-models.md §3.1)",
				keepalive.ShortDuration(a.Idle), keepalive.ShortDuration(a.Interval), Seconds(m.Prediction.Cycle.Min))
		}
		if q.UserTimeout > 0 {
			listener := ""
			if q.Mode != keepalive.ModePerConn {
				listener = "; set on the listener in ListenConfig.Control it makes Go fall back from an MPTCP to a plain TCP listener, which passes it on (§2)"
			}
			add(QuirkLinuxUserTimeout, "TCP_USER_TIMEOUT %s replaces the count: the connection dies at the first firing at least %s after the last ACK "+
				"with a probe out (%d probes here; docs/keepalive-models.md §4)%s",
				q.UserTimeout, q.UserTimeout, m.Prediction.Probes, listener)
		}
		if q.HZ <= 0 {
			add(QuirkLinuxHZUnknown, "HZ unknown (--hz 0): each timer firing may be up to 1/8 of its timeout late, which widens the window; "+
				"give --hz for the exact timer-wheel instants")
		}
	}
	if p.OS != "linux" {
		if q.UserTimeout > 0 {
			alt := map[string]string{"windows": "TCP_MAXRT", "darwin": "TCP_RXT_CONNDROPTIME"}[p.OS]
			add(QuirkUserTimeoutIgnored, "--user-timeout is Linux's TCP_USER_TIMEOUT; %s's nearest option, %s, bounds unacknowledged data, "+
				"which an idle connection does not have: not modelled (docs/keepalive-models.md §4)", Name(p.OS), alt)
		}
		add(QuirkTimerUnmeasured, "timer granularity not measured: the window allows 500 ms late (docs/keepalive-models.md §3.2, §3.3)")
	}
	if m.Quirks == nil {
		m.Quirks = []Quirk{}
	}
	return m
}
