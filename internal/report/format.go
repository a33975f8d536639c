package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// na marks a value the run does not have (e.g. no ping loss when only the
// flow was dropped).
const na = "n/a"

// fmtDur writes a duration with the precision that matters at its size:
// whole milliseconds below 1 s ("3 ms"), milliseconds below 10 s
// ("4.096 s"), centiseconds below 1000 s ("33.79 s"), whole seconds above.
func fmtDur(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	s := float64(d) / float64(time.Second)
	var out string
	switch {
	case d == 0:
		out = "0 ms"
	case d < time.Millisecond:
		out = fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		out = fmt.Sprintf("%d ms", d.Round(time.Millisecond)/time.Millisecond)
	case d < 10*time.Second:
		out = fmt.Sprintf("%.3f s", s)
	case d < 1000*time.Second:
		out = fmt.Sprintf("%.2f s", s)
	default:
		out = fmt.Sprintf("%.0f s", s)
	}
	return sign + out
}

// fmtOpt writes an optional duration, n/a when missing.
func fmtOpt(d *time.Duration) string {
	if d == nil {
		return na
	}
	return fmtDur(*d)
}

func fmtWindow(w keepalive.Window) string {
	if w.Min == w.Max {
		return fmtDur(w.Min)
	}
	return fmtDur(w.Min) + " – " + fmtDur(w.Max)
}

// fmtStats writes stats for a table cell: "median (min – max, p95 P, n=N)".
func fmtStats(s *Stats) string {
	switch {
	case s == nil:
		return na
	case s.Min == s.Max:
		return fmt.Sprintf("%s (n=%d)", fmtDur(s.Median), s.Count)
	}
	return fmt.Sprintf("%s (%s – %s, p95 %s, n=%d)", fmtDur(s.Median), fmtDur(s.Min), fmtDur(s.Max), fmtDur(s.P95), s.Count)
}

// inlineStats writes stats for a sentence.
func inlineStats(s *Stats) string {
	switch {
	case s.Count == 1:
		return fmtDur(s.Median) + " (1 run)"
	case s.Min == s.Max:
		return fmt.Sprintf("%s (all %d runs)", fmtDur(s.Median), s.Count)
	}
	return fmt.Sprintf("median %s (%s – %s, %d runs)", fmtDur(s.Median), fmtDur(s.Min), fmtDur(s.Max), s.Count)
}

// plural writes "1 run" / "3 runs".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ReplaceAll(s, "\r", "")
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}
