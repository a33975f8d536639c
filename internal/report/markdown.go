package report

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/results"
)

// howToRead is the one paragraph a reader needs before the tables.
const howToRead = "How to read: every time is detection − anchor, shown as median (min – max, p95, n = runs that have the anchor); " +
	"p95 is the nearest rank, so the maximum below 20 runs. " +
	"**from T0**: from the last peer activity on the server (Linux TCP_INFO last ACK; server clock, no skew). " +
	"**after fault**: from the fault instant, mapped to the server clock. " +
	"**after ping loss**: from the first ICMP timeout; it exists only when the whole host went silent. " +
	"Model windows come from keepalive.Predict for the settings the socket really had. " +
	"**vs model**: how far the tightest anchor lies outside the model window; within resolution = no farther than one kernel tick (T0) or the clock bound (fault). " +
	"Source: *hosts* = measured on agents, *lab* = measured in the Linux namespace lab, *fixture* = built from the model (not a measurement); " +
	"*emulated* = a vm-pause played by a host drop + SIGSTOP. n/a = no value. " +
	"Charts and one timeline per run are in report.html."

// Markdown renders the report as report.md: the same tables and findings
// as report.html, without the charts, for pasting into issues.
func (r *Report) Markdown() []byte {
	var b bytes.Buffer
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	title := "kalab report"
	if len(r.Experiments) > 0 {
		title += ": " + strings.Join(r.Experiments, ", ")
	}
	p("# %s\n\n", title)
	gen := ""
	if !r.Generated.IsZero() {
		gen = "Generated " + r.Generated.UTC().Format(time.RFC3339) + " · "
	}
	p("%sreport schema %d · %s in %s.\n\n", gen, r.Schema, plural(len(r.Runs), "run"), plural(len(r.Groups), "group"))
	if n := countSource(r.Runs, SourceFixture); n > 0 {
		p("> **Fixtures:** %d of %s are built from the model, not measured (source \"fixture\"). They are not measurements.\n\n",
			n, plural(len(r.Runs), "run"))
	}
	p("%s\n\n", howToRead)

	p("## Findings\n\n")
	if len(r.sections) == 0 {
		p("None.\n\n")
	}
	for _, s := range r.sections {
		p("### %s\n\n", s.Title)
		for _, f := range s.Items {
			p("- %s\n", f)
		}
		p("\n")
	}

	p("## Groups\n\n")
	if len(r.Groups) == 0 {
		p("No results.\n\n")
	} else {
		p("| group | server | settings | mode | fault | source | runs | expect | outcomes | vs model | effective options | errors |\n")
		p("|---|---|---|---|---|---|---:|---|---|---|---|---|\n")
		for _, g := range r.Groups {
			p("| %s | %s | %s | %s | %s | %s | %d | %s | %s | %s | %s | %s |\n",
				g.ID, cell(g.Server), g.Requested.Short(), cell(string(g.Mode)),
				cell(faultName(g.FaultKind, g.FaultScope, false)), sourceLabel(g.Source, g.Emulated), g.Runs,
				cell(string(g.Expect)), outcomesText(g.Outcomes), cell(vsModelText(g.VsModel)),
				cell(effectiveText(g.Effective)), cell(talliesText(g.Errors)))
		}
		p("\n## Detection times\n\n")
		p("| group | model from T0 | from T0 | lateness | model after fault | after fault | after ping loss |\n")
		p("|---|---|---|---|---|---|---|\n")
		for _, g := range r.Groups {
			mT0, mAF := na, na
			if g.Model != nil {
				mT0, mAF = fmtWindow(g.Model.FromT0), fmtWindow(g.Model.AfterFault)
				if g.Model.HZ > 0 {
					mT0 += fmt.Sprintf(" (HZ=%d)", g.Model.HZ)
				}
				if g.Model.Settings != g.Requested {
					mT0 += " for " + g.Model.Settings.Short()
				}
			}
			p("| %s | %s | %s | %s | %s | %s | %s |\n", g.ID, mT0, fmtStats(g.FromT0), fmtStats(g.Lateness),
				mAF, fmtStats(g.AfterFault), fmtStats(g.AfterPingLoss))
		}
		p("\n")
	}

	p("## Reference: the published Windows measurement\n\n")
	p("| OS | settings | published | measured from | Windows model (idle + count×interval) | Linux model (from last ACK) | Linux at HZ=250 | note |\n")
	p("|---|---|---|---|---|---|---|---|\n")
	for _, ref := range r.Reference {
		p("| %s | %s | %s | %s | %s | %s | %s | %s |\n", serverName(ref.OS, ""), ref.Settings.Short(),
			fmtDur(ref.Published), cell(ref.Anchor), fmtDur(ref.WindowsModel), fmtDur(ref.LinuxModel),
			fmtDur(ref.LinuxModelHZ250), cell(ref.Note))
	}
	if len(r.Reference) > 0 {
		p("\nSource: %s, <%s>.\n", r.Reference[0].Source, r.Reference[0].URL)
	}

	p("\n## Hosts\n\n")
	if len(r.Hosts) == 0 {
		p("No hosts.\n")
	} else {
		p("| host | source | roles | OS | build | arch | HZ | kalab | privileged | capabilities | clock offset | offset bound | runs |\n")
		p("|---|---|---|---|---|---|---:|---|---|---|---|---|---:|\n")
		for _, h := range r.Hosts {
			v := hostViewOf(h)
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", cell(h.Name), sourceLabel(h.Source, false),
				strings.Join(h.Roles, ", "), cell(h.OSName), v.Build, cell(h.Arch), v.HZ, cell(h.Kalab), v.Privilege,
				cell(v.Caps), v.Offset, v.Bound, h.Runs)
		}
	}

	p("\n## Deviations\n\n")
	devs := deviationLines(r)
	if len(devs) == 0 {
		p("None: every run passed, inside its model window, with the options it asked for.\n")
	}
	for _, d := range devs {
		p("- %s\n", d)
	}

	p("\n## Runs\n\n")
	if len(r.Runs) == 0 {
		p("No runs.\n")
		return b.Bytes()
	}
	p("| run | group | source | server | settings | mode | fault | outcome | why | from T0 | after fault | after ping loss | errno | probes | failure | vs model | effective |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---:|---|---|---|\n")
	for _, run := range r.Runs {
		probes := na
		if run.Probes != nil {
			probes = itoa(*run.Probes)
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			cell(run.Label()), run.Group, sourceLabel(run.Source, run.Emulated), cell(run.Server), run.Settings,
			cell(string(run.Mode)), cell(run.Fault), cell(run.Outcome), cell(run.Why), fmtOpt(run.FromT0),
			fmtOpt(run.AfterFault), fmtOpt(run.AfterPingLoss), cell(run.Errno), probes, cell(run.Failure),
			deviationText(run.Deviation), cell(effectiveRunText(run)))
	}
	return b.Bytes()
}

// deviationLines list every run a reader should look at, each linking to
// its timeline in report.html: runs that did not pass, runs outside their
// model window, and runs whose OS did not apply the options asked for.
func deviationLines(r *Report) []string {
	var out []string
	for _, run := range r.Runs {
		var why []string
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

func deviationText(d *Deviation) string {
	switch {
	case d == nil:
		return na
	case d.Verdict == VsInside:
		return VsInside
	}
	return d.Verdict + " " + signedDur(d.By)
}

func effectiveRunText(run RunRow) string {
	switch run.EffectiveStatus {
	case EffectiveAsRequested:
		return "as requested"
	case EffectiveDiffers:
		return "**differs**: " + run.Effective
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
		return fmt.Sprintf("inside (%d of %d within resolution, max %s)", v.WithinResolution, v.Compared, signedDur(v.WorstBy))
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
	}{{"pass", o.Pass}, {"deviation", o.Deviation}, {"failed", o.Failed}, {"unconfirmed", o.Unconfirmed}, {"other", o.Other}} {
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
