package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/concbench"
	"github.com/kalab-dev/kalab/internal/results"
)

// TestBenchConcurrencyInLab runs `bench concurrency --lab --conns 6
// --consecutive 2` (this test binary acts as the coordinator the lab
// re-executes, see TestMain) and checks that it finishes within 120 s,
// prints both tables and the fidelity table, writes bench.json with every
// phase's runs and both agents' usage, and that every planned run has a
// record; no figure is asserted.
func TestBenchConcurrencyInLab(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: the concurrency bench builds a netns lab and needs root (run as root, as CI does)")
	}
	if testing.Short() {
		t.Skip("skipping the ~50 s concurrency bench in -short mode")
	}
	needTcpdump(t)
	dir := filepath.Dir(buildBinaries(t))
	t.Setenv(benchChildEnv, "1")
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	cmd := benchConcurrencyCmd()
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"--lab", "--conns", "6", "--consecutive", "2", "-o", out, "--agent-bin", filepath.Join(dir, "agent")})
	start := time.Now()
	err := cmd.Execute()
	took := time.Since(start)
	pids := []int{os.Getpid()}
	defer checkNothingLeft(t, filepath.Join(out, "capture"), &pids)
	t.Logf("bench concurrency took %s:\n%s", took.Round(time.Second), stdout.String())
	if err != nil {
		t.Fatalf("bench concurrency: %v\n%s", err, stderr.String())
	}
	if took > 120*time.Second {
		t.Errorf("bench concurrency --conns 6 took %s, over its 120 s budget", took.Round(time.Second))
	}
	s := stdout.String()
	for _, want := range []string{"phase        parallel  runs  pass", "\nconcurrent   6 ", "phase        agent        role    peak_rss_MiB",
		"concurrent   lab-agent-1  server", "concurrent   lab-agent-2  client", "consecutive  lab-agent-2  client"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	checkFidelityTable(t, s)
	b, err := os.ReadFile(filepath.Join(out, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep concbench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("bench.json: %v", err)
	}
	if len(rep.Phases) != 3 {
		t.Fatalf("bench.json has %d phases, want single, concurrent, consecutive", len(rep.Phases))
	}
	for i, want := range []struct {
		name      string
		runs, par int
	}{{"single", 1, 1}, {"concurrent", 6, 6}, {"consecutive", 2, 1}} {
		p := rep.Phases[i]
		recorded := 0
		for _, n := range p.Outcomes {
			recorded += n
		}
		if p.Name != want.name || p.Planned != want.runs || p.Parallel != want.par || recorded+p.Lost != want.runs || p.WallMS <= 0 {
			t.Errorf("phase %d: %+v, want %s with %d runs at parallel %d, each recorded or lost", i, p, want.name, want.runs, want.par)
		}
		rs, err := results.Read(filepath.Join(p.Dir, "results.jsonl"))
		if err != nil || len(rs) != recorded {
			t.Errorf("phase %s: %d records in its results.jsonl (%v), the report counts %d", p.Name, len(rs), err, recorded)
		}
		if len(p.Agents) != 2 {
			t.Fatalf("phase %s: usage of %d agents, want 2", p.Name, len(p.Agents))
		}
		for _, a := range p.Agents {
			if a.After.Goroutines <= 0 || a.After.PeakRSSBytes <= 0 || a.After.CPUNS < a.Before.CPUNS || a.After.OpenFDs <= 0 {
				t.Errorf("phase %s, %s: usage %+v → %+v, want goroutines, peak RSS, descriptors and CPU that only grows", p.Name, a.Agent, a.Before, a.After)
			}
		}
	}
}
