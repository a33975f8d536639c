package experiment

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// Cell is one (settings, fault) combination for one OS, before agents are
// chosen; repetitions and agent pairs multiply it into runs.
type Cell struct {
	// OS is the server OS the cell is for (a GOOS value that
	// server.select.os can match); runs use only servers of that OS.
	OS string
	// Settings are the [[settings]] entry's values as requested; the model
	// below uses what the server is predicted to apply instead. Zero in the
	// heartbeat scenario (keepalive off).
	Settings keepalive.Settings
	// Mode is the entry's mode, or server.mode when the entry has none;
	// empty in the heartbeat scenario.
	Mode keepalive.Mode
	// Fault is the [[faults]] entry, with the drop scope and direction
	// defaulted.
	Fault FaultEntry
	// Expect is what Fault should lead to: detection in the window,
	// none (pause), or an immediate close (kill); with a hold, survives or
	// detection in the window (holdExpectation).
	Expect results.Expectation
	// Model is the Linux-exact / documented prediction for the cycling phase
	// with the requested settings (the executor re-predicts from the
	// read-back values).
	Model keepalive.Prediction
	// Scenario is what the server's connection does after the fault (the
	// entry's scenario, or the top-level one); UserTimeout is the cap the
	// server puts on the accepted socket (0: none).
	Scenario    keepalive.Scenario
	UserTimeout time.Duration
	// Heartbeat is the application heartbeat of the heartbeat scenario;
	// zero otherwise.
	Heartbeat keepalive.Heartbeat
	// Target names the real service the cell measures ("redis-server:6379")
	// when the experiment has a [target]; Settings are then the plan's
	// guess of what it applies.
	Target string
	// Settle, Observe: how long the run idles before the fault and how long
	// it then waits at most (for survives: the hold, the echo's 5 s and the
	// margin). Longest is their sum plus setup, what max_run bounds;
	// Expected is the typical run, for estimates: a run expecting
	// detection ends at it, in mid-window, not at the end of Observe.
	Settle, Observe, Longest, Expected time.Duration
	// Skip, when not empty, says why the cell is planned but not run: the
	// model says its run cannot end within max_run on this OS. Its runs are
	// recorded as results.OutcomeSkipped with this reason.
	Skip string
}

// RunName is a run's name for people: fault, settings, server→client and
// repetition, e.g. "drop·1s/1s/3·agent-2→agent-1·#1", or for a one-way drop
// "drop→server·1s/1s/3·agent-2→agent-1·#1" (FaultEntry.String). The mode is
// added when it is not the default listener mode. Names need not be unique
// (results carry a unique id); they must be readable at a glance.
func RunName(c Cell, server, client string, rep int) string {
	parts := []string{c.Fault.String(), c.Label()}
	if c.Mode != keepalive.ModeListener && c.Mode != "" {
		parts = append(parts, string(c.Mode))
	}
	parts = append(parts, server+"→"+client, "#"+strconv.Itoa(rep))
	return strings.Join(parts, "·")
}

// PlanRTT is the round-trip time the plan's retransmission model assumes
// (the lab's and a LAN's are well under it); runs use the RTT the
// server's agent measured where its OS has TCP_INFO.
const PlanRTT = time.Millisecond

// CellModel predicts one cell's detection for its scenario on plat with
// the settings eff the server is predicted to apply: Predict for idle and
// user-timeout (on Linux the user timeout replaces the count), the
// retransmission model for unacked with limits (the server host's values)
// and rtt (the connection's smoothed RTT before the write), where
// AfterFault runs from the write and FromT0 is zero (T0 is not the anchor).
func CellModel(plat keepalive.Platform, eff keepalive.Settings, phase keepalive.Phase, hz int, sc keepalive.Scenario, uto time.Duration, limits keepalive.RetransmitLimits, rtt time.Duration) (keepalive.Prediction, error) {
	if sc == keepalive.ScenarioHeartbeat {
		return keepalive.Prediction{}, fmt.Errorf("scenario heartbeat: the model is keepalive.PredictHeartbeat, not a keepalive model")
	}
	if sc != keepalive.ScenarioUnacked {
		o := keepalive.ModelOptions{HZ: hz}
		if plat.OS == "linux" {
			o.UserTimeout = uto
		}
		return keepalive.Predict(plat, eff, phase, o)
	}
	sp, err := keepalive.PredictScenario(plat, keepalive.ScenarioInput{Scenario: sc, Settings: &eff, Phase: phase, HZ: hz, RTT: rtt, UserTimeout: uto, Limits: limits})
	if err != nil {
		return keepalive.Prediction{}, err
	}
	p := keepalive.Prediction{Platform: plat, Settings: eff, Phase: phase, AfterFault: sp.AfterFault, HZ: hz, Rule: sp.Verdict + "; " + sp.Rule}
	if sp.Retransmit != nil {
		p.Probes = sp.Retransmit.MaxRetransmissions
	}
	return p, nil
}

// setupOverhead covers connect, greeting, fault apply and collect at
// worst, for max_run; typicalOverhead is what they take in the lab and on
// a LAN (≈0.3 s), for estimates.
const (
	setupOverhead   = 2 * time.Second
	typicalOverhead = 300 * time.Millisecond
)

// SurviveMargin is how far a hold must end before the model's earliest
// detection after the fault (Model.AfterFault.Min) for the plan to expect
// the connection to survive: it covers the heal command's trip from the
// coordinator to the client's agent (the outage lasts the hold plus that)
// and timer slack. A hold between AfterFault.Min − SurviveMargin and
// AfterFault.Max + results.LateTolerance is refused: there the outcome
// would be a coin toss.
const SurviveMargin = 500 * time.Millisecond

// Label names the cell's mechanism: "1s/1s/3", "1s/1s/10 unacked uto 5s",
// "heartbeat 200ms×3" (keepalive.Label).
func (c Cell) Label() string {
	if c.Target != "" {
		return c.Target
	}
	return keepalive.Label(c.Settings, c.Scenario, c.UserTimeout, c.Heartbeat)
}

// echoAllowance is the observation a survives run adds after the heal for
// the echo (the server waits at most role.EchoTimeout, 5 s, for it).
const echoAllowance = 5 * time.Second

// holdExpectation decides what a fault with a hold should lead to under
// pred: survives when the hold ends before the earliest detection minus
// SurviveMargin (always for a pause: the client's kernel keeps answering),
// detected when it ends after the latest detection plus the late
// tolerance. ok is false for a hold inside that window.
func holdExpectation(f FaultEntry, pred keepalive.Prediction) (results.Expectation, bool) {
	switch {
	case f.Kind == results.KindPause:
		return results.ExpectSurvives, true
	case f.Hold < pred.AfterFault.Min-SurviveMargin:
		return results.ExpectSurvives, true
	case f.Hold > pred.AfterFault.Max+results.LateTolerance(pred):
		return results.ExpectDetected, true
	}
	return "", false
}

// Cells expands the config for every OS the server selection can match.
// A cell whose predicted run exceeds max_run is planned as skipped (Skip
// says why and what to do), so that one OS's long default does not stop
// the others; when every cell would be skipped that is an error.
func (c *Config) Cells() ([]Cell, error) {
	oses, err := c.Server.SelectedOSes()
	if err != nil {
		return nil, err
	}
	if c.Target != nil {
		if os := c.Target.TargetOS(); os != "" {
			oses = []string{os}
		}
		var cells []Cell
		for _, os := range oses {
			for _, f := range c.Faults {
				cells = append(cells, c.targetCell(os, f))
			}
		}
		return cells, nil
	}
	var cells []Cell
	var skipErr error
	for _, os := range oses {
		for i, s := range c.Settings {
			base, err := c.cellBase(os, s)
			if err != nil {
				return nil, fmt.Errorf("settings[%d] on %s: %w", i, os, err)
			}
			mode, pred := base.Mode, base.Model
			for fi, f := range c.Faults {
				cell := base
				cell.Fault, cell.Expect = f, results.Expect(f.Kind, base.Scenario)
				if f.Hold > 0 {
					exp, ok := holdExpectation(f, pred)
					if !ok {
						return nil, c.holdWindowErr(fi, i, os, f, base.Label(), pred)
					}
					cell.Expect = exp
				}
				switch cell.Expect {
				case results.ExpectSurvives:
					cell.Observe = f.Hold + echoAllowance + c.Margin
				case results.ExpectImmediate:
					cell.Observe = results.ImmediateBound + 2*time.Second
				case results.ExpectNotDetected:
					cell.Observe = pred.AfterFault.Max + c.Margin
				default:
					cell.Observe = pred.AfterFault.Max + c.Margin
				}
				cell.Longest = setupOverhead + cell.Settle + cell.Observe
				cell.Expected = typicalOverhead + cell.Settle + cell.Observe
				switch cell.Expect {
				case results.ExpectDetected:
					cell.Expected = typicalOverhead + cell.Settle + (pred.AfterFault.Min+pred.AfterFault.Max)/2
				case results.ExpectImmediate:
					cell.Expected = typicalOverhead + cell.Settle
				case results.ExpectSurvives:
					cell.Expected = typicalOverhead + cell.Settle + f.Hold
				}
				if cell.Longest > c.MaxRun {
					hint := ""
					if keepalive.LosesListenerIdle(keepalive.Platform{OS: os}, mode) {
						hint = "; " + keepalive.ListenerIdleAdvice
					}
					cell.Skip = fmt.Sprintf("predicted run %s exceeds max_run %s%s", cell.Longest.Round(time.Second), c.MaxRun, hint)
					if skipErr == nil {
						skipErr = fmt.Errorf("%s: settings[%d] (%s, %s mode) with fault %s on %s: %s",
							c.path, i, cell.Label(), mode, f.Kind, os, cell.Skip)
					}
				}
				cells = append(cells, cell)
			}
		}
	}
	if !slices.ContainsFunc(cells, func(cl Cell) bool { return cl.Skip == "" }) {
		return nil, skipErr // every cell outlasts max_run: nothing would run
	}
	return cells, nil
}

// cellBase is what every fault of settings entry s shares on os: the
// settings, mode, scenario, the model's prediction and the settle time.
func (c *Config) cellBase(os string, s SettingsEntry) (Cell, error) {
	plat := keepalive.Platform{OS: os}
	sc := keepalive.Scenario(s.Scenario)
	if sc == "" {
		sc = keepalive.ScenarioIdle
	}
	cell := Cell{OS: os, Scenario: sc, UserTimeout: s.UserTimeout, Settle: c.Settle}
	if sc == keepalive.ScenarioHeartbeat {
		cell.Heartbeat = s.HeartbeatSettings()
		pred, err := keepalive.PredictHeartbeat(plat, cell.Heartbeat, PlanRTT)
		if err != nil {
			return cell, err
		}
		cell.Model = pred
		if cell.Settle == 0 {
			// Long enough for answers to flow: the deadline twice over.
			cell.Settle = 2*cell.Heartbeat.Deadline() + 500*time.Millisecond
		}
		return cell, nil
	}
	cell.Settings, cell.Mode = s.Keepalive(), keepalive.Mode(c.Server.Mode)
	if s.Mode != "" {
		cell.Mode = keepalive.Mode(s.Mode)
	}
	eff := keepalive.Applied(plat, cell.Settings, cell.Mode)
	hz := 0
	if os == "linux" {
		hz = 250 // the planner's guess; runs use the host's detected HZ
	}
	limits, err := keepalive.RetransmitDefaults(plat)
	if err != nil {
		return cell, err
	}
	if cell.Model, err = CellModel(plat, eff, keepalive.PhaseCycling, hz, sc, s.UserTimeout, limits, PlanRTT); err != nil {
		return cell, err
	}
	if cell.Settle == 0 {
		cell.Settle = 2*max(eff.Idle, eff.Interval) + 500*time.Millisecond
	}
	return cell, nil
}

// holdWindowErr refuses a hold that ends inside the model's detection
// window for settings[si] on os, naming the hold, the window and the holds
// that would decide.
func (c *Config) holdWindowErr(fi, si int, os string, f FaultEntry, label string, pred keepalive.Prediction) error {
	short := pred.AfterFault.Min - SurviveMargin
	long := pred.AfterFault.Max + results.LateTolerance(pred)
	fix := fmt.Sprintf("hold = %q (detected)", (long + time.Second).Truncate(time.Second).String())
	if sh := max(short-time.Second, short/2).Truncate(100 * time.Millisecond); sh > 0 {
		fix = fmt.Sprintf("hold = %q (survives) or %s", sh.String(), fix)
	}
	return c.errorAt(c.keyLine([]string{"faults", "hold"}, fi),
		fmt.Sprintf("faults[%d].hold = %s ends inside the %s model window after the fault %s (%s, settings[%d]): detection would be a coin toss", fi, f.Hold, os, pred.AfterFault, label, si),
		fmt.Sprintf("a hold under %s (earliest detection %s − %s margin: survives) or over %s (latest %s + %s late tolerance: detected)",
			short, pred.AfterFault.Min, SurviveMargin, long, pred.AfterFault.Max, results.LateTolerance(pred)), fix)
}

// Total is the expected wall time of all runs: repetitions of every cell,
// parallel at most c.Parallel at a time (a lower bound when agents are few).
func (c *Config) Total(cells []Cell) time.Duration {
	var sum time.Duration
	for _, cl := range cells {
		if cl.Skip == "" {
			sum += cl.Expected * time.Duration(c.Repetitions)
		}
	}
	return sum / time.Duration(c.Parallel)
}
