package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// Answer is one sentence of the report's first section: what the server
// of one group noticed, when, and against which model. Every group has
// one, in group order.
type Answer struct {
	// Group is the group's id; Server, Mechanism and Fault name it
	// (Mechanism as keepalive.Label writes it, with the mode when it is
	// not the listener's).
	Group     string `json:"group"`
	Server    string `json:"server"`
	Mechanism string `json:"mechanism"`
	Fault     string `json:"fault"`
	// Target is the real service the group measured (Group.Target); nil
	// (omitted) for kalab's own server.
	Target *results.Target `json:"target,omitempty"`
	// Text is the sentence: "Linux 6.18: with 1s/1s/3 the server noticed
	// a client silenced by a drop 3.60 s after it went silent (median of
	// 2; model 3.07–4.10 s)"; for a service "Linux 6.18: redis-server
	// 7.0.15 (tcp-keepalive 3) dropped a client silenced by a drop 6.09 s
	// after its last ACK, 5.60 s after it went silent (median of 2; model
	// 6.08 s)".
	Text string `json:"text"`
}

// answerIntro heads the first section in report.md and report.html.
const answerIntro = "What the server noticed, per server, mechanism and fault. \"After it went silent\" counts from the fault: " +
	"the instant kalab silenced the client (dropped its packets, paused or killed it)."

// answers writes one sentence per group. A group's source is named when
// it is a fixture (never a measurement) or when the results mix sources.
func answers(groups []Group) []Answer {
	sources := map[string]bool{}
	for _, g := range groups {
		sources[g.Source] = true
	}
	out := make([]Answer, 0, len(groups))
	for i := range groups {
		g := &groups[i]
		server := g.Server
		switch {
		case g.Source == SourceFixture:
			server += " [fixture: model, not measured]"
		case len(sources) > 1:
			server += " [" + sourceText(g) + "]"
		}
		mech := mechanismColumn(g)
		a := Answer{Group: g.ID, Server: server, Mechanism: mech,
			Fault: faultName(g.FaultKind, g.FaultScope, g.FaultDirection, g.Hold, g.Emulated), Target: g.Target}
		if g.Target != nil {
			a.Text = server + ": " + targetAnswer(g)
		} else {
			a.Text = server + ": with " + mech + answerText(g)
		}
		out = append(out, a)
	}
	return out
}

// answerText is the sentence after "<server>: with <mechanism>", by
// what the group was expected to do.
func answerText(g *Group) string {
	o := outcomeOf(g)
	if len(o.runs) == 0 {
		return ": " + notMeasuredText(g)
	}
	switch g.Expect {
	case results.ExpectNotDetected:
		return " " + notDetectedAnswer(g, o)
	case results.ExpectImmediate:
		return " " + immediateAnswer(g, o)
	case results.ExpectSurvives:
		return " " + survivesAnswer(g, o)
	}
	return " " + detectedAnswer(g, o)
}

// notMeasuredText: no run of the group showed anything about detection.
func notMeasuredText(g *Group) string {
	n := g.Outcomes
	switch {
	case n.Skipped == g.Runs && g.Runs > 0:
		why := ""
		for _, res := range g.members {
			if res.Why != "" {
				why = ": " + res.Why
				break
			}
		}
		return fmt.Sprintf("the runs against %s were skipped, not run (%s)%s", faultPhrase(g), plural(n.Skipped, "run"), why)
	case n.Unconfirmed > 0 && n.Failed == 0 && n.Interrupted == 0:
		return fmt.Sprintf("no answer for %s: the fault was not shown to bite (%s unconfirmed)", faultPhrase(g), plural(n.Unconfirmed, "run"))
	}
	var parts []string
	for _, c := range []struct {
		n    int
		what string
	}{{n.Failed, "failed"}, {n.Unconfirmed, "unconfirmed"}, {n.Interrupted, "interrupted"}, {n.Skipped, "skipped"}, {n.Other, "with an unknown outcome"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	return "no answer for " + faultPhrase(g) + ": no run was measured (" + strings.Join(parts, ", ") + ")"
}

// detectedAnswer: a silent peer (or a paused one, for a heartbeat) must be
// noticed inside the model window.
func detectedAnswer(g *Group, o detectionOutcome) string {
	what := faultPhrase(g)
	if len(o.detected) == 0 {
		return fmt.Sprintf("the server did not notice %s within %s (%s; model %s)", what, heldText(o.held),
			plural(len(o.runs), "run"), modelAfterFault(g))
	}
	st := stats(o.afterFault)
	if st == nil {
		return fmt.Sprintf("the server noticed %s (%s of %d; no fault instant recorded)", what, plural(len(o.detected), "run"), len(o.runs))
	}
	s := fmt.Sprintf("the server noticed %s %s after it went silent", what, longSecs(st.Median))
	if g.Hold > 0 && st.Max < g.Hold {
		s += fmt.Sprintf(", before the %s outage ended", holdSecs(g.Hold))
	}
	s += " (" + medianOf(st.Count)
	if len(o.missed) > 0 {
		s += fmt.Sprintf("; not noticed in %d of %s", len(o.missed), plural(len(o.runs), "run"))
	}
	if g.Model != nil {
		s += "; model " + winSecs(g.Model.AfterFault)
	}
	return s + ")"
}

// notDetectedAnswer: a paused client's kernel keeps answering, so no
// kernel mechanism notices it.
func notDetectedAnswer(g *Group, o detectionOutcome) string {
	what := faultPhrase(g)
	if len(o.detected) > 0 {
		return fmt.Sprintf("the server noticed %s in %d of %s although its kernel keeps answering", what,
			len(o.detected), plural(len(o.runs), "run"))
	}
	why := ""
	if g.FaultKind == results.KindPause {
		why = "; its kernel keeps answering"
	}
	return fmt.Sprintf("the server did not notice %s within %s (%s%s)", what, heldText(o.held), plural(len(o.runs), "run"), why)
}

// immediateAnswer: a killed client's kernel closes the connection.
func immediateAnswer(g *Group, o detectionOutcome) string {
	what := faultPhrase(g)
	st := stats(o.afterFault)
	switch {
	case len(o.detected) == 0:
		return fmt.Sprintf("the server did not notice %s (%s)", what, plural(len(o.runs), "run"))
	case st == nil:
		return fmt.Sprintf("the server noticed %s (peer closed%s; %s)", what, o.errText, plural(len(o.detected), "run"))
	case st.Max > results.ImmediateBound:
		return fmt.Sprintf("the server noticed %s only %s after it went silent (peer closed%s; %s)", what, secsText(st.Max),
			o.errText, medianOf(st.Count))
	}
	return fmt.Sprintf("the server noticed %s at once (peer closed%s, within %s; %s)", what, o.errText, fmtDur(st.Max),
		plural(st.Count, "run"))
}

// survivesAnswer: a fault healed before the mechanism could give up must
// go unnoticed and the connection must carry an echo after the heal.
func survivesAnswer(g *Group, o detectionOutcome) string {
	outage := fmt.Sprintf("a %s %s", holdSecs(g.Hold), faultNoun(g))
	survived := 0
	for _, res := range o.runs {
		if !res.Detected && res.Survived && res.EchoRTT != nil {
			survived++
		}
	}
	model := ""
	if g.Model != nil && g.FaultKind != results.KindPause { // a paused kernel answers: no window
		model = "; model's earliest detection " + secsText(g.Model.AfterFault.Min)
	}
	if len(o.detected) > 0 {
		s := fmt.Sprintf("%s was noticed in %d of %s although it ended before the model's earliest detection", outage,
			len(o.detected), plural(len(o.runs), "run"))
		if st := stats(o.afterFault); st != nil {
			s += fmt.Sprintf(" (%s after it began)", secsText(st.Median))
		}
		return s
	}
	if survived == len(o.runs) {
		return fmt.Sprintf("%s was survived (%d of %s: an echo crossed the connection after the heal%s)", outage, survived,
			plural(len(o.runs), "run"), model)
	}
	return fmt.Sprintf("%s went unnoticed, but the echo after the heal went through in only %d of %s", outage, survived,
		plural(len(o.runs), "run"))
}

// faultPhrase names the silenced client in a sentence: "a client
// silenced by a drop", "a paused client".
func faultPhrase(g *Group) string {
	var s string
	switch g.FaultKind {
	case results.KindPause:
		s = "a paused client"
	case results.KindKill:
		s = "a killed client"
	case results.KindVMPause:
		s = "a client whose VM was paused"
	default:
		s = "a client silenced by " + article(faultNoun(g))
	}
	if g.Emulated {
		s += " (emulated)"
	}
	return s
}

// faultNoun names a group's fault as a noun: "drop", "host drop",
// "one-way drop (its answers lost)", "pause".
func faultNoun(g *Group) string {
	switch g.FaultKind {
	case results.KindDrop:
		n := "drop"
		if g.FaultScope == results.ScopeHost {
			n = "host drop"
		}
		switch g.FaultDirection {
		case results.DirectionToServer:
			return "one-way " + n + " (its answers lost)"
		case results.DirectionToClient:
			return "one-way " + n + " (the server's packets lost)"
		}
		return n
	case results.KindVMPause:
		return "VM pause"
	}
	return g.FaultKind
}

// article puts "a" or "an" before a noun.
func article(noun string) string {
	if noun != "" && strings.ContainsRune("aeiou", rune(noun[0])) && !strings.HasPrefix(noun, "one-") {
		return "an " + noun
	}
	return "a " + noun
}

// medianOf says what a median is over: "median of 2", or "1 run".
func medianOf(n int) string {
	if n == 1 {
		return "1 run"
	}
	return fmt.Sprintf("median of %d", n)
}

// heldText is how long a fault went unnoticed: the shortest hold of the
// runs, or the observation when no run recorded one.
func heldText(held time.Duration) string {
	if held < 0 {
		return "the observation"
	}
	return secsText(held)
}

// modelAfterFault writes a group's model window after the fault, "none"
// without a model.
func modelAfterFault(g *Group) string {
	if g.Model == nil {
		return "none"
	}
	return winSecs(g.Model.AfterFault)
}

// winSecs writes a model window in seconds, as the answer reads:
// "3.07–4.10 s", "11.26 s".
func winSecs(w keepalive.Window) string {
	lo, hi := longSecs(w.Min), longSecs(w.Max)
	switch {
	case lo == hi:
		return hi
	case strings.HasSuffix(lo, " s") && strings.HasSuffix(hi, " s"):
		return strings.TrimSuffix(lo, " s") + "–" + hi
	}
	return lo + "–" + hi
}

// longSecs is secsText, but in hours from an hour on ("2.00 h"): a
// listener's lost idle puts the OS default of 2 h in a window.
func longSecs(d time.Duration) string {
	if d >= time.Hour {
		return fmt.Sprintf("%.2f h", d.Hours())
	}
	return secsText(d)
}

// holdSecs writes a hold: "2 s" when whole, else as secsText.
func holdSecs(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%d s", d/time.Second)
	}
	return secsText(d)
}
