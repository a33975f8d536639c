package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/fidelity"
)

// TestBenchFidelityInLab runs `bench fidelity --lab -n 2` (this test
// binary acts as the coordinator the lab re-executes, see TestMain) and
// checks that it finishes within 90 s, prints a well-formed table and
// writes fidelity.json; no figure is asserted.
func TestBenchFidelityInLab(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: the fidelity bench builds a netns lab and needs root (run as root, as CI does)")
	}
	if testing.Short() {
		t.Skip("skipping the ~60 s fidelity bench in -short mode")
	}
	needTcpdump(t)
	dir := filepath.Dir(buildBinaries(t)) // the agent the lab starts, beside a coordinator
	t.Setenv(benchChildEnv, "1")
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	cmd := benchFidelityCmd()
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"--lab", "-n", "2", "-o", out, "--agent-bin", filepath.Join(dir, "agent")})
	start := time.Now()
	err := cmd.Execute()
	took := time.Since(start)
	pids := []int{os.Getpid()}
	defer checkNothingLeft(t, filepath.Join(out, "capture"), &pids)
	t.Logf("bench fidelity took %s:\n%s", took.Round(time.Second), stdout.String())
	if err != nil {
		t.Fatalf("bench fidelity: %v\n%s", err, stderr.String())
	}
	if took > 90*time.Second {
		t.Errorf("bench fidelity -n 2 took %s, over its 90 s budget", took.Round(time.Second))
	}
	checkFidelityTable(t, stdout.String())
	b, err := os.ReadFile(filepath.Join(out, "fidelity.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep fidelity.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("fidelity.json: %v", err)
	}
	if rep.Runs != 4 || rep.Compared == 0 || len(rep.Stats) == 0 || len(rep.Samples) == 0 {
		t.Errorf("fidelity.json: %d runs, %d compared, %d stats, %d samples; skipped %v", rep.Runs, rep.Compared, len(rep.Stats), len(rep.Samples), rep.Skipped)
	}
}

// needTcpdump skips t when Debian's tcpdump is missing, and fails it in CI,
// which installs it (.ci/run).
func needTcpdump(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tcpdump"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("tcpdump not found (CI installs Debian's package tcpdump: .ci/run): %v", err)
		}
		t.Skip("skipping: tcpdump not found; install Debian's package tcpdump (apt-get install -y tcpdump)")
	}
}

// checkFidelityTable checks the table's shape: a header, then rows of a
// known anchor, a setting, a count and five numbers.
func checkFidelityTable(t *testing.T, s string) {
	t.Helper()
	i := strings.Index(s, "fidelity: ")
	if i < 0 {
		t.Fatalf("no fidelity table in:\n%s", s)
	}
	lines := strings.Split(strings.TrimSpace(s[i:]), "\n")
	rows := 0
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		switch {
		case strings.HasPrefix(l, "  skipped "), strings.HasPrefix(l, "errors in ms"), strings.HasPrefix(l, "json: "), strings.HasPrefix(l, "note: "):
		case len(f) > 0 && f[0] == "anchor":
			if strings.Join(f, " ") != "anchor setting n bias median p95 p99 max" {
				t.Errorf("header %q", l)
			}
		case len(f) == 8 && slices.Contains(fidelity.Anchors, f[0]):
			for _, v := range f[2:] {
				if _, err := strconv.ParseFloat(v, 64); err != nil {
					t.Errorf("row %q: %q is not a number", l, v)
				}
			}
			rows++
		default:
			t.Errorf("malformed line %q", l)
		}
	}
	if rows == 0 {
		t.Errorf("no rows in:\n%s", s[i:])
	}
}
