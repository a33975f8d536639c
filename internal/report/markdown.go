package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// howToRead is the one paragraph a reader needs before the tables; hz is
// the results' Linux tick rate (0: mixed or none), for the resolution.
func howToRead(hz int) string {
	return "How to read: every time is detection − anchor, shown as median (min – max, p95, n = runs that have the anchor); " +
		"p95 is the nearest rank, so the maximum below 20 runs. " +
		"**from T0**: from the last peer activity on the server (Linux TCP_INFO last ACK; server clock, no skew). " +
		"**after fault**: from the fault instant, mapped to the server clock. " +
		"**after ping loss**: from the first ICMP timeout; it exists only when the whole host went silent. " +
		"Model windows come from keepalive.Predict for the settings the socket really had. " +
		"**vs model**: how far the tightest anchor lies outside the model window, judged by the rule that gave each run its outcome. " +
		resolutionText(hz) + " " +
		"Source: *hosts* = measured on agents, *lab* = measured in the Linux namespace lab, *fixture* = built from the model (not a measurement); " +
		"*emulated* = a vm-pause played by a host drop + SIGSTOP. n/a = no value. " +
		"Charts and one timeline per run are in report.html."
}

// resolutionText states kalab's resolution and the tolerance results.Judge
// applies, once per report.
func resolutionText(hz int) string {
	tick := "4 ms at HZ=250, 10 ms at HZ=100"
	if hz > 0 {
		tick = fmt.Sprintf("%s at HZ=%d", fmtDur(jiffy(hz)), hz)
	}
	return "T0 is read in whole kernel ticks (" + tick + "): a detection up to 2 ticks early is within kalab's resolution; " +
		"up to an eighth of the model's earliest detection (at least 50 ms) late is the timer's slack; " +
		"after the fault, the clock bound either way. Such a run passes, and counts as inside (within tolerance)."
}

//go:embed markdown.tmpl
var markdownTmpl string

// mdTemplate renders report.md from an mdView; the view holds every cell
// already formatted, so the template only lays out.
var mdTemplate = template.Must(template.New("report.md").Funcs(template.FuncMap{"join": strings.Join}).Parse(markdownTmpl))

// mdTable is one Markdown table: header cells, the alignment line, rows.
type mdTable struct {
	Head  []string
	Align string
	Rows  [][]string
}

// mdScenario is one scenario's subsection of the Groups and Detection
// times tables.
type mdScenario struct {
	Title, What   string
	Groups, Times mdTable
}

// mdServices is the "Your services" section: the table, then one
// finding per service group.
type mdServices struct {
	Intro    string
	Table    mdTable
	Findings []string
}

// mdView is everything report.md shows, formatted.
type mdView struct {
	Title, Header, Fixtures, HowToRead string
	AnswerIntro                        string
	Answers                            []string
	OtherOSIntro                       string
	OtherOSes                          *mdTable    // nil: every mechanism was measured on every OS
	Services                           *mdServices // nil: no run measured a real service
	Sections                           []FindingSection
	Glossary                           []Term
	Scenarios                          []mdScenario
	First                              *mdTable // nil: fewer than two mechanisms
	Outages                            mdTable
	Reference, Hosts                   mdTable
	ReferenceSource                    string
	Deviations                         []string
	Runs                               mdTable
}

// Markdown renders the report as report.md: the same tables and findings
// as report.html, without the charts, for pasting into issues.
func (r *Report) Markdown() []byte {
	var b bytes.Buffer
	if err := mdTemplate.Execute(&b, r.markdownView()); err != nil {
		// The view is plain strings: a failure is a bug in markdown.tmpl.
		panic(fmt.Sprintf("report.md template: %v", err))
	}
	return b.Bytes()
}

func (r *Report) markdownView() mdView {
	v := mdView{Title: "kalab report", HowToRead: howToRead(linuxHZ(r.Groups)), Sections: r.sections, Deviations: deviationLines(r),
		AnswerIntro: answerIntro, OtherOSIntro: otherOSIntro, Glossary: glossary}
	for _, a := range r.Answers {
		v.Answers = append(v.Answers, a.Text+" ["+a.Group+"]")
	}
	if len(r.OtherOSes) > 0 {
		h := otherOSHead()
		v.OtherOSes = &mdTable{Head: h, Align: mdAlign(len(h))}
		for _, o := range r.OtherOSes {
			v.OtherOSes.Rows = append(v.OtherOSes.Rows, o.mdRow())
		}
	}
	if len(r.Services) > 0 {
		v.Services = &mdServices{Intro: servicesIntro, Table: mdTable{Head: serviceHead, Align: mdAlign(len(serviceHead))}}
		for _, s := range r.Services {
			v.Services.Table.Rows = append(v.Services.Table.Rows, s.mdRow())
			v.Services.Findings = append(v.Services.Findings, s.Finding+" ["+s.Group+"]")
		}
	}
	if len(r.Experiments) > 0 {
		v.Title += ": " + strings.Join(r.Experiments, ", ")
	}
	if !r.Generated.IsZero() {
		v.Header = "Generated " + r.Generated.UTC().Format(time.RFC3339) + " · "
	}
	v.Header += fmt.Sprintf("report schema %d · %s in %s.", r.Schema, plural(len(r.Runs), "run"), plural(len(r.Groups), "group"))
	if n := countSource(r.Runs, SourceFixture); n > 0 {
		v.Fixtures = fmt.Sprintf("> **Fixtures:** %d of %s are built from the model, not measured (source \"fixture\"). They are not measurements.",
			n, plural(len(r.Runs), "run"))
	}
	for _, span := range scenarioSpans(r.Groups) {
		v.Scenarios = append(v.Scenarios, mdScenarioOf(r.Groups[span[0]:span[1]]))
	}
	if t := r.FirstDetection; t != nil {
		v.First = &mdTable{Head: t.head(), Align: mdAlign(len(t.head())), Rows: t.mdRows()}
	}
	v.Outages = mdTable{Head: outageHead, Align: mdAlign(len(outageHead))}
	for _, o := range r.Outages {
		v.Outages.Rows = append(v.Outages.Rows, o.mdRow())
	}
	v.Reference = mdTable{Head: []string{"OS", "settings", "published", "measured from", "Windows model (idle + count×interval)", "Linux model (from last ACK)", "Linux at HZ=250", "note"},
		Align: "|---|---|---|---|---|---|---|---|"}
	for _, ref := range r.Reference {
		v.Reference.Rows = append(v.Reference.Rows, []string{serverName(ref.OS, ""), ref.Settings.Short(),
			fmtDur(ref.Published), cell(ref.Anchor), fmtDur(ref.WindowsModel), fmtDur(ref.LinuxModel),
			fmtDur(ref.LinuxModelHZ250), cell(ref.Note)})
	}
	if len(r.Reference) > 0 {
		v.ReferenceSource = r.Reference[0].Source + ", <" + r.Reference[0].URL + ">"
	}
	v.Hosts = mdTable{Head: []string{"host", "source", "roles", "OS", "build", "arch", "HZ", "kalab", "privileged", "capabilities", "clock offset", "offset bound", "runs"},
		Align: "|---|---|---|---|---|---|---:|---|---|---|---|---|---:|"}
	for _, h := range r.Hosts {
		hv := hostViewOf(h)
		v.Hosts.Rows = append(v.Hosts.Rows, []string{cell(h.Name), sourceLabel(h.Source, false),
			strings.Join(h.Roles, ", "), cell(h.OSName), hv.Build, cell(h.Arch), hv.HZ, cell(h.Kalab), hv.Privilege,
			cell(hv.Caps), hv.Offset, hv.Bound, itoa(h.Runs)})
	}
	v.Runs = mdTable{Head: []string{"run", "group", "source", "server", "settings", "mode", "fault", "outcome", "why", "from T0", "after fault", "after ping loss", "errno", "probes", "failure", "vs model", "effective"},
		Align: "|---|---|---|---|---|---|---|---|---|---|---|---|---|---:|---|---|---|"}
	for _, run := range r.Runs {
		probes := na
		if run.Probes != nil {
			probes = itoa(*run.Probes)
		}
		v.Runs.Rows = append(v.Runs.Rows, []string{cell(run.Label()), run.Group, sourceLabel(run.Source, run.Emulated), cell(run.Server), run.Settings,
			cell(modeText(run.Mode, run.Scenario)), cell(run.Fault), cell(run.Outcome), cell(run.Why), fmtOpt(run.FromT0),
			fmtOpt(run.AfterFault), fmtOpt(run.AfterPingLoss), cell(runEnd(run)), probes, cell(run.Failure),
			deviationText(run.Deviation), cell(effectiveRunText(run))})
	}
	return v
}

// mdScenarioOf formats one scenario's groups (all of the same scenario).
func mdScenarioOf(groups []Group) mdScenario {
	sc := mdScenario{}
	sc.Title, sc.What = scenarioHeading(groups[0].Scenario)
	sc.Groups = mdTable{Head: []string{"group", "server", "settings", "mode", "fault", "source", "runs", "expect", "outcomes", "vs model", "effective options", "errors"},
		Align: "|---|---|---|---|---|---|---:|---|---|---|---|---|"}
	sc.Times = mdTable{Head: []string{"group", "model from T0", "from T0", "lateness", "model after fault", "after fault", "after ping loss"},
		Align: "|---|---|---|---|---|---|---|"}
	for _, g := range groups {
		sc.Groups.Rows = append(sc.Groups.Rows, []string{g.ID, cell(g.Server), cell(g.Mechanism), cell(groupMode(&g)),
			cell(faultName(g.FaultKind, g.FaultScope, g.FaultDirection, g.Hold, false)), sourceLabel(g.Source, g.Emulated), itoa(g.Runs),
			cell(string(g.Expect)), outcomesText(g.Outcomes), cell(vsModelText(g.VsModel)),
			cell(effectiveText(g.Effective)), cell(groupEnds(&g))})
		mT0, mAF, eff := modelCells(&g)
		if eff != "" {
			mT0 += " for " + eff
		}
		af := fmtStats(g.AfterFault)
		if b := bracketOf(&g); b != nil {
			af = "bracket " + fmtWindow(*b) + " (bisection, " + trialsText(&g) + ")"
		}
		sc.Times.Rows = append(sc.Times.Rows, []string{g.ID, mT0, fmtStats(g.FromT0), fmtStats(g.Lateness),
			mAF, af, fmtStats(g.AfterPingLoss)})
	}
	return sc
}

// modelCells write a group's model windows from T0 and after the fault,
// and the effective settings the model used when they are not the
// requested ones ("" when they are); n/a without a model. The unacked model runs from the
// write after the fault: it has no T0 window, which a "0 ms" would hide.
func modelCells(g *Group) (fromT0, afterFault, effective string) {
	if g.Model == nil {
		return na, na, ""
	}
	fromT0, afterFault = fmtWindow(g.Model.FromT0), fmtWindow(g.Model.AfterFault)
	if g.Model.HZ > 0 {
		fromT0 += fmt.Sprintf(" (HZ=%d)", g.Model.HZ)
	}
	if g.Scenario == keepalive.ScenarioUnacked {
		fromT0 = "— (from the write)"
	}
	if g.Model.Settings != g.Requested && g.Scenario != keepalive.ScenarioHeartbeat {
		effective = g.Model.Settings.Short()
	}
	return fromT0, afterFault, effective
}

// deviationLines list every run a reader should look at, each linking to
// its timeline in report.html: runs that did not pass, runs outside their
// model window, and runs whose OS did not apply the options asked for.
func deviationLines(r *Report) []string {
	var out []string
	for _, run := range r.Runs {
		var why []string
		if run.Outcome == results.OutcomeSkipped {
			continue // not run, by plan: the findings list it with its reason
		}
		if run.Outcome != results.OutcomePass {
			why = append(why, run.Outcome+": "+cmpOrString(run.Failure, run.Why))
		}
		if d := run.Deviation; d != nil && (d.Verdict == VsEarly || d.Verdict == VsLate) {
			why = append(why, fmt.Sprintf("%s the model window %s by %s (%s)", d.Verdict, fmtWindow(d.Window), signedDur(d.By), d.Anchor))
		}
		if run.EffectiveStatus == EffectiveDiffers {
			why = append(why, "effective options "+run.Effective+", requested "+run.Settings)
		}
		if len(why) == 0 {
			continue
		}
		out = append(out, fmt.Sprintf("[%s](report.html#%s) [%s, %s]: %s", run.Label(), run.Timeline, run.Group,
			sourceLabel(run.Source, run.Emulated), strings.Join(why, "; ")))
	}
	return out
}

// verdictText is a Vs* verdict as tables show it: within-resolution
// reads "within tolerance", since the late side's allowance is the
// timer's slack rather than a measurement's resolution.
func verdictText(v string) string {
	if v == VsWithinResolution {
		return "within tolerance"
	}
	return v
}

func deviationText(d *Deviation) string {
	switch {
	case d == nil:
		return na
	case d.Verdict == VsInside:
		return VsInside
	}
	return verdictText(d.Verdict) + " " + signedDur(d.By)
}

func effectiveRunText(run RunRow) string {
	switch run.EffectiveStatus {
	case EffectiveAsRequested:
		return "as requested"
	case EffectiveDiffers:
		return "**differs**: " + run.Effective
	case EffectiveOffAsIntended:
		return heartbeatOff
	}
	return "unknown: " + run.Effective
}

// vsModelText summarises a group's deviations for a table cell.
func vsModelText(v *VsModel) string {
	switch {
	case v == nil:
		return na
	case v.Outside() > 0:
		return fmt.Sprintf("**%d of %d outside** (early %d, late %d; worst %s: %s)", v.Outside(), v.Compared, v.Early, v.Late,
			v.WorstRun, signedDur(v.WorstBy))
	case v.WithinResolution > 0:
		return fmt.Sprintf("inside (%d of %d within tolerance, max %s)", v.WithinResolution, v.Compared, signedDur(v.WorstBy))
	}
	return fmt.Sprintf("inside (%d of %d)", v.Inside, v.Compared)
}

func countSource(runs []RunRow, source string) int {
	n := 0
	for _, r := range runs {
		if r.Source == source {
			n++
		}
	}
	return n
}

// sourceLabel never lets a fixture read as a measurement.
func sourceLabel(source string, emulated bool) string {
	s := source
	if source == SourceFixture {
		s = "**fixture** (model, not measured)"
	}
	if emulated {
		s += ", emulated"
	}
	return s
}

func outcomesText(o Outcomes) string {
	var parts []string
	for _, c := range []struct {
		name string
		n    int
	}{{"pass", o.Pass}, {"deviation", o.Deviation}, {"failed", o.Failed}, {"unconfirmed", o.Unconfirmed}, {results.OutcomeInterrupted, o.Interrupted}, {results.OutcomeSkipped, o.Skipped}, {"other", o.Other}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c.name, c.n))
		}
	}
	return strings.Join(parts, ", ")
}

func effectiveText(seen []EffectiveSeen) string {
	var parts []string
	for _, e := range seen {
		var s string
		switch e.Status {
		case EffectiveAsRequested:
			s = fmt.Sprintf("as requested ×%d", e.Runs)
		case EffectiveOffAsIntended:
			s = fmt.Sprintf("%s ×%d", heartbeatOff, e.Runs)
		case EffectiveDiffers:
			s = fmt.Sprintf("**differs** ×%d: %s", e.Runs, effectiveShort(e.Effective))
			if e.Why != "" {
				s += " — " + e.Why
			}
		default:
			s = fmt.Sprintf("unknown ×%d: %s", e.Runs, effectiveShort(e.Effective))
		}
		if len(e.Effective.Notes) > 0 {
			s += " (" + strings.Join(e.Effective.Notes, "; ") + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// groupEnds is a group's errors column: the errno names kalab's server
// read, or how a service's socket ended ("its socket: keepalive-timeout
// ×2").
func groupEnds(g *Group) string {
	if g.Target != nil && len(g.TargetEnded) > 0 {
		return "its socket: " + talliesText(g.TargetEnded)
	}
	return talliesText(g.Errors)
}

// runEnd is a run's errno column: the errno kalab's server read, or how
// a service's socket ended.
func runEnd(run RunRow) string {
	if run.Errno == "" && run.Target != nil && run.Target.Ended != "" {
		return "its socket: " + run.Target.Ended
	}
	return run.Errno
}

func talliesText(ts []Tally) string {
	if len(ts) == 0 {
		return na
	}
	var parts []string
	for _, t := range ts {
		parts = append(parts, fmt.Sprintf("%s ×%d", t.Name, t.N))
	}
	return strings.Join(parts, ", ")
}
