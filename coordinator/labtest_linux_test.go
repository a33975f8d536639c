package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/results"
)

// buildBinaries builds the coordinator and the agent side by side in a
// temporary directory, as a release archive lays them out (the lab starts
// the agent found beside the coordinator), and returns the coordinator.
func buildBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), ".", "../agent")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build coordinator and agent: %v\n%s", err, out)
	}
	return filepath.Join(dir, "coordinator")
}

// runLabExperiment runs one experiment file in the lab through the real
// binaries and returns its results and report.md; it checks that nothing
// kalab* is left behind.
func runLabExperiment(t *testing.T, config string) ([]results.Result, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: lab experiments need root (run as root, as CI does)")
	}
	if testing.Short() {
		t.Skipf("skipping the lab run of %s in -short mode", config)
	}
	bin := buildBinaries(t)
	out := filepath.Join(filepath.Dir(bin), "out")
	cmd := exec.Command(bin, "experiment", "run", "-c", config, "--lab", "--out", out)
	start := time.Now()
	output, err := cmd.CombinedOutput()
	t.Logf("%s ran %s:\n%s", config, time.Since(start).Round(time.Second), tail(string(output), 8))
	pids := []int{cmd.Process.Pid}
	defer checkNothingLeft(t, bin, &pids)
	if err != nil {
		t.Fatalf("experiment run %s: %v\n%s", config, err, tail(string(output), 40))
	}
	rs, err := results.Read(filepath.Join(out, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	return rs, string(md)
}

// within checks a measured duration against generous bounds.
func within(t *testing.T, r results.Result, what string, d *time.Duration, lo, hi time.Duration) {
	t.Helper()
	if d == nil {
		t.Errorf("%s: no %s", r.Label(), what)
		return
	}
	if *d < lo || *d > hi {
		t.Errorf("%s: %s = %s, want %s..%s", r.Label(), what, d.Round(time.Millisecond), lo, hi)
	}
}
