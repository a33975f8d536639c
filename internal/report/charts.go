package report

import (
	"bytes"
	"cmp"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// Chart is one SVG chart for report.html, rendered by gonum/plot and
// inlined so the page needs no network and no other file.
type Chart struct {
	// ID is the chart's HTML anchor; Title its caption.
	ID    string
	Title string
	// Note says how to read the axis (log scale, zoomed).
	Note string
	SVG  template.HTML
}

// Colours: one per OS, so a reader follows an OS across charts; the
// timeline's event colours match the HTML legend (html.tmpl).
var (
	osColors = map[string]color.NRGBA{
		"linux":   {0xd9, 0x65, 0x00, 0xff},
		"windows": {0x1a, 0x66, 0xd2, 0xff},
		"darwin":  {0x8e, 0x24, 0xaa, 0xff},
	}
	otherColor    = color.NRGBA{0x60, 0x60, 0x60, 0xff}
	colAccept     = color.NRGBA{0x5f, 0x63, 0x68, 0xff}
	colT0         = color.NRGBA{0x18, 0x80, 0x38, 0xff}
	colProbe      = color.NRGBA{0xe3, 0x74, 0x00, 0xff}
	colDetect     = color.NRGBA{0xd9, 0x30, 0x25, 0xff}
	colFault      = color.NRGBA{0x8b, 0x1a, 0x1a, 0xff}
	colLoss       = color.NRGBA{0x1a, 0x66, 0xd2, 0xff}
	colGrid       = color.NRGBA{0xdd, 0xdd, 0xdd, 0xff}
	chartFontSize = vg.Points(10)
)

// minChartScale is the smallest scale a chart is drawn at: its 10-point
// text stays at 8.5 CSS px or more.
const minChartScale = 0.85

func osColor(os string) color.NRGBA {
	if c, ok := osColors[os]; ok {
		return c
	}
	return otherColor
}

func withAlpha(c color.NRGBA, a uint8) color.NRGBA { c.A = a; return c }

// newPlot is a plot in the report's style: sans-serif text (the Liberation
// metrics gonum measures with; browsers fall back to their sans-serif), light
// grid, no title (the HTML heading carries it).
func newPlot() *plot.Plot {
	p := plot.New()
	f := font.Font{Typeface: "Liberation", Variant: "Sans"}
	for _, s := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
		&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font, &p.Legend.TextStyle.Font} {
		*s = font.From(f, chartFontSize)
	}
	p.X.Label.TextStyle.Font.Size = vg.Points(10.5)
	return p
}

// svgHeader matches vgsvg's fixed-size header so it can be made responsive.
var svgHeader = regexp.MustCompile(`<svg width="([0-9.]+)pt" height="([0-9.]+)pt"`)

// renderSVG draws p on a w×h canvas and returns the <svg> element ready to
// inline: no XML prolog, scaled to its container, labelled for readers.
func renderSVG(p *plot.Plot, w, h vg.Length, label string) (template.HTML, error) {
	c := vgsvg.New(w, h)
	p.Draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", fmt.Errorf("render chart %q: %w", label, err)
	}
	s := b.String()
	i := strings.Index(s, "<svg")
	if i < 0 {
		return "", fmt.Errorf("render chart %q: no <svg> element in the canvas output", label)
	}
	// The viewBox (vgsvg writes one) scales the chart to its container's
	// width; below minChartScale of its drawn size its box scrolls instead
	// (html.tmpl's .chart-wrap), so the text stays readable on a phone.
	minWidth := math.Round(float64(w.Points()) * minChartScale)
	s = svgHeader.ReplaceAllString(s[i:], fmt.Sprintf(`<svg class="chart" role="img" aria-label="%s" width="${1}" height="${2}" style="aspect-ratio: ${1} / ${2}; min-width: %gpx"`,
		template.HTMLEscapeString(label), minWidth))
	// Trusted: gonum escapes its text (html.EscapeString) and the label is
	// escaped above.
	return template.HTML(s), nil
}

// secs converts for plotting.
func secs(d time.Duration) float64 { return d.Seconds() }

// box is a horizontal bar [x0, x1] around row y, e.g. a model window.
type box struct {
	y, x0, x1, half float64
	fill, edge      color.Color
}

// boxes draws model windows and fault bars; a window of zero width (the
// Linux model at a known HZ is exact) is drawn 2 pt wide so it stays visible.
type boxes []box

func (bs boxes) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	for _, b := range bs {
		x0, x1 := tx(clampLog(p, b.x0)), tx(clampLog(p, b.x1))
		if x1-x0 < 2 {
			m := (x0 + x1) / 2
			x0, x1 = m-1, m+1
		}
		y0, y1 := ty(b.y-b.half), ty(b.y+b.half)
		pts := []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
		c.FillPolygon(b.fill, pts)
		if b.edge != nil {
			c.StrokeLines(draw.LineStyle{Color: b.edge, Width: vg.Points(0.75)}, c.ClipLinesXY(append(pts, pts[0]))...)
		}
	}
}

func (bs boxes) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for _, b := range bs {
		xmin, xmax = min(xmin, b.x0), max(xmax, b.x1)
		ymin, ymax = min(ymin, b.y-b.half), max(ymax, b.y+b.half)
	}
	return
}

// clampLog keeps values a log axis cannot show (≤ 0) at its left edge.
func clampLog(p *plot.Plot, x float64) float64 {
	if _, ok := p.X.Scale.(plot.LogScale); ok && x < p.X.Min {
		return p.X.Min
	}
	return x
}

// mark is one glyph.
type mark struct {
	x, y  float64
	style draw.GlyphStyle
}

// marks draws glyphs with a style each (plotter.Scatter has one style).
type marks []mark

func (ms marks) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	for _, m := range ms {
		pt := vg.Point{X: tx(clampLog(p, m.x)), Y: ty(m.y)}
		if c.Contains(pt) {
			c.DrawGlyph(m.style, pt)
		}
	}
}

func (ms marks) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for _, m := range ms {
		xmin, xmax = min(xmin, m.x), max(xmax, m.x)
		ymin, ymax = min(ymin, m.y), max(ymax, m.y)
	}
	return
}

// vline is a dashed vertical line across all rows (fault, detection).
type vline struct {
	x   float64
	col color.Color
}

func (v vline) Plot(c draw.Canvas, p *plot.Plot) {
	tx, _ := p.Transforms(&c)
	x := tx(v.x)
	c.StrokeLine2(draw.LineStyle{Color: v.col, Width: vg.Points(0.6), Dashes: []vg.Length{vg.Points(2), vg.Points(2)}},
		x, c.Min.Y, x, c.Max.Y)
}

// verticalGrid is gonum's grid without horizontal lines (rows are nominal).
func verticalGrid() *plotter.Grid {
	g := plotter.NewGrid()
	g.Vertical.Color = colGrid
	g.Vertical.Width = vg.Points(0.5)
	g.Horizontal.Width = 0
	return g
}

// detectionCharts draw detection − fault (the anchor every OS has) per
// mechanism (requested settings, scenario, heartbeat): one row per group,
// the group's model window as a band, each repetition as a point in its
// OS's colour (hollow for fixtures, which only echo the model). Rows of
// one panel share the mechanism asked for, so an OS that did not apply
// the settings (macOS listener idle) stands out.
func detectionCharts(r *Report) ([]Chart, error) {
	var panels [][]*Group
	for i := range r.Groups {
		g := &r.Groups[i]
		if g.Expect != results.ExpectDetected || g.AfterFault == nil {
			continue
		}
		j := slices.IndexFunc(panels, func(p []*Group) bool { return p[0].Mechanism == g.Mechanism })
		if j < 0 {
			panels = append(panels, nil)
			j = len(panels) - 1
		}
		panels[j] = append(panels[j], g)
	}
	slices.SortStableFunc(panels, func(a, b []*Group) int { return compareMechanisms(a[0], b[0]) })
	var out []Chart
	for _, pn := range panels {
		c, err := detectionChart(pn)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// chartTitle names a panel's mechanism in words.
func chartTitle(g *Group) string {
	if h := g.Heartbeat; h != nil {
		return fmt.Sprintf("heartbeat every %s, dead after %d missed answers (keepalive off)", keepalive.ShortDuration(h.Period), h.Misses)
	}
	s := g.Requested
	title := fmt.Sprintf("idle %s · interval %s · count %d", keepalive.ShortDuration(s.Idle), keepalive.ShortDuration(s.Interval), s.Count)
	if g.Scenario != "" {
		title += " ·" + keepalive.ScenarioLabel(g.Scenario, g.UserTimeout)
	}
	return title
}

func detectionChart(groups []*Group) (Chart, error) {
	n := len(groups)
	var bs boxes
	var ms marks
	labels := make([]string, n)
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, g := range groups {
		y := float64(n - 1 - i) // first group on top
		label := g.ID + " " + g.Server
		label += modeNote(g.Mode, g.Scenario) + " · " + faultName(g.FaultKind, g.FaultScope, g.FaultDirection, g.Hold, g.Emulated) + " · " + g.Source
		if g.Model != nil && g.Model.Settings != g.Requested {
			label += " (effective " + g.Model.Settings.Short() + ")"
		}
		labels[n-1-i] = label
		col := osColor(g.OS)
		if g.Model != nil {
			w := g.Model.AfterFault
			bs = append(bs, box{y: y, x0: secs(w.Min), x1: secs(w.Max), half: 0.34,
				fill: withAlpha(col, 0x30), edge: withAlpha(col, 0x90)})
			lo, hi = min(lo, secs(w.Min)), max(hi, secs(w.Max))
		}
		var vals []results.Result
		for _, res := range g.members {
			if res.Detected && res.Measured.AfterFault != nil {
				vals = append(vals, res)
			}
		}
		for k, res := range vals {
			// Spread repetitions vertically inside the row so equal values
			// stay countable.
			dy := 0.0
			if len(vals) > 1 {
				dy = (float64(k)/float64(len(vals)-1) - 0.5) * 0.4
			}
			v := secs(*res.Measured.AfterFault)
			st := draw.GlyphStyle{Color: col, Radius: vg.Points(3.2), Shape: draw.CircleGlyph{}}
			if res.Fixture {
				st.Shape = draw.RingGlyph{}
			}
			ms = append(ms, mark{x: v, y: y + dy, style: st})
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	p := newPlot()
	p.NominalY(labels...)
	p.Y.Min, p.Y.Max = -0.6, float64(n)-0.4
	note := ""
	switch {
	case lo > 0 && hi/lo > 20:
		// Minutes or hours next to seconds (a setting the OS did not
		// apply): only a log axis keeps both readable.
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		p.X.Min, p.X.Max = lo/1.6, hi*1.6
		p.X.Label.Text = "detection − fault (s, log scale)"
		note = "log scale: the values span more than a factor of 20"
	case lo >= 0.5*hi:
		pad := max((hi-lo)*0.12, hi*0.01)
		p.X.Min, p.X.Max = max(0, lo-pad), hi+pad
		p.X.Label.Text = "detection − fault (s)"
		note = "the axis starts at " + trimFloat(p.X.Min) + " s to show the spread"
	default:
		p.X.Min, p.X.Max = 0, hi*1.08
		p.X.Label.Text = "detection − fault (s)"
	}
	p.Add(verticalGrid(), bs, ms)
	id := "detection-" + strings.NewReplacer("/", "-", " ", "", "×", "x").Replace(groups[0].Mechanism)
	title := chartTitle(groups[0])
	h := vg.Points(46 + 30*float64(n))
	svg, err := renderSVG(p, vg.Points(780), h, "detection − fault for "+title)
	if err != nil {
		return Chart{}, err
	}
	return Chart{ID: id, Title: title, Note: note, SVG: svg}, nil
}

func trimFloat(f float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", f), "0"), ".")
}

// Timeline lanes, bottom to top.
const (
	laneICMP = iota
	laneClient
	laneServer
)

// TimelineEvent is one instant of a run, relative to the timeline's zero.
type TimelineEvent struct {
	Kind string // accept, last-peer, fault, probe, ping-loss, detection, healed
	At   time.Duration
}

// Timeline is one run's chart and the instants it shows, for the caption.
type Timeline struct {
	Chart
	// Run is the run's unique id.
	Run string
	// Zero names the instant the axis counts from ("fault" or "accept").
	Zero   string
	Events []TimelineEvent
	// Model is the model window on the same axis; nil when not drawn.
	Model *keepalive.Window
	// Missing says why there is no chart (the run failed before any anchor).
	Missing string
}

// timeline draws one run on three lanes: the server's socket (accept, last
// peer activity, keepalive probes, detection, with the model window as a
// band), the client (the fault held until healed) and ICMP (ping loss).
// Zero is the fault instant: runs line up on what kalab did.
func timeline(res results.Result) (Timeline, error) {
	a := res.Anchors
	tl := Timeline{Run: res.Run, Chart: Chart{ID: timelineID(res.Run)}}
	if accept := a.Accept; accept != nil && accept.Equal(time.Unix(0, 0)) {
		// An accept time of 0: the service's host could not time it (the
		// executor recorded a zero); drawing it would put it in 1970.
		a.Accept = nil
	}
	zero := a.Fault
	tl.Zero = "fault"
	if zero == nil {
		zero, tl.Zero = a.Accept, "accept"
	}
	if zero == nil && res.Target != nil && res.Target.Method == results.MethodBisection {
		tl.Missing = "no timeline: bisection tried outages of chosen lengths and brackets the detection; it has no single instant"
		if b := res.Target.Bracket; b != nil {
			tl.Missing = fmt.Sprintf("no timeline: bisection brackets the detection between %s and %s after the outage began (%s); it has no single instant",
				fmtDur(b.Min), fmtDur(b.Max), plural(res.Target.Trials, "trial"))
		}
		return tl, nil
	}
	if zero == nil {
		// The failure itself is shown next to the timeline.
		tl.Missing = "no timeline: no anchor was recorded"
		if res.Outcome == results.OutcomeSkipped {
			tl.Missing = "not run: the plan skipped it (reason below)"
		}
		if res.Failure != "" {
			tl.Missing = "no timeline: the run failed before any anchor was recorded"
		}
		return tl, nil
	}
	rel := func(t time.Time) time.Duration { return t.Sub(*zero) }
	add := func(kind string, t *time.Time) {
		if t != nil {
			tl.Events = append(tl.Events, TimelineEvent{kind, rel(*t)})
		}
	}
	add("accept", a.Accept)
	add("last-peer", a.LastPeer)
	add("fault", a.Fault)
	for _, p := range a.Probes {
		add("probe", &p)
	}
	add("ping-loss", a.PingLoss)
	add("detection", a.Detection)
	add("healed", a.Healed)
	slices.SortStableFunc(tl.Events, func(x, y TimelineEvent) int { return cmp.Compare(x.At, y.At) })

	if m := res.Model; m != nil && res.Expect != results.ExpectImmediate {
		switch {
		case a.LastPeer != nil && res.Scenario != keepalive.ScenarioUnacked: // the unacked model runs from the write
			w := keepalive.Window{Min: rel(*a.LastPeer) + m.FromT0.Min, Max: rel(*a.LastPeer) + m.FromT0.Max}
			tl.Model = &w
		case a.Fault != nil:
			w := keepalive.Window{Min: rel(*a.Fault) + m.AfterFault.Min, Max: rel(*a.Fault) + m.AfterFault.Max}
			tl.Model = &w
		}
	}

	col := osColor(res.Server.OS)
	var bs boxes
	var ms marks
	var lines []plot.Plotter
	lo, hi := math.Inf(1), math.Inf(-1)
	see := func(d time.Duration) { lo, hi = min(lo, secs(d)), max(hi, secs(d)) }
	if tl.Model != nil {
		bs = append(bs, box{y: laneServer, x0: secs(tl.Model.Min), x1: secs(tl.Model.Max), half: 0.36,
			fill: withAlpha(col, 0x38), edge: withAlpha(col, 0xa0)})
		see(tl.Model.Min)
		see(tl.Model.Max)
	}
	if a.Fault != nil {
		end := a.Healed
		if end == nil {
			end = a.Detection
		}
		if end != nil && end.After(*a.Fault) {
			bs = append(bs, box{y: laneClient, x0: secs(rel(*a.Fault)), x1: secs(rel(*end)), half: 0.16,
				fill: withAlpha(colFault, 0x40)})
		}
		lines = append(lines, vline{x: secs(rel(*a.Fault)), col: withAlpha(colFault, 0x90)})
	}
	glyph := func(c color.NRGBA, r float64, s draw.GlyphDrawer) draw.GlyphStyle {
		return draw.GlyphStyle{Color: c, Radius: vg.Points(r), Shape: s}
	}
	for _, e := range tl.Events {
		see(e.At)
		x := secs(e.At)
		switch e.Kind {
		case "accept":
			ms = append(ms, mark{x, laneServer, glyph(colAccept, 3.2, draw.BoxGlyph{})})
		case "last-peer":
			ms = append(ms, mark{x, laneServer, glyph(colT0, 3.6, draw.SquareGlyph{})})
		case "probe":
			ms = append(ms, mark{x, laneServer, glyph(colProbe, 3.4, draw.PyramidGlyph{})})
		case "detection":
			ms = append(ms, mark{x, laneServer, glyph(colDetect, 4.5, draw.CrossGlyph{})})
			lines = append(lines, vline{x: x, col: withAlpha(colDetect, 0x90)})
		case "fault":
			ms = append(ms, mark{x, laneClient, glyph(colFault, 3.2, draw.BoxGlyph{})})
		case "healed":
			ms = append(ms, mark{x, laneClient, glyph(colFault, 3.2, draw.RingGlyph{})})
		case "ping-loss":
			ms = append(ms, mark{x, laneICMP, glyph(colLoss, 3.4, draw.CircleGlyph{})})
		}
	}
	p := newPlot()
	p.NominalY("ICMP", "client", "server")
	p.Y.Min, p.Y.Max = -0.6, 2.6
	pad := max((hi-lo)*0.04, 0.05)
	p.X.Min, p.X.Max = lo-pad, hi+pad
	p.X.Label.Text = "s from the " + tl.Zero + " (server clock)"
	p.Add(verticalGrid())
	p.Add(lines...)
	p.Add(bs, ms)
	svg, err := renderSVG(p, vg.Points(560), vg.Points(118), "timeline of run "+res.Label())
	if err != nil {
		return Timeline{}, err
	}
	tl.SVG = svg
	return tl, nil
}
