package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// findingsPerGroup is the class of the per-group section, which
// report.html shows after the charts.
const findingsPerGroup = "group"

// FindingSection is a titled list of findings; report.json keeps the flat
// list, report.html and report.md show the sections.
type FindingSection struct {
	// Title heads the section.
	Title string
	// Class styles the list in report.html: "cross" (headline), "group" or
	// "detail".
	Class string
	Items []string
}

// findings derives one-line statements from the groups and runs: the
// cross-OS comparison first, then each group, then the runs that did not
// pass. Each names its group by label (which carries the source: hosts, lab
// or fixture) and says only what the results show.
func findings(r *Report) []FindingSection {
	var cross, groups []string
	fixtures := 0
	for _, run := range r.Runs {
		if run.Source == SourceFixture {
			fixtures++
		}
	}
	if fixtures > 0 {
		cross = append(cross, fmt.Sprintf("fixtures: %d of %s are built from the model, not measured; their times only echo the model",
			fixtures, plural(len(r.Runs), "run")))
	}
	cross = append(cross, crossOSFindings(r)...)
	for i := range r.Groups {
		groups = append(groups, detectionFindings(&r.Groups[i], r.Reference)...)
	}
	for i := range r.Groups {
		groups = append(groups, effectiveFindings(&r.Groups[i])...)
	}
	var out []FindingSection
	for _, s := range []FindingSection{
		{"Across OSes", "cross", cross},
		{"Per group", findingsPerGroup, groups},
		{"Runs that did not pass", "detail", outcomeFindings(r.Runs)},
	} {
		if len(s.Items) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// measured returns the runs that were carried out and whose fault bit
// (pass or deviation); failed and unconfirmed runs show nothing about
// detection.
func measured(g *Group) []results.Result {
	var out []results.Result
	for _, res := range g.members {
		if res.Outcome == results.OutcomePass || res.Outcome == results.OutcomeDeviation {
			out = append(out, res)
		}
	}
	return out
}

// detectionOutcome is what a group's measured runs show about detection.
type detectionOutcome struct {
	runs             []results.Result
	detected, missed []string        // run labels
	afterFault       []time.Duration // of the detected runs
	held             time.Duration   // shortest time a fault was held undetected; −1 if none
	errText          string          // ", ETIMEDOUT/…" or ""
}

func outcomeOf(g *Group) detectionOutcome {
	o := detectionOutcome{runs: measured(g), held: -1}
	for _, res := range o.runs {
		if res.Detected {
			o.detected = append(o.detected, res.Label())
			o.afterFault = appendSet(o.afterFault, res.Measured.AfterFault)
			continue
		}
		o.missed = append(o.missed, res.Label())
		if a := res.Anchors; a.Fault != nil && a.Healed != nil {
			if d := a.Healed.Sub(*a.Fault); o.held < 0 || d < o.held {
				o.held = d
			}
		}
	}
	errs := make([]string, 0, len(g.Errors))
	for _, e := range g.Errors {
		errs = append(errs, e.Name)
	}
	if len(errs) > 0 {
		o.errText = ", " + strings.Join(errs, "/")
	}
	return o
}

// detectionFindings says what a group's runs show, by what they were
// expected to do, then compares with the published figures.
func detectionFindings(g *Group, refs []ReferenceRow) []string {
	o := outcomeOf(g)
	if len(o.runs) == 0 {
		return nil
	}
	var out []string
	switch g.Expect {
	case results.ExpectNotDetected:
		return notDetectedFindings(g, o)
	case results.ExpectSurvives:
		return survivesFindings(g, o)
	case results.ExpectImmediate:
		out = immediateFindings(g, o)
	default:
		out = inWindowFindings(g, o)
	}
	if len(o.detected) == 0 {
		return out // "no run detected …" says it all
	}
	if len(o.missed) > 0 {
		out = append(out, fmt.Sprintf("%s: %d of %s not detected: %s", g.Label, len(o.missed),
			plural(len(o.runs), "run"), strings.Join(o.missed, ", ")))
	}
	return append(out, publishedFindings(g, refs)...)
}

// notDetectedFindings: a paused process's kernel still answers, so no run
// may detect it.
func notDetectedFindings(g *Group, o detectionOutcome) []string {
	what := "the fault"
	if g.FaultKind == results.KindPause {
		what = "the paused process"
	}
	if len(o.detected) > 0 {
		return []string{fmt.Sprintf("%s: %d of %s detected %s: %s", g.Label, len(o.detected),
			plural(len(o.runs), "run"), what, strings.Join(o.detected, ", "))}
	}
	var extra []string
	if o.held >= 0 {
		extra = append(extra, "fault held ≥ "+fmtDur(o.held))
	}
	if g.Model != nil {
		extra = append(extra, "model after fault ≤ "+fmtDur(g.Model.AfterFault.Max))
	}
	tail := ""
	if len(extra) > 0 {
		tail = "; " + strings.Join(extra, ", ")
	}
	return []string{fmt.Sprintf("%s: no run detected %s within the model window + margin (%s%s)",
		g.Label, what, plural(len(o.runs), "run"), tail)}
}

// survivesFindings: a fault healed (its hold) before keepalive could give
// up must go unnoticed, and the connection must carry an echo after the
// heal. One line for the runs that survived, with the slowest echo, the
// shortest outage and the model's earliest detection; one each for runs
// that were detected anyway and runs whose echo did not come back.
func survivesFindings(g *Group, o detectionOutcome) []string {
	var survived, lost []string
	var slowest time.Duration
	for _, res := range o.runs {
		switch {
		case res.Detected:
		case res.Survived && res.EchoRTT != nil:
			survived = append(survived, res.Label())
			slowest = max(slowest, *res.EchoRTT)
		default:
			lost = append(lost, res.Label())
		}
	}
	var out []string
	if len(survived) > 0 {
		var extra []string
		if o.held >= 0 {
			extra = append(extra, "outage ≥ "+fmtDur(o.held))
		}
		if g.Model != nil && g.FaultKind != results.KindPause { // a paused kernel answers: no window
			extra = append(extra, "model earliest detection "+fmtDur(g.Model.AfterFault.Min)+" after the fault")
		}
		tail := ""
		if len(extra) > 0 {
			tail = "; " + strings.Join(extra, ", ")
		}
		out = append(out, fmt.Sprintf("%s: %d of %s survived (echo ≤ %s after the heal%s)", g.Label, len(survived),
			plural(len(o.runs), "run"), fmtDur(slowest), tail))
	}
	if len(o.detected) > 0 {
		out = append(out, fmt.Sprintf("%s: %d of %s detected the outage%s although it ended before the model's earliest detection: %s",
			g.Label, len(o.detected), plural(len(o.runs), "run"), o.errText, strings.Join(o.detected, ", ")))
	}
	if len(lost) > 0 {
		out = append(out, fmt.Sprintf("%s: %d of %s not detected, but the echo after the heal did not go through: %s",
			g.Label, len(lost), plural(len(o.runs), "run"), strings.Join(lost, ", ")))
	}
	return out
}

// immediateFindings: a killed client's kernel closes the connection.
func immediateFindings(g *Group, o detectionOutcome) []string {
	st := stats(o.afterFault)
	if st == nil {
		return []string{fmt.Sprintf("%s: no run detected the fault (%s)", g.Label, plural(len(o.runs), "run"))}
	}
	verdict := fmt.Sprintf("immediate (≤ %s)", fmtDur(results.ImmediateBound))
	if st.Max > results.ImmediateBound {
		verdict = fmt.Sprintf("not immediate: max %s exceeds %s", fmtDur(st.Max), fmtDur(results.ImmediateBound))
	}
	return []string{fmt.Sprintf("%s: detection − fault = %s%s, %s", g.Label, inlineStats(st), o.errText, verdict)}
}

// inWindowFindings: a silent peer must be detected inside the model
// window; the tightest anchor (T0) is stated with the model beside it.
func inWindowFindings(g *Group, o detectionOutcome) []string {
	if len(o.detected) == 0 {
		return []string{fmt.Sprintf("%s: no run detected the silent peer (%s)", g.Label, plural(len(o.runs), "run"))}
	}
	if g.Scenario == keepalive.ScenarioUnacked {
		// The retransmission model runs from the write after the fault: T0
		// and the keepalive formula do not apply.
		if st := stats(o.afterFault); st != nil {
			s := fmt.Sprintf("%s: detection − fault = %s%s", g.Label, inlineStats(st), o.errText)
			if g.Model != nil {
				s += ", retransmission model " + fmtWindow(g.Model.AfterFault)
			}
			return []string{s}
		}
		return nil
	}
	if g.FromT0 == nil {
		if st := stats(o.afterFault); st != nil {
			return []string{fmt.Sprintf("%s: detection − fault = %s%s", g.Label, inlineStats(st), o.errText)}
		}
		return nil
	}
	s := fmt.Sprintf("%s: detection − %s = %s%s", g.Label, t0Name(g), inlineStats(g.FromT0), o.errText)
	if g.Model != nil {
		s += ", model " + fmtWindow(g.Model.FromT0)
		switch {
		case g.Model.HZ > 0:
			s += fmt.Sprintf(" at HZ=%d", g.Model.HZ)
		case g.OS == "linux" && g.Scenario != keepalive.ScenarioHeartbeat: // the application's timer has no tick
			s += " (HZ unknown)"
		}
		if g.Model.Settings != g.Requested {
			s += " for the effective " + g.Model.Settings.Short()
		}
	}
	if g.Lateness != nil {
		s += " (lateness " + latenessText(g.Lateness) + ")"
	}
	return []string{s + wheelText(g)}
}

// t0Name names a group's T0 in a sentence: what the server last heard
// from its peer.
func t0Name(g *Group) string {
	switch {
	case g.Scenario == keepalive.ScenarioHeartbeat:
		return "last heartbeat answer"
	case g.OS == "linux":
		return "last ACK"
	}
	return "T0 (last peer activity)"
}

// publishedFindings compares a group with the published Windows figures,
// which are timed from "host went silent": the ping-loss anchor.
func publishedFindings(g *Group, refs []ReferenceRow) []string {
	if g.AfterPingLoss == nil {
		return nil
	}
	var out []string
	for _, ref := range refs {
		if ref.OS == g.OS && ref.Settings == g.Requested {
			out = append(out, fmt.Sprintf("%s: detection − ping loss = %s vs the published %s (Jeong Seong-tae; same anchor: host went silent)",
				g.Label, inlineStats(g.AfterPingLoss), fmtDur(ref.Published)))
		}
	}
	return out
}

// wheelText explains a Linux group's distance from the textbook formula:
// with probes cycling, death comes max(idle, interval) + count×interval
// after the last ACK (docs/keepalive-models.md §3.1); what the kernel
// adds beyond that is the timer wheel rounding each re-arm up
// (docs/linux-lab.md §6), which the HZ model includes.
func wheelText(g *Group) string {
	if g.OS != "linux" || g.Model == nil || g.Model.HZ == 0 || g.FromT0 == nil || g.UserTimeout > 0 || g.Scenario != "" {
		return ""
	}
	ms := g.Model.Settings
	f := max(ms.Idle, ms.Interval) + time.Duration(ms.Count)*ms.Interval
	return fmt.Sprintf("; the formula max(idle, interval) + count×interval gives %s, so the kernel was %s later than it: the timer wheel rounds every re-arm up to its level's granularity",
		fmtDur(f), fmtDur(g.FromT0.Median-f))
}

func latenessText(s *Stats) string {
	if s.Min == s.Max {
		return fmtDur(s.Min)
	}
	return fmt.Sprintf("median %s, %s – %s", fmtDur(s.Median), fmtDur(s.Min), fmtDur(s.Max))
}

// effectiveFindings report effective options that are not the requested
// ones, naming the known causes.
func effectiveFindings(g *Group) []string {
	var out []string
	req := g.Requested.Short()
	for _, e := range g.Effective {
		if e.Status != EffectiveDiffers {
			continue
		}
		on := fmt.Sprintf("%d of %s", e.Runs, plural(g.Runs, "run"))
		eff := effectiveShort(e.Effective)
		switch s, ok := e.Effective.Settings(); {
		case ok && g.Mode == keepalive.ModeListenerGoDefault && s == goDefault:
			out = append(out, fmt.Sprintf("%s: listener settings overwritten by Go's default on %s (effective %s, requested %s)",
				g.Label, on, eff, req))
		case keepalive.LosesListenerIdle(keepalive.Platform{OS: g.OS}, g.Mode) && e.Effective.Idle.Known && e.Effective.Idle.Value != g.Requested.Idle:
			out = append(out, fmt.Sprintf("%s: macOS did not inherit idle from the listener on %s (effective %s, requested %s)",
				g.Label, on, eff, req))
		default:
			out = append(out, fmt.Sprintf("%s: effective options differ from requested on %s: %s",
				g.Label, on, strings.Join(e.Differences, ", ")))
		}
	}
	return out
}

// outcomeFindings list every run that did not pass, with its reason.
func outcomeFindings(runs []RunRow) []string {
	var dev, failed, unconf, skipped, other []string
	for _, r := range runs {
		item := func(reason string) string {
			if reason == "" {
				return r.Label() + " [" + r.Group + "]"
			}
			return r.Label() + " [" + r.Group + "] (" + reason + ")"
		}
		switch r.Outcome {
		case results.OutcomePass:
		case results.OutcomeDeviation:
			dev = append(dev, item(r.Why))
		case results.OutcomeFailed:
			failed = append(failed, item(r.Failure))
		case results.OutcomeUnconfirmed:
			unconf = append(unconf, item(r.Why))
		case results.OutcomeSkipped:
			skipped = append(skipped, item(r.Why))
		default:
			other = append(other, item("outcome "+fmt.Sprintf("%q", r.Outcome)))
		}
	}
	var out []string
	add := func(list []string, what string) {
		if len(list) > 0 {
			out = append(out, fmt.Sprintf("%s %s: %s", plural(len(list), "run"), what, strings.Join(list, "; ")))
		}
	}
	add(dev, "deviated from the expectation")
	add(unconf, "unconfirmed (the fault was not shown to bite)")
	add(failed, "failed")
	add(skipped, "skipped by the plan (not failures: the model says they cannot end within max_run)")
	add(other, "with an unknown outcome")
	return out
}
