package report

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// OutageRow is one group whose fault healed after a hold: the outage
// against the window in which the model says the server would give up.
type OutageRow struct {
	// Group is the group's id; Server, Mechanism and Fault name it.
	Group     string `json:"group"`
	Server    string `json:"server"`
	Mechanism string `json:"mechanism"`
	Fault     string `json:"fault"`
	// Hold is the outage's length: how long the fault was held.
	Hold time.Duration `json:"hold_ns"`
	// Window is the model's detection window after the fault
	// (Model.AfterFault); nil when the group has no model or the
	// mechanism cannot notice the fault at all (a paused peer's kernel
	// answers keepalive probes and acknowledges data).
	Window *keepalive.Window `json:"window,omitempty"`
	// PeerAnswers is true for a pause under a kernel mechanism: the paused
	// peer's kernel answers, so there is no window to outlast.
	PeerAnswers bool `json:"peer_answers,omitempty"`
	// Expect is what the plan chose from the model: survives or
	// detected-in-window.
	Expect results.Expectation `json:"expect"`
	// Runs counts the measured runs; Survived those whose echo went
	// through after the heal.
	Runs     int `json:"runs"`
	Survived int `json:"survived"`
	// SlowestEcho is the slowest echo round trip after the heal of the
	// runs that survived; nil when none did.
	SlowestEcho *time.Duration `json:"slowest_echo_ns,omitempty"`
	// Detections are detection − fault of the runs that detected the
	// outage, in run order.
	Detections []time.Duration `json:"detections_ns,omitempty"`
	// Outcome says it in words: "survived ×2 (echo ≤ 0.22 ms after the
	// heal)", "detected at 3.59 s (n=2)".
	Outcome string `json:"outcome"`

	os string // the server's OS, for the bar's colour
}

// outageRows lists the groups with a hold, in group order.
func outageRows(groups []Group) []OutageRow {
	var out []OutageRow
	for i := range groups {
		if g := &groups[i]; g.Hold > 0 {
			out = append(out, outageRow(g))
		}
	}
	return out
}

func outageRow(g *Group) OutageRow {
	o := OutageRow{Group: g.ID, Server: serverSource(g), Mechanism: mechanismColumn(g),
		Fault: faultName(g.FaultKind, g.FaultScope, g.FaultDirection, g.Hold, g.Emulated),
		Hold:  g.Hold, Expect: g.Expect, os: g.OS}
	o.PeerAnswers = g.FaultKind == results.KindPause && g.Scenario != keepalive.ScenarioHeartbeat
	if g.Model != nil && !o.PeerAnswers {
		w := g.Model.AfterFault
		o.Window = &w
	}
	for _, res := range measured(g) {
		o.Runs++
		switch {
		case res.Detected && res.Measured.AfterFault != nil:
			o.Detections = append(o.Detections, *res.Measured.AfterFault)
		case res.Survived && res.EchoRTT != nil:
			o.Survived++
			if o.SlowestEcho == nil || *res.EchoRTT > *o.SlowestEcho {
				o.SlowestEcho = res.EchoRTT
			}
		}
	}
	o.Outcome = outageOutcome(o)
	return o
}

func outageOutcome(o OutageRow) string {
	var parts []string
	if o.Survived > 0 {
		parts = append(parts, fmt.Sprintf("survived ×%d (echo ≤ %s after the heal)", o.Survived, results.RTT(*o.SlowestEcho)))
	}
	if st := stats(o.Detections); st != nil {
		parts = append(parts, fmt.Sprintf("detected at %s (n=%d)", secsText(st.Median), st.Count))
	}
	if lost := o.Runs - o.Survived - len(o.Detections); lost > 0 {
		parts = append(parts, fmt.Sprintf("not detected, but no echo after the heal ×%d", lost))
	}
	if len(parts) == 0 {
		return "no measured run"
	}
	return strings.Join(parts, "; ")
}

// windowText writes an outage row's model window for a table cell.
func (o OutageRow) windowText() string {
	switch {
	case o.PeerAnswers:
		return "none: the paused peer's kernel answers"
	case o.Window == nil:
		return na
	}
	return fmtWindow(*o.Window) + " after the fault"
}

// mdRow writes an outage row for report.md.
func (o OutageRow) mdRow() []string {
	return []string{o.Group, cell(o.Server), cell(o.Mechanism), cell(o.Fault), fmtDur(o.Hold), cell(o.windowText()), cell(o.Outcome)}
}

// outageHead is the header of report.md's outage table.
var outageHead = []string{"group", "server", "mechanism", "fault", "outage (hold)", "model detection window", "outcome"}

// outageScale is the right end of every outage bar's axis: one scale for
// all, so bars compare by length.
func outageScale(rows []OutageRow) float64 {
	hi := 0.0
	for _, o := range rows {
		hi = max(hi, secs(o.Hold))
		if o.Window != nil {
			hi = max(hi, secs(o.Window.Max))
		}
		for _, d := range o.Detections {
			hi = max(hi, secs(d))
		}
	}
	return hi * 1.08
}

// outageBar draws one group's outage as a bar from the fault (0) to the
// heal (the hold) on the client's lane, the model's detection window as a
// band in the server OS's colour, and each detection as a cross.
func outageBar(o OutageRow, xmax float64) (template.HTML, error) {
	bs := boxes{{y: 0, x0: 0, x1: secs(o.Hold), half: 0.18, fill: withAlpha(colFault, 0x60)}}
	if o.Window != nil {
		col := osColor(o.os)
		bs = append(boxes{{y: 0, x0: secs(o.Window.Min), x1: secs(o.Window.Max), half: 0.4,
			fill: withAlpha(col, 0x30), edge: withAlpha(col, 0x90)}}, bs...)
	}
	var ms marks
	for _, d := range o.Detections {
		ms = append(ms, mark{x: secs(d), y: 0, style: draw.GlyphStyle{Color: colDetect, Radius: vg.Points(4.5), Shape: draw.CrossGlyph{}}})
	}
	if o.Survived > 0 {
		ms = append(ms, mark{x: secs(o.Hold), y: 0, style: draw.GlyphStyle{Color: colT0, Radius: vg.Points(3.6), Shape: draw.CircleGlyph{}}})
	}
	p := newPlot()
	p.NominalY(o.Group)
	p.Y.Min, p.Y.Max = -0.6, 0.6
	p.X.Min, p.X.Max = 0, xmax
	p.X.Label.Text = "s after the fault"
	p.Add(verticalGrid(), bs)
	if len(ms) > 0 {
		p.Add(ms)
	}
	return renderSVG(p, vg.Points(640), vg.Points(62), fmt.Sprintf("outage bar %s: %s outage, %s", o.Group, fmtDur(o.Hold), o.Outcome))
}
