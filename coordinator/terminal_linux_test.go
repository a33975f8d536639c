package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kalab-dev/kalab/internal/testkit"
)

// TestTerminalAndPipedOutputInLab runs the quick experiment as a user
// would: on a terminal (a pseudo-terminal from util-linux script(1), sized
// 120×40) and piped. Both end with one line per run that says what the
// server noticed, when, and the model's window, under a readable run name;
// neither shows log lines (they go to coordinator.log).
func TestTerminalAndPipedOutputInLab(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: lab experiments need root (run as root, as CI does)")
	}
	if testing.Short() {
		t.Skip("skipping two lab runs of configs/quick.toml in -short mode")
	}
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("skipping: script(1) not found (Debian package bsdutils)")
	}
	bin := buildBinaries(t)
	dir := filepath.Dir(bin)
	run := bin + " experiment run -c ../configs/quick.toml --lab -o " + filepath.Join(dir, "out-tty")
	tty, err := exec.Command(script, "-qfec", "stty cols 120 rows 40; exec "+run, "/dev/null").CombinedOutput()
	if err != nil {
		t.Fatalf("on a terminal: %v\n%s", err, tail(string(tty), 30))
	}
	piped, err := exec.Command(bin, "experiment", "run", "-c", "../configs/quick.toml", "--lab", "-o", filepath.Join(dir, "out-pipe")).CombinedOutput()
	if err != nil {
		t.Fatalf("piped: %v\n%s", err, tail(string(piped), 30))
	}
	answer := regexp.MustCompile(`(drop|pause|kill)·1s/1s/3·lab-agent-\d→lab-agent-\d·#1(?:: | +(?:\[=+\] )?)` +
		`(detected [0-9.]+ s after the fault \(model 3\.07 s – 4\.10 s\), ETIMEDOUT: pass|not detected while silenced for [0-9.]+ s: pass|detected −?[0-9.]+ ms after the fault, EOF: pass)`)
	for _, out := range []struct {
		name string
		text string
	}{{"terminal", testkit.Screen(string(tty))}, {"piped", string(piped)}} {
		finals := map[string]bool{}
		for _, line := range strings.Split(out.text, "\n") {
			if m := answer.FindStringSubmatch(line); m != nil {
				finals[strings.TrimRight(strings.Fields(m[0])[0], ":")] = true
			}
			if strings.Contains(line, "level=") || strings.Contains(line, `"level"`) || strings.Contains(line, "msg=") {
				t.Errorf("%s: a log line on the user's screen: %q", out.name, line)
			}
		}
		if len(finals) < 6 {
			t.Errorf("%s: %d distinct final answer lines, want 6 (drop, pause, kill × 2 pairs):\n%s", out.name, len(finals), tail(out.text, 30))
		}
	}
}
