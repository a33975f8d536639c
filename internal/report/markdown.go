package report

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// howToRead is the one paragraph a reader needs before the tables.
const howToRead = "How to read: every time is detection − anchor, shown as median (min – max, n = runs that have the anchor). " +
	"**from T0**: from the last peer activity on the server (Linux TCP_INFO last ACK; server clock, no skew). " +
	"**after fault**: from the fault instant, mapped to the server clock. " +
	"**after ping loss**: from the first ICMP timeout; it exists only when the whole host went silent. " +
	"Model windows come from keepalive.Predict for the settings the socket really had. " +
	"Source: *hosts* = measured on agents, *lab* = measured in the Linux namespace lab, *fixture* = built from the model (not a measurement); " +
	"*emulated* = a vm-pause played by a host drop + SIGSTOP. n/a = no value."

// Markdown renders the report as report.md.
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

	p("## Groups\n\n")
	if len(r.Groups) == 0 {
		p("No results.\n\n")
	} else {
		p("| group | server | settings | mode | fault | source | runs | expect | outcomes | effective options | errors |\n")
		p("|---|---|---|---|---|---|---:|---|---|---|---|\n")
		for _, g := range r.Groups {
			p("| %s | %s | %s | %s | %s | %s | %d | %s | %s | %s | %s |\n",
				g.ID, cell(serverName(g.OS, g.OSVersion)), shortSettings(g.Requested), cell(string(g.Mode)),
				cell(faultName(g.FaultKind, g.FaultScope, false)), sourceLabel(g.Source, g.Emulated), g.Runs,
				cell(string(g.Expect)), outcomesText(g.Outcomes), cell(effectiveText(g.Effective)), cell(talliesText(g.Errors)))
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
					mT0 += " for " + shortSettings(g.Model.Settings)
				}
			}
			p("| %s | %s | %s | %s | %s | %s | %s |\n", g.ID, mT0, fmtStats(g.FromT0), fmtStats(g.Lateness),
				mAF, fmtStats(g.AfterFault), fmtStats(g.AfterPingLoss))
		}
		p("\n")
	}

	p("## Reference: the seed's published figures\n\n")
	p("| OS | settings | published | measured from | Windows model (idle + count×interval) | Linux model (from last ACK) | Linux at HZ=250 | note |\n")
	p("|---|---|---|---|---|---|---|---|\n")
	for _, ref := range r.Reference {
		p("| %s | %s | %s | %s | %s | %s | %s | %s |\n", serverName(ref.OS, ""), shortSettings(ref.Settings),
			fmtDur(ref.Published), cell(ref.Anchor), fmtDur(ref.WindowsModel), fmtDur(ref.LinuxModel),
			fmtDur(ref.LinuxModelHZ250), cell(ref.Note))
	}
	if len(r.Reference) > 0 {
		p("\nSource: %s.\n", r.Reference[0].Source)
	}

	p("\n## Findings\n\n")
	if len(r.Findings) == 0 {
		p("None.\n")
	}
	for _, f := range r.Findings {
		p("- %s\n", f)
	}

	p("\n## Runs\n\n")
	if len(r.Runs) == 0 {
		p("No runs.\n")
		return b.Bytes()
	}
	p("| run | group | source | server | settings | mode | fault | outcome | why | from T0 | after fault | after ping loss | errno | probes | failure |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---:|---|\n")
	for _, run := range r.Runs {
		probes := na
		if run.Probes != nil {
			probes = itoa(*run.Probes)
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			cell(run.Run), run.Group, sourceLabel(run.Source, run.Emulated), cell(run.Server), run.Settings,
			cell(string(run.Mode)), cell(run.Fault), cell(run.Outcome), cell(run.Why), fmtOpt(run.FromT0),
			fmtOpt(run.AfterFault), fmtOpt(run.AfterPingLoss), cell(run.Errno), probes, cell(run.Failure))
	}
	return b.Bytes()
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
