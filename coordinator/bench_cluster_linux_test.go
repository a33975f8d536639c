package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/clusterbench"
)

// TestBenchClusterInLab runs `bench cluster --lab --agents 3 --commands
// 10` (this test binary acts as the coordinator the lab re-executes, see
// TestMain) and checks that it finishes within 60 s, prints a well-formed
// table and writes bench.json; no figure is asserted.
func TestBenchClusterInLab(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: the cluster bench builds a netns lab and needs root (run as root, as CI does)")
	}
	dir := filepath.Dir(buildBinaries(t)) // the agent the lab starts, beside a coordinator
	t.Setenv(benchChildEnv, "1")
	out := filepath.Join(dir, "out")
	agent := filepath.Join(dir, "agent")
	var stdout, stderr bytes.Buffer
	cmd := benchClusterCmd()
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"--lab", "--agents", "3", "--commands", "10", "-o", out, "--agent-bin", agent})
	start := time.Now()
	err := cmd.Execute()
	took := time.Since(start)
	pids := []int{os.Getpid()}
	defer checkNothingLeft(t, agent, &pids)
	t.Logf("bench cluster took %s:\n%s", took.Round(time.Millisecond), stdout.String())
	if err != nil {
		t.Fatalf("bench cluster: %v\n%s", err, stderr.String())
	}
	if took > 60*time.Second {
		t.Errorf("bench cluster --agents 3 took %s, over its 60 s budget", took.Round(time.Second))
	}
	checkClusterTable(t, stdout.String())
	b, err := os.ReadFile(filepath.Join(out, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep clusterbench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("bench.json: %v", err)
	}
	if rep.Agents != 3 || rep.Sequential.N+rep.Sequential.Failed != 10 || rep.Concurrent.Parallel != 3 ||
		len(rep.Clock.Agents) != 3 || rep.Dispatch.Pairs != 6 {
		t.Errorf("bench.json: %d agents, %d+%d sequential, parallel %d, %d clocks, %d pairs; want 3, 10, 3, 3, 6",
			rep.Agents, rep.Sequential.N, rep.Sequential.Failed, rep.Concurrent.Parallel, len(rep.Clock.Agents), rep.Dispatch.Pairs)
	}
}

// checkClusterTable checks the table's shape: a header, then one row per
// phase with counts and numbers (or "-"), then the summary lines.
func checkClusterTable(t *testing.T, s string) {
	t.Helper()
	i := strings.Index(s, "cluster: ")
	if i < 0 {
		t.Fatalf("no cluster table in:\n%s", s)
	}
	lines := strings.Split(strings.TrimSpace(s[i:]), "\n")
	var phases []string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		switch {
		case strings.HasPrefix(l, "status-par: "), strings.HasPrefix(l, "dispatch: "), strings.HasPrefix(l, "json: "),
			strings.HasPrefix(l, "error: "), strings.HasPrefix(l, "retried "):
		case len(f) > 0 && f[0] == "phase":
			if strings.Join(f, " ") != "phase n failed wall_ms p50_ms p95_ms p99_ms max_ms" {
				t.Errorf("header %q", l)
			}
		case len(f) == 8 && slices.Contains(clusterbench.Phases, f[0]):
			for _, v := range f[1:] {
				if _, err := strconv.ParseFloat(v, 64); err != nil && v != "-" {
					t.Errorf("row %q: %q is neither a number nor -", l, v)
				}
			}
			phases = append(phases, f[0])
		default:
			t.Errorf("malformed line %q", l)
		}
	}
	if !slices.Equal(phases, clusterbench.Phases) {
		t.Errorf("rows %v, want %v", phases, clusterbench.Phases)
	}
}
