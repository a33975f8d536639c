package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/report"
	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/testkit"
)

// TestResumeInLab interrupts the quick experiment (SIGINT, as Ctrl-C
// sends it, once the first run is recorded), checks it exits 130 with the
// runs cut short recorded as interrupted, then finishes it with --resume:
// every planned run recorded exactly once, one report over all six, and
// nothing kalab* left behind.
func TestResumeInLab(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: the lab resume test needs root (run as root, as CI does)")
	}
	if testing.Short() {
		t.Skip("skipping the ~30 s lab resume test in -short mode")
	}
	bin := buildBinaries(t)
	out := filepath.Join(filepath.Dir(bin), "out")
	resultsPath, pids := filepath.Join(out, "results.jsonl"), []int{}
	args := []string{"experiment", "run", "-c", "../configs/quick.toml", "--lab", "-o", out}
	defer checkNothingLeft(t, bin, &pids)

	var first bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &first, &first
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the test's SIGINT goes to it alone
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pids = append(pids, cmd.Process.Pid)
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, _ := os.ReadFile(resultsPath); bytes.Count(b, []byte("\n")) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
			t.Fatalf("no run recorded within 90 s:\n%s", first.String())
		}
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	err := cmd.Wait()
	t.Logf("interrupted run:\n%s", tail(first.String(), 12))
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("interrupted experiment: %v, want exit status 130", err)
	}
	if rs, err := results.Read(resultsPath); err != nil || len(rs) == 0 || !strings.Contains(first.String(), "--resume") {
		t.Fatalf("after the interrupt: %d results, %v; want some, and the tally pointing at --resume", len(rs), err)
	}

	resume := exec.Command(bin, append(args, "--resume")...)
	output, err := resume.CombinedOutput()
	pids = append(pids, resume.Process.Pid)
	t.Logf("resumed run:\n%s", tail(string(output), 12))
	if err != nil {
		t.Fatalf("experiment run --resume: %v", err)
	}
	rs, err := results.Read(resultsPath)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range rs {
		seen[r.Run]++
		if r.Outcome == results.OutcomeInterrupted || r.Execution != rs[0].Execution || r.ExperimentHash == "" {
			t.Errorf("run %s: outcome %s, execution %q (first %q), hash %q", r.Run, r.Outcome, r.Execution, rs[0].Execution, r.ExperimentHash)
		}
	}
	if len(seen) != 6 || len(rs) != 6 {
		t.Errorf("%d records of %d runs (%v), want 6 runs recorded once each", len(rs), len(seen), seen)
	}
	var rep report.Report
	if b, err := os.ReadFile(filepath.Join(out, "report.json")); err != nil || json.Unmarshal(b, &rep) != nil || len(rep.Runs) != 6 {
		t.Errorf("report.json: %v, %d runs, want 6", err, len(rep.Runs))
	}
}

// checkNothingLeft: no namespace of the given coordinators, no kalab
// nftables table, no process of the test's binaries.
func checkNothingLeft(t *testing.T, bin string, pids *[]int) { testkit.CheckNothingLeft(t, bin, pids) }
