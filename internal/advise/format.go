package advise

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// Seconds writes a duration for the model's output, to the millisecond:
// "4.096 s", "4 s", "4.5 s"; from two minutes on with the h/m/s form too:
// "7203 s (2h0m3s)".
func Seconds(d time.Duration) string {
	if d < 0 {
		return "−" + Seconds(-d)
	}
	d = d.Round(time.Millisecond)
	s := strings.TrimRight(strings.TrimRight(strconv.FormatFloat(d.Seconds(), 'f', 3, 64), "0"), ".") + " s"
	if d >= 2*time.Minute {
		s += " (" + d.String() + ")"
	}
	return s
}

// window writes "3.072 s – 4.096 s", or one value when Min == Max.
func window(w keepalive.Window) string {
	lo, hi := Seconds(w.Min), Seconds(w.Max)
	if lo == hi {
		return lo
	}
	if i := strings.Index(lo, " ("); i > 0 {
		lo = lo[:i] // one h/m/s form, the upper end's, is enough
	}
	return lo + " – " + hi
}

// perHour writes a probe rate: whole probes, or tenths below 10.
func perHour(x float64) string {
	if x < 10 {
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 0, 64)
}

// errName is what a blocked Read returns when keepalive gives up
// (docs/keepalive-models.md §3.4).
func errName(goos string) string {
	if goos == "windows" {
		return "WSAENETRESET or WSAETIMEDOUT"
	}
	return "ETIMEDOUT"
}

// hzLine states the tick rate the Linux model ran at.
func hzLine(q Query) string {
	if q.HZ <= 0 {
		return "Linux with HZ unknown (" + q.HZSource + "): each timer firing may be up to 1/8 of its timeout late"
	}
	return fmt.Sprintf("Linux at HZ=%d, %s", q.HZ, q.HZSource)
}

// hasLinux reports whether q models Linux.
func hasLinux(q Query) bool {
	for _, p := range q.Platforms {
		if p.OS == "linux" {
			return true
		}
	}
	return false
}

// preamble is the mode, phase and HZ line every answer starts with.
func preamble(q Query) string {
	s := fmt.Sprintf("mode %s; probes answered until the fault (phase %s), T0 = the last ACK from the peer", q.Mode, q.Phase)
	if hasLinux(q) {
		s += "\n" + hzLine(q)
	}
	if q.UserTimeout > 0 {
		s += fmt.Sprintf("; TCP_USER_TIMEOUT %s", q.UserTimeout)
	}
	return s
}

// heading is an OS's one-line answer.
func heading(q Query, m OSModel) string {
	name := displayPlatform(m.Platform)
	if m.Platform.OS == "linux" && q.HZ > 0 {
		name += fmt.Sprintf(" at HZ=%d", q.HZ)
	}
	return fmt.Sprintf("%s: %s after the last ACK, %s after the fault", name, window(m.Prediction.FromT0), window(m.Prediction.AfterFault))
}

// applied says what the socket gets against what was asked.
func applied(m OSModel) string {
	if m.Applied == m.Requested {
		return m.Applied.Short() + ", as requested"
	}
	return fmt.Sprintf("%s, not the requested %s", m.Applied.Short(), m.Requested.Short())
}

// measuredLine writes a comparison with measured runs.
func measuredLine(m *Measured) string {
	if m == nil || m.Runs == 0 {
		return "no runs"
	}
	var parts []string
	if m.AfterFault != nil {
		parts = append(parts, "after the fault median "+statText(*m.AfterFault))
	}
	if m.FromT0 != nil {
		parts = append(parts, "after the last ACK median "+statText(*m.FromT0))
	}
	if m.Other > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d runs not ended by keepalive", m.Other, m.Runs))
	}
	s := strings.Join(parts, "; ")
	if len(m.HZ) > 0 {
		hz := make([]string, len(m.HZ))
		for i, h := range m.HZ {
			hz[i] = strconv.Itoa(h)
		}
		s += " (servers at HZ=" + strings.Join(hz, ",") + ")"
	}
	if m.Fixture {
		s = "fixture runs only (built from the model, not measured): " + s
	}
	return s
}

func statText(s Stat) string {
	if s.N == 1 {
		return Seconds(s.Median) + " (n=1)"
	}
	rng := window(keepalive.Window{Min: s.Min, Max: s.Max})
	if !strings.Contains(rng, "–") {
		return fmt.Sprintf("%s (n=%d, all)", Seconds(s.Median), s.N)
	}
	return fmt.Sprintf("%s (n=%d, %s)", Seconds(s.Median), s.N, rng)
}

// WriteModel writes a Model for people: per OS one line with both windows,
// then what the socket applies, the probes, the rule, the measured runs
// (with --results) and the quirks.
func WriteModel(w io.Writer, m Model) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "keepalive model for %s (idle %s, interval %s, count %d)\n%s\n",
		m.Requested.Short(), m.Requested.Idle, m.Requested.Interval, m.Requested.Count, preamble(m.Query))
	if m.Results != nil {
		fmt.Fprintf(b, "measured: %d runs from %s\n", m.Results.Runs, strings.Join(m.Results.Files, ", "))
	}
	for _, o := range m.OSes {
		fmt.Fprintf(b, "\n%s\n", heading(m.Query, o))
		fmt.Fprintf(b, "  applied   %s\n", applied(o))
		fmt.Fprintf(b, "  probes    %d unanswered, then Read fails with %s; %s probes per idle hour\n",
			o.Prediction.Probes, errName(o.Platform.OS), perHour(o.ProbesPerHour))
		fmt.Fprintf(b, "  rule      %s\n", o.Prediction.Rule)
		if m.Results != nil {
			fmt.Fprintf(b, "  measured  %s\n", measuredLine(o.Measured))
		}
		for _, q := range o.Quirks {
			fmt.Fprintf(b, "  note      %s\n", q.Text)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteAdvice writes an Advice for people: the suggestions best first with
// every OS's windows, which OS constrains the choice, then the notes; or,
// when nothing fits, the tightest settings and how far they miss.
func WriteAdvice(w io.Writer, a Advice) error {
	b := &strings.Builder{}
	names := make([]string, len(a.Query.Platforms))
	for i, p := range a.Query.Platforms {
		names[i] = displayPlatform(p)
	}
	oses := strings.Join(names, ", ")
	if len(a.Suggestions) == 0 {
		t := a.Tightest
		fmt.Fprintf(b, "nothing fits: no settings detect a silent peer within %s after the fault on %s\n%s\n", Seconds(a.Target), oses, preamble(a.Query))
		if t != nil {
			fmt.Fprintf(b, "the tightest is %s: worst case %s after the fault on %s, %s over the target\n",
				t.Settings.Short(), Seconds(t.Worst), strings.Join(t.ConstrainedBy, ", "), Seconds(-t.Spare))
			writeOSes(b, a, *t)
			writeNotes(b, []Suggestion{*t})
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(b, "keepalive settings that detect a silent peer within %s after the fault on %s\n%s\n", Seconds(a.Target), oses, preamble(a.Query))
	fmt.Fprintf(b, "searched idle and interval 1..%d s in whole seconds, count %d..%d (every OS's limits); %d settings modelled\n",
		int64(a.Search.MaxIdle/time.Second), a.Search.MinCount, min(a.Search.MaxCount, max(a.Search.MinCount, int(a.Search.MaxIdle/time.Second))), a.Search.Modelled)
	fmt.Fprintf(b, "ranked by fewest probes per idle hour (the busiest OS), then largest count, then largest idle\n")
	if a.Results != nil {
		fmt.Fprintf(b, "measured: %d runs from %s\n", a.Results.Runs, strings.Join(a.Results.Files, ", "))
	}
	for i, s := range a.Suggestions {
		fmt.Fprintf(b, "\n#%d %s (idle %s, interval %s, count %d): %s probes per idle hour; worst case %s after the fault, %s to spare, on %s\n",
			i+1, s.Settings.Short(), s.Settings.Idle, s.Settings.Interval, s.Settings.Count, perHour(s.ProbesPerHour), Seconds(s.Worst), Seconds(s.Spare), strings.Join(s.ConstrainedBy, ", "))
		writeOSes(b, a, s)
	}
	fmt.Fprintf(b, "\nconstrained by %s: the worst case closest to %s (%s for #1)\n",
		strings.Join(a.Suggestions[0].ConstrainedBy, ", "), Seconds(a.Target), Seconds(a.Suggestions[0].Worst))
	writeNotes(b, a.Suggestions)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeOSes writes one suggestion's per-OS lines.
func writeOSes(b *strings.Builder, a Advice, s Suggestion) {
	for _, o := range s.OSes {
		fmt.Fprintf(b, "   %s; %s probes/h", heading(a.Query, o), perHour(o.ProbesPerHour))
		if o.Applied != o.Requested {
			fmt.Fprintf(b, "; applies %s", o.Applied.Short())
		}
		b.WriteString("\n")
		if a.Results != nil {
			fmt.Fprintf(b, "     measured: %s\n", measuredLine(o.Measured))
		}
	}
}

// writeNotes writes the quirks once each, with the OSes they apply to.
func writeNotes(b *strings.Builder, ss []Suggestion) {
	var order []string
	who := map[string][]string{}
	for _, s := range ss {
		for _, o := range s.OSes {
			for _, q := range o.Quirks {
				if _, ok := who[q.Text]; !ok {
					order = append(order, q.Text)
				}
				if !contains(who[q.Text], o.Name) {
					who[q.Text] = append(who[q.Text], o.Name)
				}
			}
		}
	}
	if len(order) == 0 {
		return
	}
	b.WriteString("notes:\n")
	for _, t := range order {
		fmt.Fprintf(b, "  %s: %s\n", strings.Join(who[t], ", "), t)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
