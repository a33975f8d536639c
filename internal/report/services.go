package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// A target is a real service measured as the server (an experiment's
// [target]): Redis, PostgreSQL, nginx. Its groups name the service, its
// configuration and the options read back from its socket instead of
// kalab's settings and mode, its answers say what the service did, and
// "Your services" gives one row and one finding per group.

// ServiceRow is one group of runs against a real service, as the "Your
// services" section shows it; every field but Group and Port is the text
// of a column.
type ServiceRow struct {
	// Group is the group's id.
	Group string `json:"group"`
	// Server is the service's host OS as readers know it, with the source
	// ("Linux 6.18.44 [lab]").
	Server string `json:"server"`
	// Service names the service and its version ("redis-server 7.0.15"),
	// or its process when the version is unknown; Port is its port.
	Service string `json:"service"`
	Port    int    `json:"port"`
	// Fault is the fault, as Run fault.
	Fault string `json:"fault"`
	// Config is the service's configuration lines that set keepalive,
	// ", "-separated, or "its defaults", or for a service kalab did not
	// start "configuration not recorded".
	Config string `json:"config"`
	// Effective is the options its socket had and where they were read:
	// "3s/1s/3 read from its socket", "keepalive off, read from its
	// socket", "unknown: why", "not read back (bisection)".
	Effective string `json:"effective"`
	// ModelAfterLastACK and ModelAfterFault are the model's windows for
	// those options ("n/a" without a model).
	ModelAfterLastACK string `json:"model_after_last_ack"`
	ModelAfterFault   string `json:"model_after_fault"`
	// AfterLastACK and AfterFault are the measured detection times
	// (median, range, n) from the service's last ACK and from the fault;
	// for bisection the bracket, never a point.
	AfterLastACK string `json:"after_last_ack"`
	AfterFault   string `json:"after_fault"`
	// Ended says in words how the service's side of the runs ended.
	Ended string `json:"ended"`
	// Method is "observed (…)" or "bisection: between X and Y, ±Z (N
	// trials)".
	Method string `json:"method"`
	// Outcome counts the runs per outcome ("pass 2").
	Outcome string `json:"outcome"`
	// Finding is what the group shows, in plain words: "PostgreSQL 15.18
	// with tcp_keepalives_idle = 2, … dropped a client silenced by a drop
	// 5.11 s after its last ACK on Linux 6.18.44 (median of 2); the model
	// says 5.09 s".
	Finding string `json:"finding"`

	lines bool // Config is configuration lines, which report.html shows as code
}

// ConfigIsLines reports whether Config holds the service's configuration
// lines rather than words about them.
func (s ServiceRow) ConfigIsLines() bool { return s.lines }

// configUnknown is the configuration of a service kalab did not start:
// only its socket says what it applied.
const configUnknown = "configuration not recorded"

// servicesIntro heads "Your services" in report.md and report.html.
const servicesIntro = "Each real service measured as the server (an experiment's [target]) instead of kalab's own: " +
	"the options its configuration set and what its own socket had, the model for those options, and when it dropped " +
	"the silenced client, after its last ACK (on its host's clock) and after the fault. " +
	"Bisection (no agent on the service's host) brackets the time between an outage the connection survived and one it did not: " +
	"a range, never a single measurement."

// serviceHead are the columns of the "Your services" table.
var serviceHead = []string{"group", "server", "service", "port", "fault", "config", "effective options", "model after last ACK",
	"model after the fault", "after last ACK", "after the fault", "its side ended", "method", "outcome"}

// mdRow is the row as report.md shows it.
func (s ServiceRow) mdRow() []string {
	return []string{s.Group, cell(s.Server), cell(s.Service), itoa(s.Port), cell(s.Fault), cell(s.Config), cell(s.Effective),
		cell(s.ModelAfterLastACK), cell(s.ModelAfterFault), cell(s.AfterLastACK), cell(s.AfterFault), cell(s.Ended),
		cell(s.Method), cell(s.Outcome)}
}

// targetKeyOf tells services apart in a group key: the agent, service,
// port, configuration and method; "" for kalab's own server.
func targetKeyOf(t *results.Target) string {
	if t == nil {
		return ""
	}
	return strings.Join([]string{t.Agent, serviceName(t), itoa(t.Port), strings.Join(t.ConfigLines, "\n"), t.Method}, "\x00")
}

// groupTarget is the service a group's runs measured, without what
// differs per run (pid, how it ended, its timer), with for bisection the
// union of the runs' brackets and the sum of their trials; and how the
// service's side of the runs ended, counted.
func groupTarget(rs []results.Result) (*results.Target, []Tally) {
	var t *results.Target
	ends := map[string]int{}
	for _, res := range rs {
		rt := res.Target
		if rt == nil {
			continue
		}
		if t == nil {
			c := *rt
			c.PID, c.Ended, c.Timer, c.Bracket, c.Trials = 0, "", "", nil, 0
			c.ConfigLines = slices.Clone(rt.ConfigLines)
			t = &c
		}
		t.EffectiveFrom = cmp.Or(t.EffectiveFrom, rt.EffectiveFrom)
		if rt.Ended != "" {
			ends[rt.Ended]++
		}
		if b := rt.Bracket; b != nil {
			if t.Bracket == nil {
				w := *b
				t.Bracket = &w
			}
			t.Bracket.Min, t.Bracket.Max = min(t.Bracket.Min, b.Min), max(t.Bracket.Max, b.Max)
			t.Trials += rt.Trials
		}
	}
	return t, tallies(ends)
}

// bracketOf is a bisection group's bracket; nil for every other group.
func bracketOf(g *Group) *keepalive.Window {
	if !bisection(g) {
		return nil
	}
	return g.Target.Bracket
}

// bisection reports whether a group bracketed the service's detection
// rather than watched it.
func bisection(g *Group) bool {
	return g.Target != nil && g.Target.Method == results.MethodBisection
}

// serviceName names a service: its version string, which carries its
// name ("redis-server 7.0.15", "PostgreSQL 15.18"), else its product or
// process.
func serviceName(t *results.Target) string {
	return cmp.Or(t.Version, t.Product, t.Process, "a service")
}

// configText is a service's keepalive configuration: its lines, or "its
// defaults" when none set keepalive; a service kalab did not start (no
// product: a real host) has no recorded configuration.
func configText(t *results.Target) string {
	switch {
	case len(t.ConfigLines) == 0 && t.Product == "":
		return configUnknown
	case len(t.ConfigLines) == 0:
		return "its defaults"
	}
	return strings.Join(t.ConfigLines, ", ")
}

// keepaliveOff reports whether every option set a group's service's
// socket had was read back with keepalive off.
func keepaliveOff(g *Group) bool {
	if len(g.Effective) == 0 {
		return false
	}
	for _, e := range g.Effective {
		if !e.Effective.Enabled.Known || e.Effective.Enabled.Value {
			return false
		}
	}
	return true
}

// effectiveFrom is what a service's socket had and where kalab read it:
// "3s/1s/3 read from its socket", "keepalive off, read from its socket",
// "options unknown: why", "options not read back".
func effectiveFrom(g *Group) string {
	from := g.Target.EffectiveFrom
	switch {
	case from == "socket":
		if keepaliveOff(g) {
			return "keepalive off, read from its socket"
		}
		var seen []string
		for _, e := range g.Effective {
			if s := effectiveShort(e.Effective); !slices.Contains(seen, s) {
				seen = append(seen, s)
			}
		}
		return strings.Join(seen, " or ") + " read from its socket"
	case from != "":
		return "options " + from
	}
	return "options not read back"
}

// serviceOptions is the parenthesis of a service's label: its
// configuration, then what its socket had ("tcp-keepalive 3 → 3s/1s/3
// read from its socket", "its defaults → 2h/75s/9 read from its socket",
// "keepalive off, read from its socket").
func serviceOptions(g *Group) string {
	read := effectiveFrom(g)
	switch {
	case keepaliveOff(g) && len(g.Target.ConfigLines) == 0 && g.Target.Product != "":
		return read
	case g.Target.EffectiveFrom != "socket":
		return configText(g.Target) + "; " + read
	}
	return configText(g.Target) + " → " + read
}

// serviceLabel is a service group's mechanism: "redis-server 7.0.15 :6379
// (tcp-keepalive 3 → 3s/1s/3 read from its socket)", "… by bisection".
func serviceLabel(g *Group) string {
	s := fmt.Sprintf("%s :%d (%s)", serviceName(g.Target), g.Target.Port, serviceOptions(g))
	if bisection(g) {
		s += " by bisection"
	}
	return s
}

// serviceShort names a service in a sentence: "redis-server 7.0.15
// (tcp-keepalive 3)", "PostgreSQL 15.18 (its defaults)".
func serviceShort(g *Group) string {
	return serviceName(g.Target) + " (" + configText(g.Target) + ")"
}

// serviceWith names a service with its configuration in a finding:
// "redis-server 7.0.15 with tcp-keepalive 3", "PostgreSQL 15.18 with its
// defaults (2h/75s/9)"; without a recorded configuration, with what its
// socket had: "postgres (3s/1s/3 read from its socket)".
func serviceWith(g *Group) string {
	if configText(g.Target) == configUnknown {
		return serviceName(g.Target) + " (" + effectiveFrom(g) + ")"
	}
	s := serviceName(g.Target) + " with " + configText(g.Target)
	if len(g.Target.ConfigLines) == 0 && g.Target.EffectiveFrom == "socket" && g.Target.Product != "" {
		s += " (" + strings.TrimSuffix(strings.TrimSuffix(effectiveFrom(g), ", read from its socket"), " read from its socket") + ")"
	}
	return s
}

// targetAnswer is a service group's answer after "<server>: ".
func targetAnswer(g *Group) string {
	svc := serviceShort(g)
	o := outcomeOf(g)
	switch {
	case len(o.runs) == 0:
		return svc + ": " + notMeasuredText(g)
	case bisection(g):
		return svc + " " + bisectionText(g, o)
	}
	switch g.Expect {
	case results.ExpectNotDetected:
		return svc + " " + keptText(g, o) + "; " + modelSays(g)
	case results.ExpectImmediate:
		return svc + " " + targetImmediate(g, o)
	case results.ExpectSurvives:
		return svc + ": " + survivesAnswer(g, o)
	}
	return svc + " " + targetDetected(g, o)
}

// targetDetected: the service should drop the silent client inside the
// model's window; from its last ACK (its host's clock) first.
func targetDetected(g *Group, o detectionOutcome) string {
	what := faultPhrase(g)
	if len(o.detected) == 0 {
		return fmt.Sprintf("did not drop %s within %s (%s; model %s)", what, heldText(o.held), plural(len(o.runs), "run"),
			modelAfterFault(g))
	}
	t0, af := g.FromT0, stats(o.afterFault)
	s := "dropped " + what
	n := len(o.detected)
	switch {
	case t0 != nil && af != nil:
		s += fmt.Sprintf(" %s after its last ACK, %s after it went silent", longSecs(t0.Median), longSecs(af.Median))
		n = af.Count
	case t0 != nil:
		s += fmt.Sprintf(" %s after its last ACK", longSecs(t0.Median))
		n = t0.Count
	case af != nil:
		s += fmt.Sprintf(" %s after it went silent", longSecs(af.Median))
		n = af.Count
	}
	s += " (" + medianOf(n)
	if len(o.missed) > 0 {
		s += fmt.Sprintf("; not noticed in %d of %s", len(o.missed), plural(len(o.runs), "run"))
	}
	if ends := otherEnds(g); ends != "" {
		s += "; its socket: " + ends
	}
	if g.Model != nil {
		w := g.Model.AfterFault
		if t0 != nil {
			w = g.Model.FromT0
		}
		s += "; model " + winSecs(w)
	}
	return s + ")"
}

// targetImmediate: a killed client's kernel closes the connection, which
// the service's socket shows at once.
func targetImmediate(g *Group, o detectionOutcome) string {
	what := faultPhrase(g)
	st := stats(o.afterFault)
	ends := ""
	if e := endsShort(g); e != "" {
		ends = "its socket: " + e + ", "
	}
	switch {
	case len(o.detected) == 0:
		return fmt.Sprintf("did not notice %s (%s)", what, plural(len(o.runs), "run"))
	case st == nil:
		return fmt.Sprintf("noticed %s (%s%s)", what, ends, plural(len(o.detected), "run"))
	case st.Max > results.ImmediateBound:
		return fmt.Sprintf("noticed %s only %s after it went silent (%s%s)", what, secsText(st.Max), ends, medianOf(st.Count))
	}
	return fmt.Sprintf("noticed %s at once (%swithin %s; %s)", what, ends, fmtDur(st.Max), plural(st.Count, "run"))
}

// keptText: the service kept the connection (its defaults' 2 h, or
// keepalive off), or dropped it although the model says it should not
// have yet.
func keptText(g *Group, o detectionOutcome) string {
	if len(o.detected) > 0 {
		return fmt.Sprintf("dropped %s in %d of %s", faultPhrase(g), len(o.detected), plural(len(o.runs), "run"))
	}
	s := "kept " + clientPossessive(g) + " connection for the whole observation"
	var paren []string
	if o.held >= 0 {
		paren = append(paren, secsText(o.held))
	}
	if len(o.runs) > 1 {
		paren = append(paren, plural(len(o.runs), "run"))
	}
	if len(paren) > 0 {
		s += " (" + strings.Join(paren, "; ") + ")"
	}
	return s
}

// modelSays is when the model has the service drop the silent client:
// "the model says 2 h 11 min – 2 h 14 min after its last ACK".
func modelSays(g *Group) string {
	switch {
	case keepaliveOff(g):
		return "with keepalive off, no timer of its kernel drops it"
	case g.Model == nil:
		return "no model for its options"
	}
	return "the model says " + hoursText(g.Model.FromT0) + " after its last ACK"
}

// bisectionText: the bracket between the longest outage the connection
// survived and the shortest it did not, never a point.
func bisectionText(g *Group, o detectionOutcome) string {
	b := g.Target.Bracket
	if b == nil {
		return fmt.Sprintf("was not bracketed: the bisection found no outage it survived and a longer one it detected (%s)",
			plural(len(o.runs), "run"))
	}
	s := fmt.Sprintf("dropped %s between %s after it went silent (bisection, %s", faultPhrase(g), betweenSecs(*b), trialsText(g))
	if g.Model != nil {
		s += "; model " + winSecs(g.Model.FromT0)
	}
	return s + ")"
}

// trialsText counts a bisection's trials ("7 trials"), or its runs when
// the results do not say how many outages they tried.
func trialsText(g *Group) string {
	if g.Target.Trials > 0 {
		return plural(g.Target.Trials, "trial")
	}
	return plural(g.Runs, "run")
}

// betweenSecs writes a bracket for "between …": "6.00 and 6.25 s".
func betweenSecs(w keepalive.Window) string {
	lo, hi := longSecs(w.Min), longSecs(w.Max)
	if strings.HasSuffix(lo, " s") && strings.HasSuffix(hi, " s") {
		lo = strings.TrimSuffix(lo, " s")
	}
	return lo + " and " + hi
}

// clientPossessive is the silenced client, possessive, as "kept …
// connection" reads.
func clientPossessive(g *Group) string {
	switch g.FaultKind {
	case results.KindPause:
		return "the paused client's"
	case results.KindKill:
		return "the killed client's"
	}
	return "the silent client's"
}

// hoursText writes a model window of an hour or more in hours and
// minutes ("2 h 11 min – 2 h 14 min"), shorter ones as winSecs.
func hoursText(w keepalive.Window) string {
	if w.Max < time.Hour {
		return winSecs(w)
	}
	lo, hi := hoursMinutes(w.Min), hoursMinutes(w.Max)
	if lo == hi {
		return lo
	}
	return lo + " – " + hi
}

// hoursMinutes writes a duration to the nearest minute: "2 h 11 min",
// "2 h", "45 min".
func hoursMinutes(d time.Duration) string {
	m := int(d.Round(time.Minute) / time.Minute)
	switch h := m / 60; {
	case h == 0:
		return fmt.Sprintf("%d min", m)
	case m%60 == 0:
		return fmt.Sprintf("%d h", h)
	default:
		return fmt.Sprintf("%d h %d min", h, m%60)
	}
}

// endWords say how a service's side ended, for the services table.
var endWords = map[string]string{
	results.EndedKeepalive:  "keepalive timeout (the kernel reset it after the unanswered probes)",
	results.EndedRetransmit: "retransmission timeout (its data went unacknowledged)",
	results.EndedByTarget:   "closed by the service",
	results.EndedByPeer:     "closed by the client (its FIN arrived first)",
	results.EndedReset:      "reset by the client",
	results.EndedGone:       "gone (the socket table does not say why)",
}

// endShort are endWords without the explanation, for sentences.
func endShort(name string) string {
	w := cmp.Or(endWords[name], name)
	if i := strings.Index(w, " ("); i >= 0 {
		return w[:i]
	}
	return w
}

// endsShort is how a group's service side ended, for a sentence: "gone",
// "keepalive timeout ×1, closed by the service ×1"; "" when no run
// recorded it.
func endsShort(g *Group) string {
	if len(g.TargetEnded) == 1 {
		return endShort(g.TargetEnded[0].Name)
	}
	var parts []string
	for _, t := range g.TargetEnded {
		parts = append(parts, fmt.Sprintf("%s ×%d", endShort(t.Name), t.N))
	}
	return strings.Join(parts, ", ")
}

// otherEnds is endsShort when some run did not end by the keepalive
// timeout a silent client should meet; "" when all did.
func otherEnds(g *Group) string {
	if len(g.TargetEnded) == 1 && g.TargetEnded[0].Name == results.EndedKeepalive {
		return ""
	}
	return endsShort(g)
}

// endsLong is how a group's service side ended, for the table, with the
// runs whose socket was still open when the observation ended.
func endsLong(g *Group) string {
	var parts []string
	for _, t := range g.TargetEnded {
		parts = append(parts, fmt.Sprintf("%s ×%d", cmp.Or(endWords[t.Name], t.Name), t.N))
	}
	open := 0
	for _, res := range g.members {
		if res.Target != nil && res.Target.Ended == "" && res.Outcome != results.OutcomeSkipped && res.Failure == "" {
			open++
		}
	}
	if bisection(g) {
		parts = append(parts, "not watched (bisection: no agent on its host)")
	} else if open > 0 {
		parts = append(parts, fmt.Sprintf("still open when the observation ended ×%d", open))
	}
	if len(parts) == 0 {
		return na
	}
	return strings.Join(parts, "; ")
}

// methodText is how a group measured its service.
func methodText(g *Group) string {
	if !bisection(g) {
		return "observed (an agent read its socket)"
	}
	b := g.Target.Bracket
	if b == nil {
		return "bisection: no bracket (" + trialsText(g) + ")"
	}
	return fmt.Sprintf("bisection: between %s and %s, ±%s (%s)", fmtDur(b.Min), fmtDur(b.Max), fmtDur((b.Max-b.Min)/2), trialsText(g))
}

// modelWindowText writes a service's model window, with hours and
// minutes when it is that long.
func modelWindowText(w keepalive.Window) string {
	s := fmtWindow(w)
	if w.Max >= time.Hour {
		s += " (" + hoursText(w) + ")"
	}
	return s
}

// serviceRows are the "Your services" rows: one per group that measured
// a service, in group order.
func serviceRows(groups []Group) []ServiceRow {
	var out []ServiceRow
	for i := range groups {
		g := &groups[i]
		if g.Target == nil {
			continue
		}
		row := ServiceRow{Group: g.ID, Server: serverSource(g), Service: serviceName(g.Target), Port: g.Target.Port,
			Fault:  faultName(g.FaultKind, g.FaultScope, g.FaultDirection, g.Hold, g.Emulated),
			Config: configText(g.Target), Effective: effectiveFrom(g), ModelAfterLastACK: na, ModelAfterFault: na,
			AfterLastACK: fmtStats(g.FromT0), AfterFault: fmtStats(g.AfterFault), Ended: endsLong(g),
			Method: methodText(g), Outcome: outcomesText(g.Outcomes), Finding: serviceFinding(g), lines: len(g.Target.ConfigLines) > 0}
		if m := g.Model; m != nil {
			row.ModelAfterLastACK, row.ModelAfterFault = modelWindowText(m.FromT0), modelWindowText(m.AfterFault)
			if m.Settings != g.Requested || g.Target.EffectiveFrom != "socket" {
				row.ModelAfterLastACK += " for " + m.Settings.Short()
			}
		}
		if bisection(g) {
			row.AfterLastACK = "n/a (bisection)"
			if b := g.Target.Bracket; b != nil {
				row.AfterFault = fmt.Sprintf("between %s and %s (a bracket, not a point)", fmtDur(b.Min), fmtDur(b.Max))
			}
		}
		out = append(out, row)
	}
	return out
}

// serviceFinding says in plain words what a service group shows: "PostgreSQL
// 15.18 with tcp_keepalives_idle = 2, … dropped a client silenced by a
// drop 5.11 s after its last ACK on Linux 6.18.44 (median of 2); the
// model says 5.09 s".
func serviceFinding(g *Group) string {
	who, on := serviceWith(g), " on "+g.Server
	o := outcomeOf(g)
	what := faultPhrase(g)
	switch {
	case len(o.runs) == 0:
		return who + on + ": " + notMeasuredText(g)
	case bisection(g):
		if g.Target.Bracket == nil {
			return who + on + ": " + bisectionText(g, o)
		}
		s := fmt.Sprintf("%s dropped %s between %s after it went silent%s (bisection, %s)", who, what,
			betweenSecs(*g.Target.Bracket), on, trialsText(g))
		if g.Model != nil {
			s += "; the model says " + winSecs(g.Model.FromT0)
		}
		return s
	}
	switch g.Expect {
	case results.ExpectNotDetected:
		return who + " " + keptText(g, o) + on + "; " + modelSays(g)
	case results.ExpectImmediate:
		return who + " " + targetImmediate(g, o) + on
	case results.ExpectSurvives:
		return who + on + ": " + survivesAnswer(g, o)
	}
	if len(o.detected) == 0 {
		return who + " " + targetDetected(g, o) + on
	}
	var s string
	var model keepalive.Window
	switch af := stats(o.afterFault); {
	case g.FromT0 != nil:
		s = fmt.Sprintf("%s dropped %s %s after its last ACK%s (%s", who, what, longSecs(g.FromT0.Median), on, medianOf(g.FromT0.Count))
		if af != nil {
			s += fmt.Sprintf("; %s after it went silent", longSecs(af.Median))
		}
		if g.Model != nil {
			model = g.Model.FromT0
		}
	case af != nil:
		s = fmt.Sprintf("%s dropped %s %s after it went silent%s (%s", who, what, longSecs(af.Median), on, medianOf(af.Count))
		if g.Model != nil {
			model = g.Model.AfterFault
		}
	default:
		s = fmt.Sprintf("%s dropped %s%s (%s", who, what, on, plural(len(o.detected), "run"))
	}
	if len(o.missed) > 0 {
		s += fmt.Sprintf("; not in %d of %s", len(o.missed), plural(len(o.runs), "run"))
	}
	if e := otherEnds(g); e != "" {
		s += "; its socket: " + e
	}
	s += ")"
	if g.Model != nil && model != (keepalive.Window{}) {
		s += "; the model says " + winSecs(model)
	}
	return s
}
