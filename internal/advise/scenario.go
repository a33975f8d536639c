package advise

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// ScenarioModel is the answer to `coordinator model --scenario unacked` or
// `--scenario user-timeout`: per OS, when the server notices the silent
// peer in that scenario, which limit wins, and the host values used
// (docs/keepalive-models.md §4, §9).
type ScenarioModel struct {
	// Schema is the Schema constant; Kind is always "scenario".
	Schema int    `json:"schema"`
	Kind   string `json:"kind"`
	// Query is what every prediction shares; Query.Scenario names the
	// scenario.
	Query Query `json:"query"`
	// Requested are the keepalive settings asked for; absent in the unacked
	// scenario without --idle/--interval/--count.
	Requested *keepalive.Settings `json:"requested,omitempty"`
	// OSes are the per-OS answers, in the order of Query.Platforms.
	OSes []OSScenario `json:"oses"`
}

// OSScenario is one OS's answer for a scenario.
type OSScenario struct {
	// Name is the OS as kalab's CLI names it: "linux", "windows", "macos".
	Name string `json:"name"`
	// Platform is the platform modelled.
	Platform keepalive.Platform `json:"platform"`
	// Applied are the keepalive settings the accepted socket really gets in
	// Query.Mode (keepalive.Applied); absent without keepalive.
	Applied *keepalive.Settings `json:"applied,omitempty"`
	// Option is the OS's cap on unacknowledged time that --user-timeout
	// sets (TCP_USER_TIMEOUT, TCP_MAXRT, TCP_RXT_CONNDROPTIME).
	Option string `json:"option"`
	// UserTimeout is the value the accepted socket gets in that option: 0
	// when unset, or when the mode loses it (macOS listeners do not pass
	// TCP_RXT_CONNDROPTIME on).
	UserTimeout time.Duration `json:"user_timeout_ns,omitempty"`
	// Prediction is keepalive.PredictScenario's answer: AfterFault, FromT0
	// (keepalive-decided only), Limit, Verdict, Rule, the keepalive or
	// retransmission predictions behind it and the host values used.
	Prediction keepalive.ScenarioPrediction `json:"prediction"`
	// ValuesFrom says whose retransmission values the unacked scenario
	// used: "this host's" or why the stock ones; absent otherwise.
	ValuesFrom string `json:"values_from,omitempty"`
	// Quirks are the OS behaviours that matter here; empty when none does.
	Quirks []Quirk `json:"quirks"`
}

// Quirk codes of the scenarios (Quirk.Code).
const (
	// QuirkHostValues: the retransmission values are this host's (the
	// coordinator's), or could not all be read.
	QuirkHostValues = "host-values"
	// QuirkInferred: the OS's rule here is reasoned from documentation,
	// not read in source nor measured.
	QuirkInferred = "inferred"
	// QuirkWindowsTemplate: Windows Server may pick the Datacenter TCP
	// template (MinRto 20 ms) instead of the Internet one (300 ms).
	QuirkWindowsTemplate = "windows-tcp-template"
	// QuirkLinuxRouteRTOMin: a route's rto_min overrides tcp_rto_min_us.
	QuirkLinuxRouteRTOMin = "linux-route-rto-min"
	// QuirkUserTimeoutNotInherited: macOS accepted sockets do not get
	// TCP_RXT_CONNDROPTIME from the listener.
	QuirkUserTimeoutNotInherited = "user-timeout-not-inherited"
)

// localLimits reads this host's retransmission values (a variable so tests
// can stand in for the host).
var localLimits = keepalive.LocalRetransmitLimits

// retransmitLimits returns p's retransmission values: this host's when it
// runs p's OS and --os-defaults is off, else the stock ones; from says
// which, and err is a host value that could not be read (the rest are
// still used).
func retransmitLimits(q Query, p keepalive.Platform) (l keepalive.RetransmitLimits, from string, err error) {
	switch {
	case q.OSDefaults:
		l, err = keepalive.RetransmitDefaults(p)
		return l, "stock values (--os-defaults)", err
	case p.OS != runtime.GOOS:
		l, err = keepalive.RetransmitDefaults(p)
		return l, fmt.Sprintf("stock values: this host runs %s", Name(runtime.GOOS)), err
	}
	l, err = localLimits()
	if l.OS != p.OS {
		l, _ = keepalive.RetransmitDefaults(p)
		return l, "stock values: this host's could not be read", err
	}
	return l, "this host's", err
}

// PredictScenarios models q.Scenario (unacked or user-timeout) on every
// platform of q, with the keepalive settings s where there are any (nil:
// keepalive off, unacked only).
func PredictScenarios(q Query, s *keepalive.Settings) (ScenarioModel, error) {
	if s != nil {
		if err := checkSettings(q.Platforms, *s); err != nil {
			return ScenarioModel{}, err
		}
	}
	out := ScenarioModel{Schema: Schema, Kind: "scenario", Query: q, Requested: s}
	for _, p := range q.Platforms {
		o := OSScenario{Name: Name(p.OS), Platform: p, Option: keepalive.UserTimeoutOption(p.OS), Quirks: []Quirk{}}
		add := func(code, format string, args ...any) {
			o.Quirks = append(o.Quirks, Quirk{Code: code, Text: fmt.Sprintf(format, args...)})
		}
		in := keepalive.ScenarioInput{Scenario: q.Scenario, Phase: phase, HZ: q.HZ, RTT: q.RTT, UserTimeout: q.UserTimeout}
		if p.OS != "linux" {
			in.HZ = 0
		}
		if s != nil {
			a := keepalive.Applied(p, *s, q.Mode)
			in.Settings, o.Applied = &a, &a
			if keepalive.LosesListenerIdle(p, q.Mode) {
				add(QuirkListenerIdle, "%s (--mode per-connection here); the accepted socket gets idle %s", keepalive.ListenerIdleAdvice, keepalive.ShortDuration(a.Idle))
			}
			if q.Mode == keepalive.ModeListenerGoDefault {
				add(QuirkGoDefault, "Go's default accept path re-applies %s to every accepted socket (docs/keepalive-models.md §5)", keepalive.GoDefault.Short())
			}
		}
		if q.UserTimeout > 0 && p.OS == "darwin" && q.Mode != keepalive.ModePerConn {
			in.UserTimeout = 0
			add(QuirkUserTimeoutNotInherited, "XNU does not copy TCP_RXT_CONNDROPTIME to an accepted socket (docs/keepalive-models.md §2), "+
				"so in --mode %s the connection runs without it: set it per connection (--mode per-connection)", q.Mode)
		}
		o.UserTimeout = in.UserTimeout
		if q.Scenario == keepalive.ScenarioUnacked {
			l, from, err := retransmitLimits(q, p)
			if err != nil && l.OS != p.OS {
				return ScenarioModel{}, err
			}
			in.Limits, o.ValuesFrom = l, from
			switch {
			case err != nil:
				add(QuirkHostValues, "not every value could be read from this host, the rest are stock: %v", err)
			case from == "this host's":
				add(QuirkHostValues, "the values are this host's (the coordinator's); the server's may differ: --os-defaults models stock values")
			}
		}
		lost := q.Scenario == keepalive.ScenarioUserTimeout && in.UserTimeout == 0
		if lost {
			in.Scenario = keepalive.ScenarioIdle // the option never reaches the socket
		}
		pr, err := keepalive.PredictScenario(p, in)
		if err != nil {
			return ScenarioModel{}, fmt.Errorf("%s: %w", Name(p.OS), err)
		}
		if lost {
			pr.Scenario = q.Scenario
			pr.Verdict += fmt.Sprintf("; %s is not on the accepted socket in --mode %s", o.Option, q.Mode)
		}
		o.Prediction = pr
		scenarioQuirks(q, &o, add)
		out.OSes = append(out.OSes, o)
	}
	return out, nil
}

// scenarioQuirks adds the notes that depend on the OS and the answer.
func scenarioQuirks(q Query, o *OSScenario, add func(code, format string, args ...any)) {
	pr := o.Prediction
	switch o.Platform.OS {
	case "linux":
		if q.HZ <= 0 {
			add(QuirkLinuxHZUnknown, "HZ unknown (--hz 0): each timer firing may be up to 1/8 of its timeout late, which widens the window; "+
				"give --hz for the exact timer-wheel instants")
		}
		if pr.Retransmit != nil {
			add(QuirkLinuxRouteRTOMin, "a route's rto_min (ip route … rto_min) or TCP_BPF_RTO_MIN overrides tcp_rto_min_us and moves the whole schedule "+
				"(commit f086edef71be)")
		}
		if q.UserTimeout > 0 && q.Mode != keepalive.ModePerConn {
			add(QuirkLinuxUserTimeout, "TCP_USER_TIMEOUT set on the listener in ListenConfig.Control makes Go fall back from an MPTCP to a plain TCP listener, "+
				"which passes it on to accepted sockets (docs/keepalive-models.md §2)")
		}
	case "windows":
		if pr.Inferred {
			add(QuirkInferred, "Windows' rule here is inferred from Microsoft's documentation, not read in source nor measured (docs/keepalive-models.md §4)")
		}
		if pr.Retransmit != nil {
			add(QuirkWindowsTemplate, "Windows Server picks the Datacenter TCP template (MinRto 20 ms) for low-latency connections and the Internet one "+
				"(300 ms) otherwise; the model uses 300 ms (Get-NetTCPSetting shows the host's)")
		}
		if q.UserTimeout > 0 && q.Mode != keepalive.ModePerConn {
			add(QuirkUserTimeoutNotInherited, "whether an accepted socket inherits TCP_MAXRT from the listener is not known (docs/keepalive-models.md §2): "+
				"set it per connection to be sure")
		}
	case "darwin":
		if pr.Inferred {
			add(QuirkInferred, "macOS keepalive with data in flight is inferred from XNU's source, not tested (docs/keepalive-models.md §4)")
		}
	}
	if o.Platform.OS != "linux" {
		add(QuirkTimerUnmeasured, "timer granularity not measured: the window allows 500 ms late (docs/keepalive-models.md §3, §4)")
	}
}

// scenarioHeading is an OS's one-line answer.
func scenarioHeading(q Query, o OSScenario) string {
	name := displayPlatform(o.Platform)
	if o.Platform.OS == "linux" && q.HZ > 0 {
		name += fmt.Sprintf(" at HZ=%d", q.HZ)
	}
	pr := o.Prediction
	if pr.FromT0 != nil {
		return fmt.Sprintf("%s: %s after the last ACK, %s after the fault", name, window(*pr.FromT0), window(pr.AfterFault))
	}
	return fmt.Sprintf("%s: %s after the fault", name, window(pr.AfterFault))
}

// retransmitErr is what a blocked Read or a Write returns when the
// retransmission timer gives up: tcp_write_err (Linux) and tcp_drop (XNU)
// set ETIMEDOUT; Windows documents WSAECONNABORTED as "possibly due to a
// data transmission time-out" (Windows Sockets Error Codes) [infer].
func retransmitErr(goos string) string {
	if goos == "windows" {
		return "WSAECONNABORTED [infer]"
	}
	return "ETIMEDOUT"
}

// hostValues writes the values a prediction used: "name = value (source)".
func hostValues(vs []keepalive.HostValue) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%s = %s (%s)", v.Name, v.Value, v.Source)
	}
	return strings.Join(parts, ", ")
}

// WriteScenario writes a ScenarioModel for people: per OS the window after
// the fault, the limit that wins, the settings and values used, the rule
// and the notes.
func WriteScenario(w io.Writer, m ScenarioModel) error {
	b := &strings.Builder{}
	q := m.Query
	opts := make([]string, len(q.Platforms))
	for i, p := range q.Platforms {
		opts[i] = Name(p.OS) + " " + keepalive.UserTimeoutOption(p.OS)
	}
	switch q.Scenario {
	case keepalive.ScenarioUnacked:
		fmt.Fprintf(b, "scenario unacked: the server writes right after the peer went silent, so the retransmission timer decides, not keepalive; "+
			"the fault is the write\nRTT %s", q.RTT)
		if q.UserTimeout > 0 {
			fmt.Fprintf(b, "; user timeout %s (%s)", q.UserTimeout, strings.Join(opts, ", "))
		}
		if m.Requested != nil {
			fmt.Fprintf(b, "; keepalive %s, mode %s", m.Requested.Short(), q.Mode)
		}
		b.WriteString("\n")
		if hasLinux(q) {
			fmt.Fprintf(b, "%s\n", hzLine(q))
		}
	default:
		fmt.Fprintf(b, "scenario %s: keepalive %s (idle %s, interval %s, count %d) on an idle connection, and %s in each OS's cap on unacknowledged time (%s)\n%s\n",
			q.Scenario, m.Requested.Short(), m.Requested.Idle, m.Requested.Interval, m.Requested.Count, q.UserTimeout, strings.Join(opts, ", "), preamble(q))
	}
	for _, o := range m.OSes {
		pr := o.Prediction
		fmt.Fprintf(b, "\n%s\n", scenarioHeading(q, o))
		fmt.Fprintf(b, "  limit     %s\n", pr.Verdict)
		if o.Applied != nil && m.Requested != nil {
			fmt.Fprintf(b, "  applied   %s\n", applied(OSModel{Requested: *m.Requested, Applied: *o.Applied}))
		}
		if rx := pr.Retransmit; rx != nil {
			budget := ""
			if rx.Budget > 0 {
				budget = fmt.Sprintf("; %s allowed", Seconds(rx.Budget))
			}
			fmt.Fprintf(b, "  retrans   first retransmission %s after the write (RTO %s)%s; Read/Write then fail with %s\n",
				window(rx.FirstRetransmit), Seconds(rx.FirstRTO), budget, retransmitErr(o.Platform.OS))
		}
		fmt.Fprintf(b, "  rule      %s\n", pr.Rule)
		if len(pr.Values) > 0 {
			fmt.Fprintf(b, "  host      %s: %s\n", o.ValuesFrom, hostValues(pr.Values))
		}
		for _, qk := range o.Quirks {
			fmt.Fprintf(b, "  note      %s\n", qk.Text)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
