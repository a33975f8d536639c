package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/session"
	"github.com/kalab-dev/kalab/internal/wire"
)

// watchLine is one `watch --json` object.
type watchLine struct {
	T     float64  `json:"t_s"`
	Role  string   `json:"role"`
	Kind  string   `json:"kind"`
	Text  string   `json:"text"`
	Errno string   `json:"errno"`
	Probe int      `json:"probe"`
	From  *float64 `json:"from_s"`
	To    *float64 `json:"to_s"`
}

// TestSessionInLab drives an interactive session through the real
// binaries, as a person would: session start --lab, watch (--json, and on
// a pseudo-terminal), fault drop; then a second session with fault pause
// and fault heal before the model's detection; session save and report;
// session stop. Nothing may be left behind.
func TestSessionInLab(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: lab sessions need root (run as root, as CI does)")
	}
	if testing.Short() {
		t.Skip("skipping the ~60 s lab session in -short mode")
	}
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("skipping: script(1) not found (Debian package bsdutils)")
	}
	bin := buildBinaries(t)
	dir := filepath.Dir(bin)
	sessions := filepath.Join(dir, "sessions")
	pids := []int{os.Getpid()}
	defer checkNothingLeft(t, bin, &pids)
	var started []string
	defer func() { // before the check above, also when the test fails
		for _, id := range started {
			_ = exec.Command(bin, "session", "stop", id, "--sessions", sessions).Run()
		}
	}()
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append(args, "--sessions", sessions)...).Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("coordinator %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		return string(out)
	}
	start := func() string {
		t.Helper()
		id := strings.TrimSpace(run("session", "start", "--lab", "--idle", "1s", "--interval", "1s", "--count", "3", "--ttl", "3m"))
		rec, err := session.Store{Dir: sessions}.Load(id)
		if err != nil {
			t.Fatalf("session start printed %q: %v", id, err)
		}
		if rec.Lab != nil {
			pids = append(pids, rec.Lab.KeeperPID)
		}
		started = append(started, id)
		return id
	}
	watch := func(id string, asJSON bool) (*exec.Cmd, *bytes.Buffer) {
		t.Helper()
		var out bytes.Buffer
		var c *exec.Cmd
		if asJSON {
			c = exec.Command(bin, "watch", id, "--json", "--sessions", sessions)
		} else { // a pseudo-terminal, 120×40, as a person sees it
			c = exec.Command(script, "-qfec", "stty cols 120 rows 40; exec "+bin+" watch "+id+" --sessions "+sessions, "/dev/null")
		}
		c.Stdout, c.Stderr = &out, &out
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		return c, &out
	}
	wait := func(c *exec.Cmd, within time.Duration) error {
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case err := <-done:
			return err
		case <-time.After(within):
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			<-done
			t.Errorf("watch did not end within %s", within)
			return nil
		}
	}

	// 1. A drop: accept, the fault, at least count probes, the detection
	// inside the model's window.
	id1 := start()
	jw, jout := watch(id1, true)
	tw, tout := watch(id1, false)
	time.Sleep(2500 * time.Millisecond) // probes cycle (idle 1 s) before the fault
	if out := run("fault", "drop", "--session", id1); !strings.Contains(out, "drop applied at +") {
		t.Errorf("fault drop said %q", out)
	}
	if err := wait(jw, 40*time.Second); err != nil {
		t.Fatalf("watch --json: %v\n%s", err, jout)
	}
	_ = wait(tw, 10*time.Second)
	var lines []watchLine
	sc := bufio.NewScanner(bytes.NewReader(jout.Bytes()))
	for sc.Scan() {
		var l watchLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("watch --json line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	t.Logf("watch --json:\n%s", jout)
	order := []string{wire.EventAccept, wire.EventFault, wire.EventProbe, wire.EventDetection}
	next, probes, last := 0, 0, -1.0
	var model *watchLine
	var detected *watchLine
	for i, l := range lines {
		if l.T < last-0.002 {
			t.Errorf("line %d at %.3f s comes after one at %.3f s", i, l.T, last)
		}
		last = max(last, l.T)
		switch {
		case l.Kind == wire.EventProbe && next >= 2:
			probes++
		case l.Kind == session.KindModel:
			model = &lines[i]
		case l.Kind == wire.EventDetection:
			detected = &lines[i]
		}
		if next < len(order) && l.Kind == order[next] {
			next++
		}
	}
	if next < len(order) || probes < 3 {
		t.Fatalf("events in order: got %d of %v, %d probes after the fault (want ≥ 3)", next, order, probes)
	}
	if model == nil || model.From == nil || detected == nil {
		t.Fatalf("no model line with a window, or no detection")
	}
	// Generous: the window itself is what a benchmark checks; here the
	// detection must land in it, give or take 0.2 s of clock mapping.
	if detected.T < *model.From-0.2 || detected.T > *model.To+0.2 || detected.Errno != "ETIMEDOUT" {
		t.Errorf("detection at %.3f s (%s), model window %.3f – %.3f s", detected.T, detected.Errno, *model.From, *model.To)
	}
	screen := ansi.ReplaceAllString(strings.ReplaceAll(tout.String(), "\r", "\n"), "")
	for _, want := range []string{"accept", "probe 1", "detection", "model: detection in"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the terminal view lacks %q:\n%s", want, screen)
		}
	}

	// 2. A pause healed before the model's detection: no detection, and
	// the connection still carries an echo.
	id2 := start()
	pw, pout := watch(id2, true)
	time.Sleep(1500 * time.Millisecond)
	run("fault", "pause", "--session", id2)
	time.Sleep(time.Second)
	if out := run("fault", "heal", "--session", id2); !strings.Contains(out, "the connection survived") {
		t.Errorf("fault heal said %q, want an echo", out)
	}
	time.Sleep(4 * time.Second) // past the 1s/1s/3 window: nothing may be detected
	_ = syscall.Kill(-pw.Process.Pid, syscall.SIGINT)
	_ = wait(pw, 20*time.Second)
	got := pout.String()
	for _, want := range []string{`"kind":"fault"`, `"kind":"heal"`, `"kind":"echo"`} {
		if !strings.Contains(got, want) {
			t.Errorf("watch of the healed pause lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, `"kind":"detection"`) {
		t.Errorf("watch of a pause healed before detection shows a detection:\n%s", got)
	}

	// 3. session save, then the report shows the session beside
	// experiment runs.
	res := filepath.Join(dir, "sessions.jsonl")
	run("session", "save", id1, "-o", res)
	rs, err := results.Read(res)
	if err != nil || len(rs) != 1 || rs[0].Experiment != "session" || !rs[0].Detected || rs[0].Measured.AfterFault == nil {
		t.Fatalf("saved session: %+v %v", rs, err)
	}
	if rs[0].Outcome != results.OutcomePass {
		t.Errorf("saved session outcome %s (%s), want pass", rs[0].Outcome, rs[0].Why)
	}
	repDir := filepath.Join(dir, "report")
	if out, err := exec.Command(bin, "report", "-o", repDir, res, "../testdata/linux-lab-quick.jsonl").CombinedOutput(); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	md, err := os.ReadFile(filepath.Join(repDir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "session "+id1) || !strings.Contains(string(md), "quick") {
		t.Errorf("report.md does not show the session beside the quick experiment's runs")
	}

	// 4. session list, then stop: the records and the labs go.
	if out := run("session", "list"); !strings.Contains(out, id1) || !strings.Contains(out, id2) {
		t.Errorf("session list:\n%s", out)
	}
	for _, id := range []string{id1, id2} {
		run("session", "stop", id)
	}
	if out := run("session", "list"); !strings.Contains(out, "no sessions") {
		t.Errorf("session list after stop:\n%s", out)
	}
}
