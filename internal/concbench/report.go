package concbench

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/kalab-dev/kalab/internal/atomicfile"
	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/wire"
)

// Print writes two tables: the phases' runs (outcomes, lost, wall time,
// run durations, detection after the fault) and each agent's usage around
// each phase (peak and current RSS, CPU time spent, goroutines and open
// descriptors before → after, runs still held).
func (r *Report) Print(w io.Writer) error {
	fmt.Fprintf(w, "concurrency: %s × %s, %d CPUs, %s\n", r.Settings, r.Fault, r.CPUs, r.Date.Format("2006-01-02T15:04:05Z"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\tparallel\truns\tpass\tdeviation\tunconfirmed\tfailed\tlost\twall_s\trun_p50_s\trun_max_s\tafter_fault_p50_ms\tp99_ms\tmax_ms")
	for _, p := range r.Phases {
		o := p.Outcomes
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Parallel, p.Planned,
			o[results.OutcomePass], o[results.OutcomeDeviation], o[results.OutcomeUnconfirmed], o[results.OutcomeFailed], p.Lost,
			secs(p.WallMS), secs(p.RunMS.P50MS), secs(p.RunMS.MaxMS), num(p.Detection.P50MS), num(p.Detection.P99MS), num(p.Detection.MaxMS))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\tagent\trole\tpeak_rss_MiB\trss_after_MiB\tcpu_s\tgoroutines\topen_fds\truns_held_after")
	for _, p := range r.Phases {
		for _, a := range p.Agents {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d → %d\t%s → %s\t%d\n", p.Name, a.Agent, a.Role,
				mib(a.After.PeakRSSBytes), mib(a.After.RSSBytes), cpu(a.Before, a.After),
				a.Before.Goroutines, a.After.Goroutines, fds(a.Before.OpenFDs), fds(a.After.OpenFDs), a.ActiveAfter)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range r.Phases {
		for _, f := range p.Failures {
			fmt.Fprintf(w, "%s: a failed run: %s\n", p.Name, f)
		}
	}
	fmt.Fprintf(w, "usage read %s after each phase; peak RSS is since the agent started; the client role runs each connection in a child process, not counted here\n", SettleAfter)
	return nil
}

// WriteJSON writes the report to path atomically.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o644)
}

func num(f float64) string  { return strconv.FormatFloat(f, 'f', 1, 64) }
func secs(f float64) string { return strconv.FormatFloat(f/1000, 'f', 2, 64) }

// mib is bytes in MiB, "?" when the agent's OS did not say.
func mib(b int64) string {
	if b <= 0 {
		return "?"
	}
	return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64)
}

// cpu is the CPU seconds spent between two readings, "?" when unknown.
func cpu(before, after wire.Usage) string {
	if before.CPUNS < 0 || after.CPUNS < 0 {
		return "?"
	}
	return strconv.FormatFloat(float64(after.CPUNS-before.CPUNS)/1e9, 'f', 2, 64)
}

// fds is a descriptor count, "?" when unknown.
func fds(n int) string {
	if n < 0 {
		return "?"
	}
	return strconv.Itoa(n)
}
