package testkit

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/fault"
	"github.com/kalab-dev/kalab/internal/lab"
	"github.com/kalab-dev/kalab/internal/results"
)

// ModuleRoot is the repository's root: the directory of go.mod above the
// test's working directory.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// BuildBinaries builds the coordinator and the agent side by side in a
// temporary directory, as a release archive lays them out (the lab starts
// the agent found beside the coordinator), and returns the coordinator.
func BuildBinaries(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./coordinator", "./agent")
	build.Dir = ModuleRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build coordinator and agent: %v\n%s", err, out)
	}
	return filepath.Join(dir, "coordinator")
}

// CheckNothingLeft fails t if a lab namespace owned by one of pids, a kalab
// nftables table in the root namespace, or a process running bin is left.
func CheckNothingLeft(t testing.TB, bin string, pids *[]int) {
	t.Helper()
	names, _ := lab.Namespaces()
	for _, n := range names {
		for _, p := range *pids {
			if pid, ok := lab.OwnerPID(n); ok && pid == p {
				t.Errorf("namespace %s left behind", n)
			}
		}
	}
	tables, err := fault.Tables(0)
	for _, tb := range tables {
		if strings.Contains(tb, "kalab") {
			t.Errorf("nftables table %s left in the root namespace (%v)", tb, err)
		}
	}
	if procs, _ := exec.Command("pgrep", "-f", bin).Output(); len(bytes.TrimSpace(procs)) > 0 {
		t.Errorf("processes of the test binary still running: %s", procs)
	}
}

// Tail is the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// RunLabExperiment runs one experiment file (a path from the module
// root) in the lab through the real binaries and returns its results and
// report.md; it checks that nothing kalab* is left behind.
func RunLabExperiment(t testing.TB, config string) ([]results.Result, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: lab experiments need root (run as root, as CI does)")
	}
	if testing.Short() {
		t.Skipf("skipping the lab run of %s in -short mode", config)
	}
	bin := BuildBinaries(t)
	out := filepath.Join(filepath.Dir(bin), "out")
	cmd := exec.Command(bin, "experiment", "run", "-c", filepath.Join(ModuleRoot(t), config), "--lab", "--out", out)
	start := time.Now()
	output, err := cmd.CombinedOutput()
	t.Logf("%s ran %s:\n%s", config, time.Since(start).Round(time.Second), Tail(string(output), 8))
	pids := []int{cmd.Process.Pid}
	defer CheckNothingLeft(t, bin, &pids)
	if err != nil {
		t.Fatalf("experiment run %s: %v\n%s", config, err, Tail(string(output), 40))
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
