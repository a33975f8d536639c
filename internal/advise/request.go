package advise

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// Request is one `coordinator model` invocation as its flags give it; Run
// checks it and answers. Every error names the flag, the value and what is
// allowed.
type Request struct {
	// OS is --os: a comma-separated list of linux, windows, macos (or
	// darwin).
	OS string
	// Idle, Interval and Count are --idle, --interval and --count; the
	// *Set fields say whether the flag was given at all.
	Idle, Interval time.Duration
	Count          int
	IdleSet        bool
	IntervalSet    bool
	CountSet       bool
	// Mode is --mode: listener, per-connection or listener-go-default.
	Mode string
	// HZ is --hz, the Linux tick rate; HZSet says it was given (otherwise
	// this host's, or 250 off Linux). 0 means unknown.
	HZ    int
	HZSet bool
	// UserTimeout is --user-timeout (0 = unset): Linux TCP_USER_TIMEOUT; in
	// the unacked and user-timeout scenarios also Windows TCP_MAXRT and
	// macOS TCP_RXT_CONNDROPTIME (whole seconds).
	UserTimeout time.Duration
	// Scenario is --scenario: idle (also when empty), unacked or
	// user-timeout.
	Scenario string
	// RTT is --rtt, the smoothed RTT before the fault (unacked); RTTSet
	// says the flag was given.
	RTT    time.Duration
	RTTSet bool
	// OSDefaults is --os-defaults: stock retransmission values for every
	// OS instead of this host's (unacked).
	OSDefaults bool
	// WindowsBuild is --windows-build (0 = unknown, the newest behaviour).
	WindowsBuild int
	// DetectWithin is --detect-within: search settings instead of
	// predicting (0 = predict).
	DetectWithin time.Duration
	// MinCount and Top are --min-count and --top, used with DetectWithin;
	// SearchFlagsSet says either was given.
	MinCount       int
	Top            int
	SearchFlagsSet bool
	// Results are the --results files (patterns already expanded).
	Results []string
	// JSON is --json: print the Model or Advice document instead of text.
	JSON bool
}

// DefaultHZ is the Linux tick rate modelled when the host cannot say (not
// Linux, or no kernel config and no TCP_INFO): the common distribution
// kernels' CONFIG_HZ.
const DefaultHZ = 250

// ParseOSes reads an --os list into platforms, macos and darwin being the
// same OS and each OS once.
func ParseOSes(list string, windowsBuild int) ([]keepalive.Platform, error) {
	var ps []keepalive.Platform
	seen := map[string]bool{}
	for _, f := range strings.Split(list, ",") {
		name := strings.ToLower(strings.TrimSpace(f))
		goos := name
		switch name {
		case "":
			continue
		case "macos", "mac", "osx":
			goos = "darwin"
		case "linux", "windows", "darwin":
		default:
			return nil, fmt.Errorf("--os %q: %q is not an OS kalab models; allowed linux, windows, macos (or darwin), comma-separated", list, f)
		}
		if seen[goos] {
			continue
		}
		seen[goos] = true
		p := keepalive.Platform{OS: goos}
		if goos == "windows" {
			p.Build = windowsBuild
		}
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("--os %q lists no OS: give linux, windows, macos (comma-separated)", list)
	}
	if windowsBuild != 0 && !seen["windows"] {
		return nil, fmt.Errorf("--windows-build %d applies to windows, which --os %q does not list", windowsBuild, list)
	}
	return ps, nil
}

// HostHZ is this host's Linux tick rate and where it came from, or
// DefaultHZ with the reason when the host cannot say.
func HostHZ() (int, string) {
	if runtime.GOOS != "linux" {
		return DefaultHZ, fmt.Sprintf("the common default: this host runs %s (give --hz)", runtime.GOOS)
	}
	hz, src, err := keepalive.DetectHZ()
	if err != nil {
		return DefaultHZ, fmt.Sprintf("the common default: this host's HZ is unknown (%v; give --hz)", err)
	}
	return hz, "this host's (" + src + ")"
}

// query checks the flags that every answer shares.
func (r Request) query() (Query, error) {
	if r.WindowsBuild < 0 || (r.WindowsBuild > 0 && r.WindowsBuild < 6000) {
		return Query{}, fmt.Errorf("--windows-build %d: allowed 0 (unknown: Windows 10 1709 or later) or a build number from 6000 (Vista), e.g. 14393 (Server 2016) or 17763 (Server 2019)", r.WindowsBuild)
	}
	ps, err := ParseOSes(r.OS, r.WindowsBuild)
	if err != nil {
		return Query{}, err
	}
	mode, err := keepalive.ParseMode(r.Mode)
	if err != nil {
		return Query{}, fmt.Errorf("--mode %q: allowed %s, %s or %s", r.Mode, keepalive.ModeListener, keepalive.ModePerConn, keepalive.ModeListenerGoDefault)
	}
	if r.UserTimeout < 0 || r.UserTimeout%time.Millisecond != 0 {
		return Query{}, fmt.Errorf("--user-timeout %s: allowed 0 (unset) or a positive number of whole milliseconds, e.g. 5s", r.UserTimeout)
	}
	sc, err := r.scenario(ps)
	if err != nil {
		return Query{}, err
	}
	q := Query{Platforms: ps, Mode: mode, Phase: phase, UserTimeout: r.UserTimeout, Scenario: sc, OSDefaults: r.OSDefaults}
	if sc == keepalive.ScenarioUnacked {
		q.RTT = r.RTT
	}
	hasLinux := false
	for _, p := range ps {
		hasLinux = hasLinux || p.OS == "linux"
	}
	switch {
	case r.HZSet && (r.HZ < 0 || r.HZ > 10000):
		return Query{}, fmt.Errorf("--hz %d: allowed 0 (unknown: each firing up to 1/8 late) or a tick rate such as 100, 250, 300 or 1000", r.HZ)
	case r.HZSet:
		q.HZ, q.HZSource = r.HZ, "from --hz"
	case hasLinux:
		q.HZ, q.HZSource = HostHZ()
	}
	return q, nil
}

// MaxUserTimeout is the largest --user-timeout the scenarios model.
const MaxUserTimeout = 2 * time.Hour

// scenario checks --scenario and the flags that only some scenarios take:
// --rtt and --os-defaults are for unacked, a user timeout is required for
// user-timeout, and Windows' and macOS's options take whole seconds.
func (r Request) scenario(ps []keepalive.Platform) (keepalive.Scenario, error) {
	sc := keepalive.ScenarioIdle
	if r.Scenario != "" {
		var err error
		if sc, err = keepalive.ParseScenario(r.Scenario); err != nil {
			return "", fmt.Errorf("--scenario %q: allowed idle (keepalive on an idle connection), unacked (the server writes after the fault) "+
				"or user-timeout (keepalive and the OS's cap on unacknowledged time)", r.Scenario)
		}
	}
	switch {
	case sc == keepalive.ScenarioHeartbeat:
		return "", fmt.Errorf("--scenario heartbeat has nothing for the OS models to answer: the application declares the peer dead " +
			"misses × period after its last answer, on every OS; measure it with scenario = \"heartbeat\" in an experiment (configs/mechanisms.toml)")
	case sc != keepalive.ScenarioUnacked && (r.RTTSet || r.OSDefaults):
		return "", fmt.Errorf("--rtt and --os-defaults apply to --scenario unacked (they set the retransmission timer), not %s", sc)
	case r.RTT < 0 || r.RTT > time.Minute:
		return "", fmt.Errorf("--rtt %s: allowed 0 (the RTO starts at its floor) up to 1m0s, e.g. 1ms", r.RTT)
	case sc == keepalive.ScenarioUserTimeout && r.UserTimeout == 0:
		return "", fmt.Errorf("--scenario user-timeout needs --user-timeout, e.g. 5s: the cap on unacknowledged time set with keepalive")
	case sc != keepalive.ScenarioIdle && r.UserTimeout > MaxUserTimeout:
		return "", fmt.Errorf("--user-timeout %s: allowed up to %s", r.UserTimeout, MaxUserTimeout)
	case sc != keepalive.ScenarioIdle && r.DetectWithin != 0:
		return "", fmt.Errorf("--detect-within searches keepalive settings for --scenario idle; with --scenario %s give the settings "+
			"(or none, for unacked) and read the window", sc)
	case sc != keepalive.ScenarioIdle && len(r.Results) > 0:
		return "", fmt.Errorf("--results compares runs with --scenario idle only; drop --results or --scenario %s", sc)
	}
	if sc != keepalive.ScenarioIdle && r.UserTimeout%time.Second != 0 {
		for _, p := range ps {
			if p.OS != "linux" {
				return "", fmt.Errorf("--user-timeout %s: %s's %s takes whole seconds (kalab does not round); give e.g. %s, or drop %s from --os",
					r.UserTimeout, Name(p.OS), keepalive.UserTimeoutOption(p.OS), (r.UserTimeout + time.Second - 1).Truncate(time.Second), Name(p.OS))
			}
		}
	}
	return sc, nil
}

// settings checks --idle, --interval and --count for a prediction.
func (r Request) settings() (keepalive.Settings, error) {
	if r.SearchFlagsSet {
		return keepalive.Settings{}, fmt.Errorf("--min-count and --top only apply with --detect-within")
	}
	for _, f := range []struct {
		name, eg string
		set      bool
	}{{"idle", "1s", r.IdleSet}, {"interval", "3s", r.IntervalSet}, {"count", "10", r.CountSet}} {
		if !f.set {
			return keepalive.Settings{}, fmt.Errorf("--%s is required to predict (e.g. --idle 1s --interval 3s --count 10), or search settings with --detect-within", f.name)
		}
	}
	switch {
	case r.Idle <= 0:
		return keepalive.Settings{}, fmt.Errorf("--idle %s: must be positive, e.g. 1s", r.Idle)
	case r.Interval <= 0:
		return keepalive.Settings{}, fmt.Errorf("--interval %s: must be positive, e.g. 1s", r.Interval)
	case r.Count < 1:
		return keepalive.Settings{}, fmt.Errorf("--count %d: must be at least 1 (Linux 1..127, Windows 1..255, macOS 1..2147483647)", r.Count)
	}
	return keepalive.Settings{Idle: r.Idle, Interval: r.Interval, Count: r.Count}, nil
}

// Run answers r on stdout (text, or the JSON document with r.JSON); the
// warnings about results files go to stderr.
func Run(stdout, stderr io.Writer, r Request) error {
	q, err := r.query()
	if err != nil {
		return err
	}
	var doc any
	var text func(io.Writer) error
	if q.Scenario != keepalive.ScenarioIdle {
		var s *keepalive.Settings
		if q.Scenario == keepalive.ScenarioUserTimeout || r.IdleSet || r.IntervalSet || r.CountSet {
			st, err := r.settings()
			if err != nil {
				return err
			}
			s = &st
		}
		m, err := PredictScenarios(q, s)
		if err != nil {
			return err
		}
		doc, text = m, func(w io.Writer) error { return WriteScenario(w, m) }
	} else if r.DetectWithin != 0 {
		for _, f := range []struct {
			name string
			set  bool
		}{{"idle", r.IdleSet}, {"interval", r.IntervalSet}, {"count", r.CountSet}} {
			if f.set {
				return fmt.Errorf("--%s cannot be combined with --detect-within: the search chooses idle, interval and count (require a count with --min-count)", f.name)
			}
		}
		if r.MinCount < 1 || r.Top < 1 || r.Top > 20 {
			return fmt.Errorf("--min-count %d --top %d: --min-count must be at least 1 and --top 1..20", r.MinCount, r.Top)
		}
		a, err := Search(q, r.DetectWithin, r.MinCount, r.Top)
		if err != nil {
			return err
		}
		if err := r.compare(func(rs []results.Result, rr *ResultsRead) { CompareAdvice(&a, rs, rr) }); err != nil {
			return err
		}
		doc, text = a, func(w io.Writer) error { return WriteAdvice(w, a) }
	} else {
		s, err := r.settings()
		if err != nil {
			return err
		}
		m, err := Predict(q, s)
		if err != nil {
			return err
		}
		if err := r.compare(func(rs []results.Result, rr *ResultsRead) { CompareModel(&m, rs, rr) }); err != nil {
			return err
		}
		doc, text = m, func(w io.Writer) error { return WriteModel(w, m) }
	}
	if rr := resultsOf(doc); rr != nil {
		for _, w := range rr.Warnings {
			fmt.Fprintln(stderr, "warning:", w)
		}
	}
	if r.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	return text(stdout)
}

// resultsOf returns the ResultsRead of a Model or Advice.
func resultsOf(doc any) *ResultsRead {
	switch d := doc.(type) {
	case Model:
		return d.Results
	case Advice:
		return d.Results
	}
	return nil
}

// compare reads the --results files, if any, and hands them to apply.
func (r Request) compare(apply func([]results.Result, *ResultsRead)) error {
	if len(r.Results) == 0 {
		return nil
	}
	rs, rr, err := ReadResults(r.Results)
	if err != nil {
		return err
	}
	apply(rs, rr)
	return nil
}
