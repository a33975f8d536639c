// Package report turns experiment results (results.jsonl) into a report
// that opens with the answer (one sentence per group: what the server
// noticed, when, against the model; the other OSes from the model where
// the results lack them), then runs grouped by what was compared,
// detection times against the model per anchor, the published Windows
// measurement's figures, findings derived from the data, host facts, one
// row per run and a glossary. Build computes; Write renders report.html
// (inline CSS and SVG charts), report.md, report.json and runs.csv from the
// same Report, so every file says the same thing.
//
// The report only states what the results show. Fixture results (built from
// the model) are labelled as fixtures everywhere, never as measurements.
package report

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// Schema versions report.json (docs/report-json.md); bump it when a field
// changes meaning or disappears. 2 added p95, vs-model deviations, hosts,
// per-run anchors and effective options; 3 the answers, the other OSes,
// skipped runs, and vs-model verdicts decided by results.Judge's
// tolerance (heartbeat runs compared too).
const Schema = 3

// Sources of a result: where its numbers come from.
const (
	SourceHosts   = "hosts"   // measured on real agents
	SourceLab     = "lab"     // measured in the Linux namespace lab
	SourceFixture = "fixture" // built from the model, not measured
)

// Report is the whole report, as written to report.json.
type Report struct {
	// Schema versions report.json (docs/report-json.md).
	Schema int `json:"schema"`
	// Generated is when Build ran (UTC); tests overwrite it with a fixed time.
	Generated time.Time `json:"generated,omitzero"`
	// Answers are the report's first section: one sentence per group, in
	// group order, saying what the server noticed and when.
	Answers []Answer `json:"answers"`
	// OtherOSes are the mechanisms measured on only some of Linux, Windows
	// and macOS, with the model's answer (not measured) for the others;
	// empty (omitted) when every mechanism was measured on all three.
	OtherOSes   []OtherOSRow   `json:"other_oses,omitempty"`
	Experiments []string       `json:"experiments"`
	Groups      []Group        `json:"groups"`
	Reference   []ReferenceRow `json:"reference"`
	Findings    []string       `json:"findings"`
	Hosts       []HostRow      `json:"hosts"`
	Runs        []RunRow       `json:"runs"`
	// FirstDetection compares the mechanisms (keepalive settings, scenario,
	// heartbeat) side by side per server and fault: "which mechanism
	// detects first"; nil (omitted) when the results hold fewer than two
	// mechanisms.
	FirstDetection *FirstDetection `json:"first_detection,omitempty"`
	// Outages are the groups whose fault healed after a hold, against the
	// model's detection window; empty (omitted) when no run had a hold.
	Outages []OutageRow `json:"outages,omitempty"`
	// Services are the groups that measured a real service (an
	// experiment's [target]) instead of kalab's own server, one row each
	// with a finding in plain words; empty (omitted) without such runs.
	Services []ServiceRow `json:"services,omitempty"`

	runs     []results.Result // in input order, for timelines and runs.csv
	sections []FindingSection // Findings, titled, for report.html and report.md
	plan     *timelinePlan    // which timelines report.html draws (timelinePlan)
}

// Group is every run with the same server OS and version, requested
// settings, mode, fault (kind, scope and drop direction) and source: the
// unit of comparison.
type Group struct {
	ID        string `json:"id"`    // G1, G2, … in report order
	Label     string `json:"label"` // one line naming the group, used in findings
	OS        string `json:"os"`
	OSVersion string `json:"os_version,omitempty"`
	// Build is the Windows build number: it decides which options exist.
	Build int `json:"build,omitempty"`
	// Server names the OS the way readers know it ("Windows 10 1607 (10.0.14393)").
	Server     string             `json:"server"`
	Requested  keepalive.Settings `json:"requested"`
	Mode       keepalive.Mode     `json:"mode"`
	FaultKind  string             `json:"fault_kind"`
	FaultScope string             `json:"fault_scope,omitempty"`
	// FaultDirection is "to-server" or "to-client" for a one-way drop, so
	// one-way groups stay apart from drops both ways; empty for a drop both
	// ways (recorded as "both", or not at all before kalab had directions)
	// and for every other kind.
	FaultDirection string `json:"fault_direction,omitempty"`
	// Hold is how long the group's faults were held before they healed
	// (results.Result.Hold), so each hold is its own group; 0 (omitted)
	// for faults held through the observation.
	Hold time.Duration `json:"hold_ns,omitempty"`
	// Scenario is the runs' results.Result.Scenario ("unacked",
	// "user-timeout"; empty, omitted, for idle) and UserTimeout the user
	// timeout the server was asked for (0, omitted, for none), so each
	// scenario and user timeout is its own group.
	Scenario    keepalive.Scenario `json:"scenario,omitempty"`
	UserTimeout time.Duration      `json:"user_timeout_ns,omitempty"`
	// Heartbeat is the application heartbeat of a heartbeat group (its
	// Requested is then zero and Mode empty: keepalive was off); nil
	// (omitted) otherwise. Each period and misses is its own group.
	Heartbeat *keepalive.Heartbeat `json:"heartbeat,omitempty"`
	// Target is the real service the group measured instead of kalab's
	// own server (results.Result.Target): its identity (agent, port,
	// process, product, version, config lines, where its options were
	// read, method), with for bisection the group's bracket and trials;
	// the per-run pid, ended and timer are in the runs' target and
	// TargetEnded. Nil (omitted) for kalab's own server; each service,
	// port, configuration and method is its own group, and Mode is then
	// empty (the service set its options, not kalab).
	Target *results.Target `json:"target,omitempty"`
	// TargetEnded counts how the service's side of the group's runs ended
	// (results.Ended* names; "" runs, still open or bisected, are not
	// counted); nil (omitted) for kalab's own server.
	TargetEnded []Tally `json:"target_ended,omitempty"`
	// Mechanism names what detects in this group, as keepalive.Label
	// writes it: "1s/1s/10", "1s/1s/10 unacked uto 5s", "heartbeat
	// 200ms×3"; for a service, the service with its options
	// ("redis-server 7.0.15 :6379 (tcp-keepalive 3 → 3s/1s/3 read from
	// its socket)").
	Mechanism string              `json:"mechanism"`
	Emulated  bool                `json:"emulated,omitempty"`
	Source    string              `json:"source"`
	Expect    results.Expectation `json:"expect"`
	Runs      int                 `json:"runs"`
	RunIDs    []string            `json:"run_ids"`
	// Model is the prediction of the first run that carries one.
	Model *Model `json:"model,omitempty"`
	// Detection − anchor over the runs that have the anchor; nil when none.
	FromT0        *Stats `json:"from_t0,omitempty"`
	AfterFault    *Stats `json:"after_fault,omitempty"`
	AfterPingLoss *Stats `json:"after_ping_loss,omitempty"`
	// Lateness is FromT0 − model minimum, over runs of groups that expect a
	// keepalive detection.
	Lateness *Stats `json:"lateness,omitempty"`
	// VsModel counts how the detected runs' tightest anchor compares with
	// the model window; nil when no run could be compared.
	VsModel   *VsModel        `json:"vs_model,omitempty"`
	Effective []EffectiveSeen `json:"effective"`
	// Errors are the errno names (or EOF) the blocked Read returned.
	Errors   []Tally  `json:"errors,omitempty"`
	Outcomes Outcomes `json:"outcomes"`

	members   []results.Result // the group's runs, for findings
	targetKey string           // targetKeyOf the runs: "" for kalab's own server
}

// Model is the part of a keepalive.Prediction a report shows.
type Model struct {
	// FromRun is the run whose read-back options the model used.
	FromRun    string             `json:"from_run"`
	Settings   keepalive.Settings `json:"settings"` // the (effective) settings the model used
	FromT0     keepalive.Window   `json:"from_t0"`
	AfterFault keepalive.Window   `json:"after_fault"`
	HZ         int                `json:"hz,omitempty"`
	Rule       string             `json:"rule"`
}

// Stats summarise one measured duration over a group's runs.
type Stats struct {
	// Count runs had the value; Median, Min and Max are over them.
	Count  int           `json:"count"`
	Median time.Duration `json:"median_ns"`
	Min    time.Duration `json:"min_ns"`
	Max    time.Duration `json:"max_ns"`
	// P95 is the nearest-rank 95th percentile: with fewer than 20 runs it is
	// the maximum, which is what a reader sizing a timeout needs.
	P95 time.Duration `json:"p95_ns"`
}

// Tally counts one name.
type Tally struct {
	// Name is what was counted (an errno name); N how often.
	Name string `json:"name"`
	N    int    `json:"n"`
}

// Outcomes count runs per outcome.
type Outcomes struct {
	// Pass, Deviation, Failed and Unconfirmed count runs with that
	// results.Outcome*.
	Pass        int `json:"pass"`
	Deviation   int `json:"deviation"`
	Failed      int `json:"failed"`
	Unconfirmed int `json:"unconfirmed"`
	// Interrupted counts runs cut short by Ctrl-C (resume reruns them).
	Interrupted int `json:"interrupted,omitempty"`
	// Skipped counts runs the plan did not run: the model says they
	// cannot end within max_run on the server's OS (the run's Why).
	Skipped int `json:"skipped,omitempty"`
	Other   int `json:"other,omitempty"` // outcome strings this report does not know
}

// Label is how the run is shown: its name, or its id for older results.
func (r RunRow) Label() string {
	if r.Name != "" {
		return r.Name
	}
	return r.Run
}

// RunRow is one run, flattened for the run table.
type RunRow struct {
	// Run is the run's unique id; Name is its readable name (empty for
	// results written before runs had names).
	Run        string `json:"run"`
	Name       string `json:"name,omitempty"`
	Experiment string `json:"experiment"`
	Group      string `json:"group"`
	// Timeline is the HTML anchor id of the run's timeline in report.html
	// or, in a report too large to draw every run there, in its group's
	// page timelines/<group>.html.
	Timeline   string `json:"timeline"`
	Source     string `json:"source"`
	Emulated   bool   `json:"emulated,omitempty"`
	Server     string `json:"server"`
	ServerHost string `json:"server_host"`
	ClientHost string `json:"client_host"`
	// Settings is the run's mechanism as keepalive.Label writes it
	// ("1s/1s/10 user-timeout uto 3s", "heartbeat 200ms×3").
	Settings string         `json:"settings"`
	Mode     keepalive.Mode `json:"mode"`
	// Scenario, UserTimeout and Heartbeat are the run's (results.Result
	// fields of the same names): empty/0/nil (omitted) for idle keepalive
	// without a user timeout.
	Scenario      keepalive.Scenario   `json:"scenario,omitempty"`
	UserTimeout   time.Duration        `json:"user_timeout_ns,omitempty"`
	Heartbeat     *keepalive.Heartbeat `json:"heartbeat,omitempty"`
	Fault         string               `json:"fault"`
	Expect        string               `json:"expect"`
	Outcome       string               `json:"outcome"`
	Why           string               `json:"why,omitempty"`
	Detected      bool                 `json:"detected"`
	FromT0        *time.Duration       `json:"from_t0_ns,omitempty"`
	AfterFault    *time.Duration       `json:"after_fault_ns,omitempty"`
	AfterPingLoss *time.Duration       `json:"after_ping_loss_ns,omitempty"`
	Lateness      *time.Duration       `json:"lateness_ns,omitempty"`
	// Deviation compares the run with the model window (deviation.go).
	Deviation *Deviation `json:"deviation,omitempty"`
	// Effective is the read-back idle/interval/count ("?" = unknown) and
	// EffectiveStatus how it compares with the request.
	Effective       string `json:"effective"`
	EffectiveStatus string `json:"effective_status"`
	Errno           string `json:"errno,omitempty"`
	Probes          *int   `json:"probes,omitempty"`
	Failure         string `json:"failure,omitempty"`
	// Hold is the fault's hold (0, omitted, without one); EchoRTT is the
	// round trip of the echo after the heal of a survives run, nil when
	// none went through (results.Result.EchoRTT).
	Hold    time.Duration  `json:"hold_ns,omitempty"`
	EchoRTT *time.Duration `json:"echo_rtt_ns,omitempty"`
	// Anchors are the run's instants on the server clock, as recorded.
	Anchors results.Anchors `json:"anchors"`
	// Target is the service the run measured, as recorded
	// (results.Result.Target); nil (omitted) for kalab's own server.
	Target *results.Target `json:"target,omitempty"`
}

type groupKey struct {
	os, osVersion string
	settings      keepalive.Settings
	mode          keepalive.Mode
	kind, scope   string
	direction     string // oneWay: "" for both ways
	hold          time.Duration
	scenario      keepalive.Scenario // "" for idle
	userTimeout   time.Duration
	heartbeat     keepalive.Heartbeat // zero outside the heartbeat scenario
	expect        results.Expectation
	emulated      bool
	source        string
	target        string // targetKeyOf: "" for kalab's own server
}

// Build groups results and computes the comparison. Runs keep the order of
// results; groups are sorted by OS, source, settings, mode and fault.
func Build(rs []results.Result) *Report {
	r := &Report{Schema: Schema, Generated: time.Now().UTC().Truncate(time.Second)}
	byKey := map[groupKey]*Group{}
	var groups []*Group
	exps := map[string]bool{}
	for _, res := range rs {
		if res.Experiment != "" {
			exps[res.Experiment] = true
		}
		k := keyOf(res)
		g := byKey[k]
		if g == nil {
			g = &Group{OS: k.os, OSVersion: k.osVersion, Build: res.Server.Build, Server: serverName(k.os, k.osVersion),
				Requested: k.settings, Mode: k.mode, FaultKind: k.kind, FaultScope: k.scope, FaultDirection: k.direction, Hold: k.hold, Emulated: k.emulated,
				Scenario: k.scenario, UserTimeout: k.userTimeout, Heartbeat: heartbeatOf(k.heartbeat),
				Mechanism: keepalive.Label(k.settings, k.scenario, k.userTimeout, k.heartbeat),
				Source:    k.source, Expect: res.Expect, targetKey: k.target}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.members = append(g.members, res)
	}
	for e := range exps {
		r.Experiments = append(r.Experiments, e)
	}
	slices.Sort(r.Experiments)

	slices.SortStableFunc(groups, compareGroups)
	runGroup := map[string]string{}
	for i, g := range groups {
		g.ID = "G" + itoa(i+1)
		summarise(g)
		if g.Target != nil {
			g.Mechanism = serviceLabel(g)
		}
		g.Label = groupLabel(g)
		for _, id := range g.RunIDs {
			runGroup[id] = g.ID
		}
		r.Groups = append(r.Groups, *g)
	}
	for _, res := range rs {
		r.Runs = append(r.Runs, runRow(res, runGroup[res.Run]))
	}
	r.runs = rs
	r.Reference = referenceRows()
	r.Hosts = hosts(rs)
	r.FirstDetection = firstDetection(r.Groups)
	r.Outages = outageRows(r.Groups)
	r.Answers = answers(r.Groups)
	r.Services = serviceRows(r.Groups)
	r.OtherOSes = otherOSRows(r.Groups)
	r.sections = findings(r)
	for _, s := range r.sections {
		r.Findings = append(r.Findings, s.Items...)
	}
	// Empty lists stay [] in report.json, never null.
	r.Experiments = nonNil(r.Experiments)
	r.Groups = nonNil(r.Groups)
	r.Findings = nonNil(r.Findings)
	r.Hosts = nonNil(r.Hosts)
	r.Runs = nonNil(r.Runs)
	return r
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func keyOf(res results.Result) groupKey {
	k := groupKey{os: res.Server.OS, osVersion: res.Server.OSVersion, settings: res.Requested, mode: res.Mode,
		kind: res.FaultKind, scope: res.FaultScope, direction: oneWay(res.FaultDirection), hold: res.Hold, expect: res.Expect,
		scenario: scenarioOf(res.Scenario), userTimeout: res.UserTimeout, heartbeat: deref(res.Heartbeat),
		emulated: res.Emulated, source: sourceOf(res), target: targetKeyOf(res.Target)}
	if res.Target != nil {
		// The service set its own options: kalab's mode means nothing
		// (results from before targets recorded none still carry one).
		k.mode = ""
	}
	return k
}

// scenarioOf is a recorded scenario as reports tell it apart: "" for idle
// (written "idle", or not at all).
func scenarioOf(sc keepalive.Scenario) keepalive.Scenario {
	if sc == keepalive.ScenarioIdle {
		return ""
	}
	return sc
}

// deref is a heartbeat as a comparable key part: zero for none.
func deref(h *keepalive.Heartbeat) keepalive.Heartbeat {
	if h == nil {
		return keepalive.Heartbeat{}
	}
	return *h
}

// heartbeatOf is a key's heartbeat as report.json carries it: nil for none.
func heartbeatOf(h keepalive.Heartbeat) *keepalive.Heartbeat {
	if h.IsZero() {
		return nil
	}
	return &h
}

// oneWay is a recorded drop direction as reports tell it apart: the
// one-way directions as they are, "" for both ways (written "both", or
// not at all by kalab from before directions) and for other kinds.
func oneWay(direction string) string {
	if direction == results.DirectionBoth {
		return ""
	}
	return direction
}

// directionOrder puts drops both ways first, then to-server, to-client.
func directionOrder(direction string) int {
	if i := slices.Index(results.Directions, oneWay(direction)); i >= 0 {
		return i
	}
	if direction == "" {
		return 0
	}
	return len(results.Directions)
}

func sourceOf(res results.Result) string {
	switch {
	case res.Fixture:
		return SourceFixture
	case res.Lab:
		return SourceLab
	}
	return SourceHosts
}

// faultOrder puts the comparison's main case first and the controls after.
var faultOrder = map[string]int{results.KindDrop: 0, results.KindVMPause: 1, results.KindPause: 2, results.KindKill: 3}

// compareFaults orders faults: kind (the main case first), scope,
// direction (both ways first), hold.
func compareFaults(a, b *Group) int {
	fo := func(k string) int {
		if o, ok := faultOrder[k]; ok {
			return o
		}
		return len(faultOrder)
	}
	return cmp.Or(
		cmp.Compare(fo(a.FaultKind), fo(b.FaultKind)),
		cmp.Compare(a.FaultKind, b.FaultKind),
		cmp.Compare(a.FaultScope, b.FaultScope),
		cmp.Compare(directionOrder(a.FaultDirection), directionOrder(b.FaultDirection)),
		cmp.Compare(a.FaultDirection, b.FaultDirection),
		cmp.Compare(a.Hold, b.Hold),
	)
}

func compareGroups(a, b *Group) int {
	// The scenario leads so that group ids run in the order report.md and
	// report.html show the scenarios' subsections.
	return cmp.Or(
		cmp.Compare(scenarioRank(a.Scenario), scenarioRank(b.Scenario)),
		cmp.Compare(a.Scenario, b.Scenario),
		cmp.Compare(a.targetKey, b.targetKey), // kalab's own server ("") first
		cmp.Compare(a.OS, b.OS),
		cmp.Compare(a.OSVersion, b.OSVersion),
		cmp.Compare(a.Source, b.Source),
		cmp.Compare(a.Requested.Idle, b.Requested.Idle),
		cmp.Compare(a.Requested.Interval, b.Requested.Interval),
		cmp.Compare(a.Requested.Count, b.Requested.Count),
		cmp.Compare(a.Mode, b.Mode),
		compareFaults(a, b),
		cmp.Compare(a.UserTimeout, b.UserTimeout),
		compareHeartbeats(a.Heartbeat, b.Heartbeat),
		cmp.Compare(a.Expect, b.Expect),
		boolCmp(a.Emulated, b.Emulated),
	)
}

func compareHeartbeats(a, b *keepalive.Heartbeat) int {
	x, y := deref(a), deref(b)
	return cmp.Or(cmp.Compare(x.Period, y.Period), cmp.Compare(x.Misses, y.Misses))
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// summarise fills a group's counts and statistics from its results.
func summarise(g *Group) {
	var fromT0, afterFault, afterPing, late []time.Duration
	errs := map[string]int{}
	for _, res := range g.members {
		g.Runs++
		g.RunIDs = append(g.RunIDs, res.Run)
		if g.Model == nil && res.Model != nil {
			p := res.Model
			g.Model = &Model{FromRun: res.Run, Settings: p.Settings, FromT0: p.FromT0, AfterFault: p.AfterFault, HZ: p.HZ, Rule: p.Rule}
		}
		m := res.Measured
		fromT0 = appendSet(fromT0, m.FromT0)
		afterFault = appendSet(afterFault, m.AfterFault)
		afterPing = appendSet(afterPing, m.AfterPingLoss)
		if g.Expect == results.ExpectDetected {
			// Lateness against the keepalive model means nothing for a
			// kill or a pause, though the executor computes it for every run.
			late = appendSet(late, m.Lateness)
		}
		if e := errLabel(res); e != "" {
			errs[e]++
		}
		switch res.Outcome {
		case results.OutcomePass:
			g.Outcomes.Pass++
		case results.OutcomeDeviation:
			g.Outcomes.Deviation++
		case results.OutcomeFailed:
			g.Outcomes.Failed++
		case results.OutcomeUnconfirmed:
			g.Outcomes.Unconfirmed++
		case results.OutcomeInterrupted:
			g.Outcomes.Interrupted++
		case results.OutcomeSkipped:
			g.Outcomes.Skipped++
		default:
			g.Outcomes.Other++
		}
	}
	g.FromT0, g.AfterFault, g.AfterPingLoss, g.Lateness = stats(fromT0), stats(afterFault), stats(afterPing), stats(late)
	g.Errors = tallies(errs)
	g.Effective = effectiveSeen(g)
	g.VsModel = vsModel(g.members)
	g.Target, g.TargetEnded = groupTarget(g.members)
}

func appendSet(ds []time.Duration, d *time.Duration) []time.Duration {
	if d == nil {
		return ds
	}
	return append(ds, *d)
}

// stats returns nil for no values; the median of an even count is the mean
// of the two middle values.
func stats(ds []time.Duration) *Stats {
	if len(ds) == 0 {
		return nil
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = s[n/2-1] + (s[n/2]-s[n/2-1])/2
	}
	// Nearest rank: the smallest value with at least 95% of values ≤ it.
	rank := (95*n + 99) / 100
	return &Stats{Count: n, Median: med, Min: s[0], Max: s[n-1], P95: s[rank-1]}
}

func tallies(m map[string]int) []Tally {
	var out []Tally
	for k, n := range m {
		out = append(out, Tally{k, n})
	}
	slices.SortFunc(out, func(a, b Tally) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// errLabel names the error a run's Read returned: the errno name, or EOF
// (a FIN from a killed peer carries no errno).
func errLabel(res results.Result) string {
	if res.ErrnoName != "" {
		return res.ErrnoName
	}
	if res.Err == "EOF" || strings.HasSuffix(res.Err, ": EOF") {
		return "EOF"
	}
	return ""
}

func runRow(res results.Result, group string) RunRow {
	status, _ := compareEffective(res.Requested, scenarioOf(res.Scenario), res.Effective)
	return RunRow{
		Run: res.Run, Name: res.Name, Experiment: res.Experiment, Group: group, Timeline: timelineID(res.Run),
		Source: sourceOf(res), Emulated: res.Emulated, Server: serverName(res.Server.OS, res.Server.OSVersion),
		ServerHost: res.Server.Name, ClientHost: res.Client.Name,
		Settings: keepalive.Label(res.Requested, scenarioOf(res.Scenario), res.UserTimeout, deref(res.Heartbeat)), Mode: res.Mode,
		Scenario: scenarioOf(res.Scenario), UserTimeout: res.UserTimeout, Heartbeat: res.Heartbeat,
		Fault: faultName(res.FaultKind, res.FaultScope, res.FaultDirection, res.Hold, res.Emulated), Expect: string(res.Expect),
		Outcome: res.Outcome, Why: res.Why,
		Detected: res.Detected, FromT0: res.Measured.FromT0, AfterFault: res.Measured.AfterFault,
		AfterPingLoss: res.Measured.AfterPingLoss, Lateness: res.Measured.Lateness, Deviation: deviation(res),
		Effective: effectiveShort(res.Effective), EffectiveStatus: status,
		Errno: errLabel(res), Probes: res.Probes, Failure: res.Failure, Anchors: res.Anchors,
		Hold: res.Hold, EchoRTT: res.EchoRTT, Target: res.Target,
	}
}

// timelineID is the HTML id of a run's timeline: run ids are made of
// letters, digits and dashes, anything else becomes "_" so the id stays a
// valid fragment.
func timelineID(run string) string {
	b := []byte(run)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return "run-" + string(b)
}

// osNames are the names readers know.
var osNames = map[string]string{"linux": "Linux", "windows": "Windows", "darwin": "macOS"}

// windowsReleases name the builds readers know by their release; the build
// number decides which keepalive options exist (keepalive.WindowsBuild*).
var windowsReleases = map[int]string{
	10240: "10 1507", 10586: "10 1511", 14393: "10 1607", 15063: "10 1703", 16299: "10 1709",
	17134: "10 1803", 17763: "10 1809", 18362: "10 1903", 18363: "10 1909", 19041: "10 2004",
	19042: "10 20H2", 19043: "10 21H1", 19044: "10 21H2", 19045: "10 22H2", 20348: "Server 2022",
	22000: "11 21H2", 22621: "11 22H2", 22631: "11 23H2", 26100: "11 24H2",
}

func serverName(os, version string) string {
	n := osNames[os]
	if n == "" {
		n = cmp.Or(os, "unknown OS")
	}
	if os == "windows" {
		// "10.0.14393" → "Windows 10 1607 (10.0.14393)".
		if i := strings.LastIndexByte(version, '.'); i >= 0 {
			if b, err := strconv.Atoi(version[i+1:]); err == nil && windowsReleases[b] != "" {
				return n + " " + windowsReleases[b] + " (" + version + ")"
			}
		}
	}
	if version != "" {
		n += " " + version
	}
	return n
}

// faultName is how a report names a fault: kind, scope, and for a one-way
// drop its direction in arrows and in words, since "→server" alone does
// not say whose packets were lost ("drop flow→server (the client's
// answers lost)").
func faultName(kind, scope, direction string, hold time.Duration, emulated bool) string {
	s := kind
	if scope != "" {
		s += " " + scope
	}
	s += results.DirectionSuffix(direction)
	if hold > 0 {
		s += " hold " + hold.String()
	}
	s += directionWords(direction)
	if emulated {
		s += " (emulated)"
	}
	return s
}

// directionWords says for people what a one-way drop lost: the arrow
// names where the lost packets were going.
func directionWords(direction string) string {
	switch direction {
	case results.DirectionToServer:
		return " (the client's answers lost)"
	case results.DirectionToClient:
		return " (the server's packets lost)"
	}
	return ""
}

func groupLabel(g *Group) string {
	what := g.Mechanism + " (" + modeText(g.Mode, g.Scenario) + ")"
	if g.Target != nil {
		what = g.Mechanism // the service and its options instead of kalab's settings and mode
	}
	return serverName(g.OS, g.OSVersion) + " " + what + " " +
		faultName(g.FaultKind, g.FaultScope, g.FaultDirection, g.Hold, false) + " [" + sourceText(g) + "]"
}

var itoa = strconv.Itoa
