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

// scenarioRank orders scenarios as the report shows them: idle, unacked,
// user-timeout, heartbeat (keepalive.Scenarios), then any this report does
// not know.
func scenarioRank(sc keepalive.Scenario) int {
	if i := slices.Index(keepalive.Scenarios, cmp.Or(sc, keepalive.ScenarioIdle)); i >= 0 {
		return i
	}
	return len(keepalive.Scenarios)
}

// scenarioInfo heads a scenario's subsection: a title and one line on what
// decides when the peer goes silent.
type scenarioInfo struct{ title, what string }

var scenarioInfos = map[keepalive.Scenario]scenarioInfo{
	"": {"Idle: keepalive", "Nothing is written after the fault, so keepalive decides: the connection dies once count probes, " +
		"sent every interval after idle, go unanswered (model from the last ACK, T0)."},
	keepalive.ScenarioUnacked: {"Unacked: retransmission", "The server writes right after the fault, so the retransmission timer decides " +
		"(tcp_retries2 or the user timeout on Linux, TcpMaxDataRetransmissions or TCP_MAXRT on Windows); its model runs from the write, so there is no T0 window."},
	keepalive.ScenarioUserTimeout: {"User timeout: keepalive with a cap on unacknowledged time", "Idle, with keepalive and the OS's cap on " +
		"unacknowledged time (TCP_USER_TIMEOUT, TCP_MAXRT, TCP_RXT_CONNDROPTIME) both set: whichever limit comes first ends the connection " +
		"(on Linux the user timeout replaces the probe count once a probe is out)."},
	keepalive.ScenarioHeartbeat: {"Heartbeat: the application decides", "Keepalive is off; the application writes a heartbeat every period " +
		"and declares the peer dead after misses periods without an answer: its own timer decides, the same on every OS (T0 = the last answer it read)."},
}

// scenarioHeading is the title and explanation of a scenario's subsection.
func scenarioHeading(sc keepalive.Scenario) (string, string) {
	if in, ok := scenarioInfos[sc]; ok {
		return in.title, in.what
	}
	return string(sc), "A scenario this report does not know: its groups are shown as recorded."
}

// scenarioSpans splits groups (sorted scenario first) into consecutive
// runs of one scenario each, as [start, end) index pairs.
func scenarioSpans(groups []Group) [][2]int {
	var out [][2]int
	for i := range groups {
		if i == 0 || groups[i].Scenario != groups[i-1].Scenario {
			out = append(out, [2]int{i, i})
		}
		out[len(out)-1][1] = i + 1
	}
	return out
}

// heartbeatOff is how a heartbeat run's read-back options read: keepalive
// is off on purpose, not a setting the OS failed to apply.
const heartbeatOff = "keepalive off, as the heartbeat scenario intends"

// modeText is a mode as tables show it: a heartbeat run has no keepalive
// mode because keepalive is off.
func modeText(m keepalive.Mode, sc keepalive.Scenario) string {
	if sc == keepalive.ScenarioHeartbeat {
		return "keepalive off"
	}
	return string(m)
}

// modeNote is what a label adds for a mode other than the plain listener
// (" per-conn"); nothing for a heartbeat, whose connection has no
// keepalive mode.
func modeNote(m keepalive.Mode, sc keepalive.Scenario) string {
	if m == keepalive.ModeListener || m == "" || sc == keepalive.ScenarioHeartbeat {
		return ""
	}
	return " " + string(m)
}

// secsText writes a detection time in seconds, so that a row of
// mechanisms reads on one unit ("0.46 s", "11.26 s"); a time too short for
// that (a kill's close) in milliseconds.
func secsText(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return fmtDur(d)
	case d >= 100*time.Second:
		return fmt.Sprintf("%.0f s", d.Seconds())
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// FirstDetection answers "which mechanism detects first": one row per
// server and fault, one column per mechanism.
type FirstDetection struct {
	// Mechanisms are the columns' labels (keepalive.Label, plus the mode
	// when it is not the listener's), in scenario order.
	Mechanisms []string `json:"mechanisms"`
	// Rows are one per server (with the source) and fault.
	Rows []FirstRow `json:"rows"`
}

// FirstRow is one server and fault across the mechanisms.
type FirstRow struct {
	// Server names the server OS and version with the source
	// ("Linux 6.18.44 [lab]"); Fault the fault with its scope, direction
	// and hold.
	Server string `json:"server"`
	Fault  string `json:"fault"`
	// Cells are one per mechanism, in FirstDetection.Mechanisms order.
	Cells []FirstCell `json:"cells"`
	// Winner says in words which mechanism detected first and which came
	// next; "none detected" when none did, "no measured run" when no run
	// of the row was measured.
	Winner string `json:"winner"`
}

// FirstCell is what one mechanism did on one server and fault.
type FirstCell struct {
	// Tried counts every run of the mechanism on this server and fault (0:
	// not run here); Runs those measured (pass or deviation), the others
	// failed or could not show the fault bit.
	Tried int `json:"tried"`
	Runs  int `json:"runs"`
	// Detected counts the runs that detected the fault and Median is
	// their median detection − fault; nil when none detected.
	Detected int            `json:"detected"`
	Median   *time.Duration `json:"median_ns,omitempty"`
	// Survived counts runs whose connection carried the echo after a
	// held fault healed.
	Survived int `json:"survived,omitempty"`
	// Skipped counts runs the plan did not run (results.OutcomeSkipped).
	Skipped int `json:"skipped,omitempty"`
	// Fastest marks the row's earliest median.
	Fastest bool `json:"fastest,omitempty"`
	// Text is the cell as report.md and report.html show it.
	Text string `json:"text"`
}

// firstKey is a row of the table: where and what was silenced.
type firstKey struct{ server, fault string }

// mechanismColumn is a group's column in the table: its mechanism with
// the mode, or a service with its port and configuration
// ("redis-server 7.0.15 :6379 (tcp-keepalive 3)").
func mechanismColumn(g *Group) string {
	if g.Target != nil {
		s := fmt.Sprintf("%s :%d (%s)", serviceName(g.Target), g.Target.Port, configText(g.Target))
		if bisection(g) {
			s += " by bisection"
		}
		return s
	}
	return g.Mechanism + modeNote(g.Mode, g.Scenario)
}

// groupMode is a group's mode column: the mode, or for a service "set by
// the service" (kalab applied nothing).
func groupMode(g *Group) string {
	if g.Target != nil {
		return "set by the service"
	}
	return modeText(g.Mode, g.Scenario)
}

// firstIndex files groups by row (server and fault) and column
// (mechanism), each in order of first appearance, with the first group of
// each row and column for sorting.
type firstIndex struct {
	cols   []string
	keys   []firstKey
	colOf  map[string]*Group
	rowOf  map[firstKey]*Group
	groups map[firstKey]map[string][]*Group
}

func indexFirst(groups []Group) *firstIndex {
	ix := &firstIndex{colOf: map[string]*Group{}, rowOf: map[firstKey]*Group{}, groups: map[firstKey]map[string][]*Group{}}
	for i := range groups {
		g := &groups[i]
		if bisection(g) {
			continue // a bracket, not a detection time to rank
		}
		col, k := mechanismColumn(g), firstKey{g.Server + " [" + g.Source + "]", faultName(g.FaultKind, g.FaultScope, g.FaultDirection, g.Hold, g.Emulated)}
		if ix.colOf[col] == nil {
			ix.colOf[col] = g
			ix.cols = append(ix.cols, col)
		}
		if ix.rowOf[k] == nil {
			ix.rowOf[k], ix.groups[k] = g, map[string][]*Group{}
			ix.keys = append(ix.keys, k)
		}
		ix.groups[k][col] = append(ix.groups[k][col], g)
	}
	return ix
}

// firstDetection builds the table when the groups hold two or more
// mechanisms; with one there is nothing to compare.
func firstDetection(groups []Group) *FirstDetection {
	ix := indexFirst(groups)
	if len(ix.cols) < 2 {
		return nil
	}
	slices.SortStableFunc(ix.cols, func(a, b string) int { return compareMechanisms(ix.colOf[a], ix.colOf[b]) })
	slices.SortStableFunc(ix.keys, func(a, b firstKey) int { return compareRows(ix.rowOf[a], ix.rowOf[b]) })
	t := &FirstDetection{Mechanisms: ix.cols}
	for _, k := range ix.keys {
		row := FirstRow{Server: k.server, Fault: k.fault}
		for _, col := range ix.cols {
			row.Cells = append(row.Cells, firstCell(ix.groups[k][col]))
		}
		row.Winner = winner(ix.cols, row.Cells)
		t.Rows = append(t.Rows, row)
	}
	return t
}

// compareMechanisms orders the table's columns: scenario, settings, mode,
// user timeout, heartbeat.
func compareMechanisms(a, b *Group) int {
	return cmp.Or(
		cmp.Compare(scenarioRank(a.Scenario), scenarioRank(b.Scenario)),
		cmp.Compare(a.Requested.Idle, b.Requested.Idle),
		cmp.Compare(a.Requested.Interval, b.Requested.Interval),
		cmp.Compare(a.Requested.Count, b.Requested.Count),
		cmp.Compare(modeOrder(a.Mode), modeOrder(b.Mode)),
		cmp.Compare(a.UserTimeout, b.UserTimeout),
		compareHeartbeats(a.Heartbeat, b.Heartbeat),
		cmp.Compare(a.Mechanism, b.Mechanism),
	)
}

// compareRows orders the table's rows by server and source, then fault.
func compareRows(a, b *Group) int {
	return cmp.Or(
		cmp.Compare(a.OS, b.OS),
		cmp.Compare(a.OSVersion, b.OSVersion),
		cmp.Compare(a.Source, b.Source),
		compareFaults(a, b),
		boolCmp(a.Emulated, b.Emulated),
	)
}

// firstCell summarises one mechanism's runs of one row. A paused peer's
// kernel still answers, so only a heartbeat can notice it: the hint says
// why the kernel's mechanisms did not.
func firstCell(gs []*Group) FirstCell {
	var c FirstCell
	var ds []time.Duration
	for _, g := range gs {
		c.Tried += g.Runs
		c.Skipped += g.Outcomes.Skipped
		for _, res := range measured(g) {
			c.Runs++
			ds = appendDetection(ds, &c, res)
		}
	}
	c.Detected = len(ds)
	if st := stats(ds); st != nil {
		c.Median = &st.Median
	}
	c.Text = firstCellText(c, len(gs) > 0 && gs[0].FaultKind == results.KindPause)
	return c
}

// appendDetection adds a run's detection − fault, or counts it survived.
func appendDetection(ds []time.Duration, c *FirstCell, res results.Result) []time.Duration {
	switch {
	case res.Detected && res.Measured.AfterFault != nil:
		return append(ds, *res.Measured.AfterFault)
	case res.Survived:
		c.Survived++
	}
	return ds
}

// firstCellText writes a cell; pause says why no kernel mechanism noticed.
func firstCellText(c FirstCell, pause bool) string {
	switch {
	case c.Tried == 0:
		return "—"
	case c.Runs == 0 && c.Skipped == c.Tried:
		return fmt.Sprintf("skipped (%s: the model says it cannot end within max_run)", plural(c.Tried, "run"))
	case c.Runs == 0 && c.Skipped > 0:
		return fmt.Sprintf("no measured run (%s failed, unconfirmed or skipped)", plural(c.Tried, "run"))
	case c.Runs == 0:
		return fmt.Sprintf("no measured run (%s failed or unconfirmed)", plural(c.Tried, "run"))
	case c.Median != nil && c.Detected < c.Runs:
		return fmt.Sprintf("%s (n=%d of %d; the others not detected)", secsText(*c.Median), c.Detected, c.Runs)
	case c.Median != nil:
		return fmt.Sprintf("%s (n=%d)", secsText(*c.Median), c.Detected)
	case c.Survived == c.Runs:
		return fmt.Sprintf("survived (n=%d)", c.Runs)
	case pause:
		return fmt.Sprintf("not detected (n=%d; the peer's kernel answers)", c.Runs)
	}
	return fmt.Sprintf("not detected (n=%d)", c.Runs)
}

// winner marks the row's fastest cell and names it, with the runner-up.
func winner(cols []string, cells []FirstCell) string {
	var order []int
	for i, c := range cells {
		if c.Median != nil {
			order = append(order, i)
		}
	}
	if len(order) == 0 {
		for _, c := range cells {
			if c.Runs > 0 {
				return "none detected"
			}
		}
		return "no measured run"
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(*cells[a].Median, *cells[b].Median) })
	first := order[0]
	cells[first].Fastest = true
	s := fmt.Sprintf("%s, %s after the fault", cols[first], secsText(*cells[first].Median))
	if len(order) > 1 {
		return s + fmt.Sprintf("; %s next at %s", cols[order[1]], secsText(*cells[order[1]].Median))
	}
	for i, c := range cells {
		if i != first && c.Runs > 0 {
			return s + "; no other mechanism detected it"
		}
	}
	return s + "; the only mechanism measured here"
}

// head is the table's header: server, fault, one column per mechanism,
// then the winner.
func (t *FirstDetection) head() []string {
	return append(append([]string{"server", "fault"}, t.Mechanisms...), "first")
}

// mdRows writes the rows for report.md, the fastest cell in bold.
func (t *FirstDetection) mdRows() [][]string {
	var out [][]string
	for _, r := range t.Rows {
		row := []string{cell(r.Server), cell(r.Fault)}
		for _, c := range r.Cells {
			if c.Fastest {
				row = append(row, "**"+cell(c.Text)+"**")
				continue
			}
			row = append(row, cell(c.Text))
		}
		out = append(out, append(row, cell(r.Winner)))
	}
	return out
}

// mdAlign is the alignment line of a table with n columns.
func mdAlign(n int) string { return "|" + strings.Repeat("---|", n) }
