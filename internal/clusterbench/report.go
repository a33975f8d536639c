package clusterbench

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/kalab-dev/kalab/internal/atomicfile"
)

// Phases are the table's row names, in order.
var Phases = []string{"join", "status-seq", "status-par", "clock-offset", "clock-bound", "pair-chain", "pair-command"}

// Print writes the table: one row per phase (n, failed, the phase's wall
// time, p50, p95, p99 and max in ms; "-" where a column does not apply),
// then the dispatch and clock summaries.
func (r *Report) Print(w io.Writer) error {
	fmt.Fprintf(w, "cluster: %d agents, %d CPUs, %s\n", r.Agents, r.CPUs, r.Date.Format("2006-01-02T15:04:05Z"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\tn\tfailed\twall_ms\tp50_ms\tp95_ms\tp99_ms\tmax_ms")
	none := "-\t-\t-\t-"
	fmt.Fprintf(tw, "join\t%d\t-\t%s\t%s\n", r.Agents, num(r.JoinMS), none)
	for _, l := range []struct {
		name string
		l    Latency
	}{{"status-seq", r.Sequential}, {"status-par", r.Concurrent}} {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", l.name, l.l.N, l.l.Failed, num(l.l.WallMS), row(l.l.Stats))
	}
	c, failed := r.Clock, 0
	for _, a := range c.Agents {
		if a.Err != "" {
			failed++
		}
	}
	fmt.Fprintf(tw, "clock-offset\t%d\t%d\t%s\t%s\n", len(c.Agents)-failed, failed, num(c.MS), row(c.AbsOffset))
	fmt.Fprintf(tw, "clock-bound\t%d\t%d\t-\t%s\n", len(c.Agents)-failed, failed, row(c.Bound))
	d := r.Dispatch
	fmt.Fprintf(tw, "pair-chain\t%d\t%d\t%s\t%s\n", d.Pairs-d.Failed, d.Failed, num(d.WallMS), row(d.Chain))
	fmt.Fprintf(tw, "pair-command\t%d\t-\t-\t%s\n", 2*(d.Pairs-d.Failed), row(d.Command))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "status-par: %d in flight; clock: %d samples per agent, %d of %d agents' |offset| within their bound\n",
		r.Concurrent.Parallel, c.Samples, c.WithinBound, len(c.Agents))
	fmt.Fprintf(w, "dispatch: %d pairs at once, wall %s ms, longest chain %s ms, wall/longest %s, chains summed %s ms\n",
		d.Pairs, num(d.WallMS), num(d.LongestMS), strconv.FormatFloat(d.Ratio, 'f', 3, 64), num(d.SumMS))
	fmt.Fprintf(w, "retried (took ≥ %s, no answer to the first attempt): status-seq %d, status-par %d, pair-command %d\n",
		RetryAfter, r.Sequential.Retried, r.Concurrent.Retried, d.Retried)
	fmt.Fprintf(w, "dispatch: one chain alone %s ms (median of %d), wall/alone %s\n",
		num(d.AloneMS), d.AloneN, strconv.FormatFloat(d.AloneRatio, 'f', 3, 64))
	for _, l := range []Latency{r.Sequential, r.Concurrent} {
		for _, e := range l.Errors {
			fmt.Fprintf(w, "error: %s\n", e)
		}
	}
	for _, e := range d.Errors {
		fmt.Fprintf(w, "error: dispatch: %s\n", e)
	}
	for _, a := range c.Agents {
		if a.Err != "" {
			fmt.Fprintf(w, "error: clock %s: %s\n", a.Agent, a.Err)
		}
	}
	return nil
}

func row(s Stats) string {
	return num(s.P50MS) + "\t" + num(s.P95MS) + "\t" + num(s.P99MS) + "\t" + num(s.MaxMS)
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// WriteJSON writes the report to path (atomically).
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o644)
}
