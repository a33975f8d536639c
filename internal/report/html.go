package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// The page is one html/template (escaping every value taken from results)
// with its CSS inline: report.html must open from a mail attachment or an
// archive with no network and no other file.
//
//go:embed html.tmpl
var htmlTemplate string

// parts.tmpl holds the CSS and the timeline and run-table blocks that
// report.html and a large report's group pages (group.tmpl) share.
//
//go:embed parts.tmpl
var partsTemplate string

//go:embed group.tmpl
var groupTemplate string

var pageTemplate = func() *template.Template {
	t := template.Must(template.New("report.html").Parse(htmlTemplate))
	template.Must(t.New("parts").Parse(partsTemplate))
	template.Must(t.New("group.html").Parse(groupTemplate))
	return t
}()

// link is a text pointing to an anchor in the page.
type link struct{ Text, Href string }

// badge is a short coloured label; Class picks the colour (html.tmpl).
type badge struct {
	Text, Class string
	Href        string
}

// statCell is one anchor's statistics for the summary table.
type statCell struct {
	Median, Range, Detail string
	None                  bool
}

// effCell is one distinct set of effective options of a group.
type effCell struct {
	Mark, Class, Text, Why string
	Notes                  []string
}

// summaryRow is one group in the summary table.
type summaryRow struct {
	ID, Anchor, OS, Server      string
	RunsText                    string
	Source                      badge
	Settings, Mode, Fault       string
	ModelT0, ModelAF, ModelFor  string
	HasModel                    bool
	FromT0, AfterFault, AfterPL statCell
	VsModel                     badge
	VsDetail                    string
	Expect                      string
	Outcomes                    []badge
	Deviations                  []link
	Effective                   []effCell
}

// summarySection is one scenario's part of the summary table; the
// published reference rows go with the idle section, which they are about.
type summarySection struct {
	Title, What string
	Rows        []summaryRow
	Reference   bool
}

// outageView is one held group's outage bar with its caption.
type outageView struct {
	OutageRow
	Window string
	SVG    template.HTML
}

// refRow is one of the published Windows figures, formatted.
type refRow struct {
	Settings, Published, Anchor, Windows, Linux, LinuxHZ, Note string
}

// timelineView is one run's timeline card.
type timelineView struct {
	Timeline
	Title, Group, OS string
	// GroupHref links the group's summary row (in report.html).
	GroupHref string
	Outcome   badge
	Source    badge
	Fixture   bool
	Caption   []string
	Why       string
}

// timelineGroup is a group's timelines under one heading.
type timelineGroup struct {
	ID, Anchor, Label string
	// GroupHref links the group's summary row (in report.html).
	GroupHref string
	Runs      []timelineView
	// More links the group's page with every timeline when report.html
	// shows only some of them (a large report); nil otherwise.
	More *link
}

// runView is a run table row; its fields shadow RunRow's with their
// display form (badges, formatted durations).
type runView struct {
	RunRow
	Href, GroupHref                          string
	Outcome, SourceBadge, VsModel, Effective badge
	FromT0, AfterFault, AfterPL              string
	ProbesText, ModeText                     string
	// Errno is the errno kalab's server read, or how a service's socket
	// ended (runEnd).
	Errno string
}

// hostView is a host table row; its fields shadow HostRow's with their
// display form.
type hostView struct {
	HostRow
	Source                      badge
	Roles, Caps, Offset, Bound  string
	HZ, Build, Kalab, Privilege string
}

// pageView is everything html.tmpl shows, formatted: the template only
// lays it out.
type pageView struct {
	Title, Meta                   string
	Fixtures                      string
	AnswerIntro                   string
	Answers                       []Answer
	OtherOSIntro                  string
	OtherOSHead                   []string
	OtherOSes                     []OtherOSRow
	ServicesIntro                 string
	Services                      []ServiceRow // empty: no run measured a real service
	Glossary                      []Term
	HowToRead                     []string
	Findings                      []FindingSection // across OSes, runs that did not pass
	GroupFindings                 []string         // per group, after the charts
	Summary                       []summarySection
	First                         *FirstDetection // nil: fewer than two mechanisms
	Outages                       []outageView
	Reference                     []refRow
	ReferenceSource, ReferenceURL string
	Charts                        []Chart
	Hosts                         []hostView
	Timelines                     []timelineGroup
	// TimelineNote says which timelines a large report shows (empty: all).
	TimelineNote string
	Runs         []runView
	// RunGroups replace Runs in a large report: one row per group, linking
	// the group's page with every run.
	RunGroups []runGroupRow
}

// HTML renders report.html: summary table, detection charts, findings,
// reference figures, host facts, one timeline per run and the run table.
func (r *Report) HTML() ([]byte, error) {
	v, err := r.pageView()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("render report.html: %w", err)
	}
	return b.Bytes(), nil
}

func (r *Report) pageView() (*pageView, error) {
	v := &pageView{Title: "kalab report"}
	// The cross-OS statements lead; the per-group ones, many and long,
	// follow the charts so the summary table stays near the top.
	for _, s := range r.sections {
		if s.Class == findingsPerGroup {
			v.GroupFindings = s.Items
			continue
		}
		v.Findings = append(v.Findings, s)
	}
	if len(r.Experiments) > 0 {
		v.Title += ": " + strings.Join(r.Experiments, ", ")
	}
	meta := fmt.Sprintf("report schema %d · %s in %s", r.Schema, plural(len(r.Runs), "run"), plural(len(r.Groups), "group"))
	if !r.Generated.IsZero() {
		meta = "Generated " + r.Generated.UTC().Format(time.RFC3339) + " · " + meta
	}
	v.Meta = meta
	if n := countSource(r.Runs, SourceFixture); n > 0 {
		v.Fixtures = fmt.Sprintf("%d of %s are fixtures built from the reference model (keepalive.Predict), not measurements. They are drawn hollow and tagged \"fixture\" everywhere; their times only echo the model.",
			n, plural(len(r.Runs), "run"))
	}
	v.HowToRead = howToReadHTML(linuxHZ(r.Groups))
	v.AnswerIntro, v.Answers = answerIntro, r.Answers
	v.OtherOSIntro, v.OtherOSHead, v.OtherOSes = otherOSIntro, otherOSHead(), r.OtherOSes
	v.ServicesIntro, v.Services = servicesIntro, r.Services
	v.Glossary = glossary

	p := r.timelinePlan()
	v.Summary = summarySections(r.Groups, p)
	v.First = r.FirstDetection
	outages, err := outageViews(r.Outages)
	if err != nil {
		return nil, err
	}
	v.Outages = outages
	for _, ref := range r.Reference {
		v.Reference = append(v.Reference, refRow{Settings: ref.Settings.Short(), Published: fmtDur(ref.Published),
			Anchor: ref.Anchor, Windows: fmtDur(ref.WindowsModel), Linux: fmtDur(ref.LinuxModel),
			LinuxHZ: fmtDur(ref.LinuxModelHZ250), Note: ref.Note})
		v.ReferenceSource, v.ReferenceURL = ref.Source, ref.URL
	}
	charts, err := detectionCharts(r)
	if err != nil {
		return nil, err
	}
	v.Charts = charts
	for _, h := range r.Hosts {
		v.Hosts = append(v.Hosts, hostViewOf(h))
	}
	tls, err := timelineGroups(r, p)
	if err != nil {
		return nil, err
	}
	v.Timelines = tls
	if p.split {
		v.TimelineNote = p.note(len(r.Runs))
		for _, s := range v.Summary {
			for _, row := range s.Rows {
				v.RunGroups = append(v.RunGroups, runGroupRow{summaryRow: row, File: groupFile(row.ID)})
			}
		}
		return v, nil
	}
	for _, run := range r.Runs {
		v.Runs = append(v.Runs, runViewOf(run))
	}
	return v, nil
}

// howToReadHTML is the markdown's howToRead, one point per line.
func howToReadHTML(hz int) []string {
	return []string{
		"Every time is detection − anchor: median, then min – max, p95 and n (the runs that have the anchor). p95 is the nearest rank: the maximum below 20 runs.",
		"from T0: from the last peer activity on the server (Linux TCP_INFO last ACK; server clock, no skew). The tightest comparison with the model, where the OS exposes it.",
		"after fault: from the fault instant, mapped to the server clock (error bound: the clock-offset bounds). Every OS has it, so the charts use it.",
		"after ping loss: from the first ICMP timeout; it exists only when the whole host went silent (the published Windows measurement's \"host went silent\").",
		"Model windows come from keepalive.Predict for the settings the socket really had. vs model: how far the tightest anchor lies outside the window, judged by the rule that gave each run its outcome. " +
			resolutionText(hz),
		"Source: hosts = measured on agents; lab = measured in the Linux namespace lab; fixture = built from the model, not a measurement. Emulated = a vm-pause played by a host drop + SIGSTOP.",
	}
}

func sourceBadge(source string, emulated bool) badge {
	b := badge{Text: source, Class: "src-" + source}
	if source == SourceFixture {
		// Short enough for a table cell; the banner and legend say it is
		// built from the model, not measured.
		b.Text = "fixture (model)"
	}
	if emulated {
		b.Text += ", emulated"
	}
	return b
}

func outcomeBadge(outcome string) badge {
	switch outcome {
	case results.OutcomePass, results.OutcomeDeviation, results.OutcomeFailed, results.OutcomeUnconfirmed, results.OutcomeSkipped:
		return badge{Text: outcome, Class: "o-" + outcome}
	}
	return badge{Text: outcome, Class: "o-other"}
}

func statView(s *Stats) statCell {
	if s == nil {
		return statCell{None: true, Median: na}
	}
	c := statCell{Median: fmtDur(s.Median), Detail: fmt.Sprintf("n=%d", s.Count)}
	if s.Min != s.Max {
		c.Range = fmtDur(s.Min) + " – " + fmtDur(s.Max)
		c.Detail = fmt.Sprintf("p95 %s · n=%d", fmtDur(s.P95), s.Count)
	}
	return c
}

// vsModelBadge summarises a group's deviations for a table cell.
func vsModelBadge(v *VsModel, p *timelinePlan) (badge, string) {
	switch {
	case v == nil:
		return badge{Text: na, Class: "muted"}, ""
	case v.Outside() > 0:
		return badge{Text: fmt.Sprintf("%d of %d outside", v.Outside(), v.Compared), Class: "bad", Href: p.href(v.WorstRun)},
			"worst " + signedDur(v.WorstBy)
	case v.WithinResolution > 0:
		return badge{Text: "inside", Class: "good"},
			fmt.Sprintf("%d of %d within tolerance, max %s", v.WithinResolution, v.Compared, signedDur(v.WorstBy))
	}
	return badge{Text: "inside", Class: "good"}, fmt.Sprintf("all %d in the window", v.Compared)
}

// signedDur writes a deviation with its sign: "+47 µs" reads as late.
func signedDur(d time.Duration) string {
	if d > 0 {
		return "+" + fmtDur(d)
	}
	return fmtDur(d)
}

// summarySections split the summary table by scenario.
func summarySections(groups []Group, p *timelinePlan) []summarySection {
	var out []summarySection
	for _, span := range scenarioSpans(groups) {
		gs := groups[span[0]:span[1]]
		s := summarySection{Reference: gs[0].Scenario == ""}
		s.Title, s.What = scenarioHeading(gs[0].Scenario)
		for i := range gs {
			s.Rows = append(s.Rows, summaryView(&gs[i], p))
		}
		out = append(out, s)
	}
	return out
}

// outageViews draw one bar per held group, all on one scale.
func outageViews(rows []OutageRow) ([]outageView, error) {
	var out []outageView
	xmax := outageScale(rows)
	for _, o := range rows {
		svg, err := outageBar(o, xmax)
		if err != nil {
			return nil, err
		}
		out = append(out, outageView{OutageRow: o, Window: o.windowText(), SVG: svg})
	}
	return out, nil
}

func summaryView(g *Group, p *timelinePlan) summaryRow {
	row := summaryRow{ID: g.ID, Anchor: "group-" + g.ID, OS: g.OS, Server: g.Server,
		Source:   sourceBadge(g.Source, g.Emulated),
		Settings: g.Mechanism, Mode: groupMode(g), Fault: faultName(g.FaultKind, g.FaultScope, g.FaultDirection, g.Hold, false),
		RunsText: plural(g.Runs, "run"), ModelT0: na, ModelAF: na, Expect: string(g.Expect),
		FromT0: statView(g.FromT0), AfterFault: statView(g.AfterFault), AfterPL: statView(g.AfterPingLoss)}
	if g.Model != nil {
		row.HasModel = true
		var eff string
		row.ModelT0, row.ModelAF, eff = modelCells(g)
		if eff != "" {
			row.ModelFor = "for the effective " + eff
		}
	}
	if b := bracketOf(g); b != nil {
		// A bracket, never a point: no median.
		row.AfterFault = statCell{Median: "bracket", Range: fmtWindow(*b), Detail: "bisection, " + trialsText(g)}
	}
	row.VsModel, row.VsDetail = vsModelBadge(g.VsModel, p)
	o := g.Outcomes
	for _, c := range []struct {
		name string
		n    int
	}{{results.OutcomePass, o.Pass}, {results.OutcomeDeviation, o.Deviation}, {results.OutcomeFailed, o.Failed},
		{results.OutcomeUnconfirmed, o.Unconfirmed}, {results.OutcomeInterrupted, o.Interrupted}, {results.OutcomeSkipped, o.Skipped},
		{"other", o.Other}} {
		if c.n > 0 {
			b := outcomeBadge(c.name)
			b.Text = fmt.Sprintf("%s ×%d", c.name, c.n)
			row.Outcomes = append(row.Outcomes, b)
		}
	}
	// Every run that did not pass, that the data shows outside the model,
	// or whose OS did not apply the options links to its timeline (the
	// same runs as report.md's Deviations, plus skipped runs, whose
	// timeline card says why they were not run).
	for _, r := range g.members {
		if notable(r) {
			row.Deviations = append(row.Deviations, link{Text: r.Label(), Href: p.href(r.Run)})
		}
	}
	for _, e := range g.Effective {
		c := effCell{Text: effectiveShort(e.Effective), Why: e.Why, Notes: e.Effective.Notes}
		switch {
		case e.Status == EffectiveAsRequested:
			c.Mark, c.Class = "✓ as requested", "good"
		case e.Status == EffectiveOffAsIntended:
			c.Mark, c.Class, c.Text = "✓ keepalive off", "good", "as the heartbeat scenario intends"
		case e.Status == EffectiveDiffers:
			c.Mark, c.Class = "✗ not applied", "bad"
			c.Text = strings.Join(e.Differences, ", ")
		case !e.Effective.Enabled.Known:
			// Nothing was read: the run never had a connection.
			c.Mark, c.Class, c.Text = "– not read", "muted", "no connection to read from"
		default:
			c.Mark, c.Class = "? not verifiable", "muted"
		}
		c.Mark += fmt.Sprintf(" ×%d", e.Runs)
		row.Effective = append(row.Effective, c)
	}
	return row
}

func hostViewOf(h HostRow) hostView {
	v := hostView{HostRow: h, Source: sourceBadge(h.Source, false), Roles: strings.Join(h.Roles, ", "),
		Caps: strings.Join(h.Caps, ", "), HZ: na, Build: na, Kalab: h.Kalab, Privilege: "no"}
	if h.HZ > 0 {
		v.HZ = itoa(h.HZ)
	}
	if h.Build > 0 {
		v.Build = itoa(h.Build)
	}
	if h.Privileged {
		v.Privilege = "yes"
	}
	if h.Source == SourceFixture {
		// No agent ran, so there was no clock to tie.
		v.Offset, v.Bound = na, na
	} else {
		v.Offset = fmtDur(h.ClockOffsetMin)
		if hi := fmtDur(h.ClockOffsetMax); hi != v.Offset {
			v.Offset += " – " + hi
		}
		v.Bound = "≤ " + fmtDur(h.ClockBoundMax)
	}
	return v
}

// timelineGroups are report.html's timelines: every run's, or in a large
// report the ones the plan keeps inline, with a link to each group's page.
func timelineGroups(r *Report, p *timelinePlan) ([]timelineGroup, error) {
	var out []timelineGroup
	for i := range r.Groups {
		g := &r.Groups[i]
		tg, err := timelineGroupOf(g, "#group-"+g.ID, p.inlineOnly())
		if err != nil {
			return nil, err
		}
		if p.split {
			tg.More = &link{Text: fmt.Sprintf("every timeline and run of %s (%s): %s", g.ID, plural(g.Runs, "run"), groupFile(g.ID)),
				Href: groupFile(g.ID)}
		}
		out = append(out, tg)
	}
	return out, nil
}

// timelineGroupOf draws the timelines of g's runs that keep says to
// (nil: all), each linking the group's summary row at groupHref.
func timelineGroupOf(g *Group, groupHref string, keep func(string) bool) (timelineGroup, error) {
	tg := timelineGroup{ID: g.ID, Anchor: "timelines-" + g.ID, Label: g.Label, GroupHref: groupHref}
	for _, res := range g.members {
		if keep != nil && !keep(res.Run) {
			continue
		}
		tl, err := timeline(res)
		if err != nil {
			return tg, err
		}
		tv := timelineView{Timeline: tl, Title: res.Label(), Group: g.ID, GroupHref: groupHref, OS: res.Server.OS,
			Outcome: outcomeBadge(res.Outcome), Source: sourceBadge(sourceOf(res), res.Emulated), Fixture: res.Fixture,
			Why: cmpOrString(res.Failure, res.Why)}
		tv.Caption = timelineCaption(tl, res)
		tg.Runs = append(tg.Runs, tv)
	}
	return tg, nil
}

func cmpOrString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

var eventNames = map[string]string{
	"accept": "accept + greeting", "last-peer": "last peer activity (T0)", "fault": "fault", "probe": "probe",
	"ping-loss": "ICMP loss", "detection": "detection", "healed": "healed",
}

// timelineCaption lists the instants in words, so the numbers are there
// to copy and a reader without the chart loses nothing.
func timelineCaption(tl Timeline, res results.Result) []string {
	var out, probes []string
	for _, e := range tl.Events {
		at := signedDur(e.At)
		if e.At == 0 {
			at = "0"
		}
		switch e.Kind {
		case "probe":
			probes = append(probes, at)
			continue
		case "detection":
			if l := errLabel(res); l != "" {
				at += " (" + l + ")"
			} else if res.Target != nil && res.Target.Ended != "" {
				at += " (its socket: " + res.Target.Ended + ")"
			}
		}
		name := eventNames[e.Kind]
		if e.Kind == "last-peer" && res.Scenario == keepalive.ScenarioHeartbeat {
			name = "last heartbeat answer (T0)" // the server reads the answers, keepalive is off
		}
		out = append(out, name+" "+at)
	}
	if len(probes) > 0 {
		out = append(out, fmt.Sprintf("%s %s", plural(len(probes), "unanswered probe"), strings.Join(probes, ", ")))
	}
	switch m := tl.Model; {
	case m == nil:
	case m.Min == m.Max:
		out = append(out, "model "+signedDur(m.Min))
	default:
		out = append(out, "model window "+signedDur(m.Min)+" – "+signedDur(m.Max))
	}
	return out
}

func runViewOf(run RunRow) runView {
	v := runView{RunRow: run, Href: "#" + run.Timeline, GroupHref: "#group-" + run.Group,
		Outcome: outcomeBadge(run.Outcome), SourceBadge: sourceBadge(run.Source, run.Emulated),
		FromT0: fmtOpt(run.FromT0), AfterFault: fmtOpt(run.AfterFault), AfterPL: fmtOpt(run.AfterPingLoss), ProbesText: na,
		ModeText: modeText(run.Mode, run.Scenario), Errno: runEnd(run),
		VsModel: badge{Text: na, Class: "muted"}}
	if run.Probes != nil {
		v.ProbesText = itoa(*run.Probes)
	}
	if d := run.Deviation; d != nil {
		v.VsModel = badge{Text: verdictText(d.Verdict), Class: "good"}
		if d.Verdict != VsInside {
			v.VsModel.Text += " " + signedDur(d.By)
		}
		if d.Verdict == VsEarly || d.Verdict == VsLate {
			v.VsModel.Class = "bad"
		}
	}
	v.Effective = badge{Text: run.Effective, Class: "muted"}
	switch run.EffectiveStatus {
	case EffectiveAsRequested:
		v.Effective.Class = "good"
	case EffectiveDiffers:
		v.Effective.Class, v.Effective.Text = "bad", "✗ "+run.Effective
	case EffectiveOffAsIntended:
		v.Effective.Class, v.Effective.Text = "good", heartbeatOff
	}
	return v
}
