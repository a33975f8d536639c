package fidelity

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/kalab-dev/kalab/internal/labrun"
	"github.com/kalab-dev/kalab/internal/results"
)

// Config is the bench's experiment file: n repetitions of keepalive
// 1s/1s/3 and 1s/3s/3 against a drop, one run at a time, lab-agent-1
// serving and lab-agent-2 silenced. The drop is host-scoped (everything
// but serf's port, ICMP included) rather than the flow only: it silences
// the connection the same way, and it is the only drop under which the
// ICMP method has a loss to time.
func Config(n int) string {
	return fmt.Sprintf(`# Written by coordinator bench fidelity: kalab's timing error against a packet capture.
name = "bench-fidelity"
description = "1s/1s/3 and 1s/3s/3 x host drop, %d repetitions, captured"
repetitions = %d
parallel = 1
max_run = "2m"
margin = "1s"

[server]
select = { os = "linux", name = "lab-agent-1" }

[client]
select = { os = "linux", name = "lab-agent-2" }

[[settings]]
idle = "1s"
interval = "1s"
count = 3

[[settings]]
idle = "1s"
interval = "3s"
count = 3

[[faults]]
kind = "drop"
scope = "host"
`, n, n)
}

// Stats is the distribution of one anchor's errors in one setting
// ("all" for every setting).
type Stats struct {
	// Anchor and Setting name the group; N is its number of samples.
	Anchor  string `json:"anchor"`
	Setting string `json:"setting"`
	N       int    `json:"n"`
	// Bias is the median of the signed errors; Median, P95, P99 and Max
	// are of their absolute values (the percentiles by nearest rank).
	Bias   time.Duration `json:"bias_ns"`
	Median time.Duration `json:"median_abs_ns"`
	P95    time.Duration `json:"p95_abs_ns"`
	P99    time.Duration `json:"p99_abs_ns"`
	Max    time.Duration `json:"max_abs_ns"`
}

// Report is the bench's outcome, written as JSON beside the table.
type Report struct {
	// Runs is how many results were read, Compared how many had a
	// capture to compare with.
	Runs     int `json:"runs"`
	Compared int `json:"compared"`
	// Skipped says, per run, why it was not compared.
	Skipped []string `json:"skipped,omitempty"`
	// Stats are the distributions, per anchor then setting.
	Stats []Stats `json:"stats"`
	// Samples are every error, for re-analysis.
	Samples []Sample `json:"samples"`
}

// Analyze compares every result of resultsPath with the captures in dir
// (<agent>.pcap and labrun.CaptureHostsFile, as labrun writes them).
func Analyze(resultsPath, dir string) (*Report, error) {
	rs, err := results.Read(resultsPath)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, labrun.CaptureHostsFile))
	if err != nil {
		return nil, fmt.Errorf("capture hosts: %w", err)
	}
	var hosts map[string]netip.Addr
	if err := json.Unmarshal(b, &hosts); err != nil {
		return nil, fmt.Errorf("capture hosts %s: %w", labrun.CaptureHostsFile, err)
	}
	pcaps := map[string][]Packet{}
	rep := &Report{Runs: len(rs)}
	for _, r := range rs {
		srv, cli := hosts[r.Server.Name], hosts[r.Client.Name]
		pk, ok := pcaps[r.Server.Name]
		if !ok && srv.IsValid() {
			if pk, err = ReadPcap(filepath.Join(dir, r.Server.Name+".pcap")); err != nil {
				return nil, err
			}
			pcaps[r.Server.Name] = pk
		}
		if !srv.IsValid() || !cli.IsValid() {
			rep.Skipped = append(rep.Skipped, r.Label()+": no lab address for its agents")
			continue
		}
		s, err := Compare(Input{Result: r, Packets: pk, Server: srv, Client: cli})
		if err != nil {
			rep.Skipped = append(rep.Skipped, r.Label()+": "+err.Error())
			continue
		}
		rep.Compared++
		rep.Samples = append(rep.Samples, s...)
	}
	rep.Stats = Summarize(rep.Samples)
	return rep, nil
}

// Summarize groups samples by anchor (in Anchors order) and setting, with
// an "all" group per anchor when there are several settings.
func Summarize(samples []Sample) []Stats {
	var out []Stats
	for _, a := range Anchors {
		var settings []string
		by := map[string][]time.Duration{}
		for _, s := range samples {
			if s.Anchor != a {
				continue
			}
			if _, ok := by[s.Setting]; !ok {
				settings = append(settings, s.Setting)
			}
			by[s.Setting] = append(by[s.Setting], s.Err)
			by["all"] = append(by["all"], s.Err)
		}
		slices.Sort(settings)
		if len(settings) > 1 {
			settings = append(settings, "all")
		}
		for _, set := range settings {
			out = append(out, stats(a, set, by[set]))
		}
	}
	return out
}

func stats(anchor, setting string, errs []time.Duration) Stats {
	signed := slices.Clone(errs)
	slices.Sort(signed)
	abs := make([]time.Duration, len(errs))
	for i, e := range errs {
		abs[i] = e.Abs()
	}
	slices.Sort(abs)
	rank := func(v []time.Duration, p float64) time.Duration {
		i := int(math.Ceil(float64(len(v))*p-1e-9)) - 1
		return v[max(0, min(i, len(v)-1))]
	}
	median := func(v []time.Duration) time.Duration { // the mean of the middle two for an even count
		return (v[(len(v)-1)/2] + v[len(v)/2]) / 2
	}
	return Stats{Anchor: anchor, Setting: setting, N: len(errs), Bias: median(signed),
		Median: median(abs), P95: rank(abs, 0.95), P99: rank(abs, 0.99), Max: abs[len(abs)-1]}
}

// Print writes the report as a table: one line per anchor and setting,
// errors in milliseconds.
func (r *Report) Print(w io.Writer) error {
	fmt.Fprintf(w, "fidelity: %d runs, %d compared with the capture\n", r.Runs, r.Compared)
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "  skipped %s\n", s)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "errors in ms, kalab − wire (positive: kalab later/longer); bias: median signed error; median, p95, p99, max: of |error|")
	fmt.Fprintln(tw, "anchor\tsetting\tn\tbias\tmedian\tp95\tp99\tmax")
	for _, s := range r.Stats {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", s.Anchor, s.Setting, s.N,
			ms(s.Bias), ms(s.Median), ms(s.P95), ms(s.P99), ms(s.Max))
	}
	return tw.Flush()
}

// WriteJSON writes the report to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond))
}
