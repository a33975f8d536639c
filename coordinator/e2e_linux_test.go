package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/fault"
	"github.com/kalab-dev/kalab/internal/lab"
	"github.com/kalab-dev/kalab/internal/report"
	"github.com/kalab-dev/kalab/internal/testkit"
)

// TestQuickExperimentInLab runs configs/quick.toml through the real
// coordinator binary in the netns lab (agents and the coordinator's cluster
// member inside namespaces) and checks the report's outcomes, then that
// nothing kalab* is left: namespaces, the blackhole route, nftables tables,
// processes.
func TestQuickExperimentInLab(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: the lab end-to-end test needs root (run as root, as CI does)")
	}
	if testing.Short() {
		t.Skip("skipping the ~30 s lab experiment in -short mode")
	}
	bin := buildBinaries(t)
	out := filepath.Join(filepath.Dir(bin), "out")
	cmd := exec.Command(bin, "experiment", "run", "-c", "../configs/quick.toml", "--lab", "--out", out)
	start := time.Now()
	output, err := cmd.CombinedOutput()
	took := time.Since(start)
	t.Logf("coordinator ran %s:\n%s", took.Round(time.Second), tail(string(output), 20))
	if err != nil {
		t.Fatalf("experiment run: %v", err)
	}
	if took > 2*time.Minute {
		t.Errorf("the quick experiment took %s, over its 2 minute budget", took)
	}

	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range rep.Runs {
		seen[r.Fault]++
		switch {
		case strings.HasPrefix(r.Fault, "drop"):
			if r.Outcome != "pass" || !r.Detected || r.Errno != "ETIMEDOUT" || r.FromT0 == nil {
				t.Errorf("drop run %s: %s (%s), detected=%v errno=%s", r.Run, r.Outcome, r.Why, r.Detected, r.Errno)
			}
		case r.Fault == "pause":
			if r.Outcome != "pass" || r.Detected {
				t.Errorf("pause run %s: %s (%s), detected=%v", r.Run, r.Outcome, r.Why, r.Detected)
			}
		case r.Fault == "kill":
			if r.Outcome != "pass" || !r.Detected || r.AfterFault == nil || *r.AfterFault > time.Second+100*time.Millisecond {
				t.Errorf("kill run %s: %s (%s), after fault %v", r.Run, r.Outcome, r.Why, r.AfterFault)
			}
		default:
			t.Errorf("unexpected fault %q in run %s", r.Fault, r.Run)
		}
	}
	if seen["drop flow"] == 0 || seen["pause"] == 0 || seen["kill"] == 0 {
		t.Fatalf("runs per fault: %v, want drop, pause and kill", seen)
	}
	if _, err := os.Stat(filepath.Join(out, "report.md")); err != nil {
		t.Error(err)
	}

	// Nothing kalab* left behind by this run.
	names, _ := lab.Namespaces()
	for _, n := range names {
		if pid, ok := lab.OwnerPID(n); ok && pid == cmd.Process.Pid {
			t.Errorf("namespace %s left behind", n)
		}
	}
	tables, err := fault.Tables(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if strings.Contains(tb, "kalab") {
			t.Errorf("nftables table %s left in the root namespace", tb)
		}
	}
	if procs, _ := exec.Command("pgrep", "-f", bin).Output(); len(strings.TrimSpace(string(procs))) > 0 {
		t.Errorf("processes of the test binary still running: %s", procs)
	}
}

func tail(s string, n int) string { return testkit.Tail(s, n) }
