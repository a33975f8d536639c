package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// modelOSes are the OSes every report answers for, in column order.
var modelOSes = []string{"linux", "windows", "darwin"}

// currentWindowsBuild is the Windows build the model answers for when no
// Windows host ran: a current release (11 24H2), with every keepalive
// option settable.
const currentWindowsBuild = 26100

// OtherOSRow is one mechanism (settings, mode, scenario) that the results
// measured on only some of Linux, Windows and macOS: one cell per OS,
// measured where the results have it, the model's answer (not measured)
// where they do not, so a Linux-only run still answers "and on Windows?".
type OtherOSRow struct {
	// Mechanism names the row as keepalive.Label writes it, with the mode
	// when it is not the listener's ("1s/1s/3", "1s/1s/3 per-connection").
	Mechanism string `json:"mechanism"`
	// Requested, Mode, Scenario, UserTimeout and Heartbeat are the
	// mechanism's parts, as in Group.
	Requested   keepalive.Settings   `json:"requested"`
	Mode        keepalive.Mode       `json:"mode"`
	Scenario    keepalive.Scenario   `json:"scenario,omitempty"`
	UserTimeout time.Duration        `json:"user_timeout_ns,omitempty"`
	Heartbeat   *keepalive.Heartbeat `json:"heartbeat,omitempty"`
	// Cells are one per OS: linux, windows, darwin.
	Cells []OtherOSCell `json:"cells"`
}

// OtherOSCell is one OS of an OtherOSRow.
type OtherOSCell struct {
	// OS is a GOOS value.
	OS string `json:"os"`
	// InResults is true when the results hold groups of this OS for the
	// row's mechanism (measured, or fixtures, which the text says);
	// Groups are their ids. The cell then shows them and no model.
	InResults bool     `json:"in_results"`
	Groups    []string `json:"groups,omitempty"`
	// Platform names what the model answered for (Windows at a current
	// build); Applied are the settings the OS applies for the request in
	// the row's mode (keepalive.Applied: macOS drops a listener's idle, Go's
	// default accept path overwrites); Model is keepalive.Predict's
	// detection window after the fault for a silent peer, probes cycling.
	// All three are absent for measured cells and mechanisms the report
	// does not model (every scenario but idle).
	Platform string              `json:"platform,omitempty"`
	Applied  *keepalive.Settings `json:"applied,omitempty"`
	Model    *keepalive.Window   `json:"model_after_fault,omitempty"`
	// Text is the cell as report.md and report.html show it; a modelled
	// cell says "model, not measured".
	Text string `json:"text"`
}

// otherOSKey is a row: the mechanism and mode.
type otherOSKey struct {
	mechanism string
	mode      keepalive.Mode
}

// otherOSRows lists every mechanism measured on fewer than all of Linux,
// Windows and macOS, in mechanism order.
func otherOSRows(groups []Group) []OtherOSRow {
	var keys []otherOSKey
	first := map[otherOSKey]*Group{}
	byOS := map[otherOSKey]map[string][]*Group{}
	for i := range groups {
		g := &groups[i]
		if g.Target != nil {
			continue // a service sets its options per OS its own way: no model for it elsewhere
		}
		k := otherOSKey{g.Mechanism, g.Mode}
		if first[k] == nil {
			first[k], byOS[k] = g, map[string][]*Group{}
			keys = append(keys, k)
		}
		byOS[k][g.OS] = append(byOS[k][g.OS], g)
	}
	slices.SortStableFunc(keys, func(a, b otherOSKey) int { return compareMechanisms(first[a], first[b]) })
	hz := linuxHZ(groups)
	var out []OtherOSRow
	for _, k := range keys {
		missing := slices.ContainsFunc(modelOSes, func(os string) bool { return len(byOS[k][os]) == 0 })
		if !missing {
			continue
		}
		g := first[k]
		row := OtherOSRow{Mechanism: mechanismColumn(g), Requested: g.Requested, Mode: g.Mode, Scenario: g.Scenario,
			UserTimeout: g.UserTimeout, Heartbeat: g.Heartbeat}
		for _, os := range modelOSes {
			if gs := byOS[k][os]; len(gs) > 0 {
				row.Cells = append(row.Cells, measuredCell(os, gs))
				continue
			}
			row.Cells = append(row.Cells, modelCell(os, g, hz))
		}
		out = append(out, row)
	}
	return out
}

// linuxHZ is the tick rate of the results' Linux models when they all
// agree; 0 (the model's worst case) otherwise.
func linuxHZ(groups []Group) int {
	hz := 0
	for _, g := range groups {
		if g.OS != "linux" || g.Model == nil || g.Model.HZ == 0 {
			continue
		}
		if hz != 0 && hz != g.Model.HZ {
			return 0
		}
		hz = g.Model.HZ
	}
	return hz
}

// measuredCell shows an OS's groups of a row: detection after the fault
// of those that silenced the client for good (drop or VM pause both ways,
// no hold), else the group ids to look at.
func measuredCell(os string, gs []*Group) OtherOSCell {
	c := OtherOSCell{OS: os, InResults: true}
	var parts []string
	for _, g := range gs {
		c.Groups = append(c.Groups, g.ID)
		silent := (g.FaultKind == results.KindDrop || g.FaultKind == results.KindVMPause) && g.FaultDirection == "" && g.Hold == 0
		if silent && g.Expect == results.ExpectDetected && g.AfterFault != nil {
			what := "measured"
			if g.Source == SourceFixture {
				what = "fixture (model, not measured)"
			}
			parts = append(parts, fmt.Sprintf("%s: %s after the fault (%s, n=%d, %s)", what, longSecs(g.AfterFault.Median), g.ID,
				g.AfterFault.Count, faultName(g.FaultKind, g.FaultScope, g.FaultDirection, g.Hold, g.Emulated)))
		}
	}
	if len(parts) == 0 {
		c.Text = "in these results: see " + strings.Join(c.Groups, ", ")
		return c
	}
	c.Text = strings.Join(parts, "; ")
	return c
}

// modelCell is the model's answer for an OS the results did not measure:
// keepalive.Predict for the settings the OS applies in the row's mode, a
// silent peer, probes cycling. Only the idle scenario is modelled here.
func modelCell(os string, g *Group, hz int) OtherOSCell {
	c := OtherOSCell{OS: os}
	if g.Scenario != "" {
		c.Text = "not modelled here"
		if g.Scenario == keepalive.ScenarioHeartbeat {
			c.Text += " (the application's own timer decides: the same on every OS)"
		}
		return c
	}
	p := keepalive.Platform{OS: os}
	if os == "windows" {
		p.Build = currentWindowsBuild
	}
	c.Platform = serverName(os, "")
	if os == "windows" {
		c.Platform = "Windows " + windowsReleases[currentWindowsBuild] + " (build " + itoa(currentWindowsBuild) + ")"
	}
	if err := g.Requested.Validate(p); err != nil {
		c.Text = "model: " + c.Platform + " refuses these settings (" + err.Error() + ")"
		return c
	}
	applied := keepalive.Applied(p, g.Requested, g.Mode)
	o := keepalive.ModelOptions{}
	if os == "linux" {
		o.HZ = hz
	}
	pr, err := keepalive.Predict(p, applied, keepalive.PhaseCycling, o)
	if err != nil {
		c.Text = "not modelled here (" + err.Error() + ")"
		return c
	}
	w := pr.AfterFault
	c.Applied, c.Model = &pr.Settings, &w
	c.Text = fmt.Sprintf("model, not measured: %s after the fault on %s", winSecs(w), c.Platform)
	if pr.HZ > 0 {
		c.Text += fmt.Sprintf(" at HZ=%d", pr.HZ)
	}
	if pr.Settings != g.Requested {
		c.Text += " for the applied " + pr.Settings.Short()
		if keepalive.LosesListenerIdle(p, g.Mode) {
			c.Text += " (the listener's idle is not inherited)"
		} else if g.Mode == keepalive.ModeListenerGoDefault {
			c.Text += " (Go's default accept path overwrites the listener's settings)"
		}
	}
	return c
}

// otherOSIntro heads the table in report.md and report.html.
const otherOSIntro = "Each mechanism these results measured on only some OSes, with the others from the model: " +
	"detection after the fault for a silent peer (probes cycling; Windows at a current build). " +
	"A cell that says \"model, not measured\" is the model's answer, not a measurement; cells from these results name their groups."

// otherOSHead is the header of the table in report.md and report.html.
func otherOSHead() []string {
	h := []string{"mechanism"}
	for _, os := range modelOSes {
		h = append(h, osNames[os])
	}
	return h
}

// mdRow writes a row for report.md, modelled cells in italics.
func (o OtherOSRow) mdRow() []string {
	row := []string{cell(o.Mechanism)}
	for _, c := range o.Cells {
		if !c.InResults && c.Model != nil {
			row = append(row, "*"+cell(c.Text)+"*")
			continue
		}
		row = append(row, cell(c.Text))
	}
	return row
}
