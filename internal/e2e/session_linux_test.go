package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/session"
	"github.com/kalab-dev/kalab/internal/testkit"
	"github.com/kalab-dev/kalab/internal/wire"
)

// TestSessionDropInLab: session start --lab, watch (--json, and on a
// pseudo-terminal), fault drop: the events come in order — accept, the
// fault, at least count probes, the detection inside the model's window —
// and the terminal shows them with the countdown; session save, report
// beside experiment runs, session list and stop.
func TestSessionDropInLab(t *testing.T) {
	s := newSessions(t)
	defer s.done()
	id := s.start()
	jw, jout := s.watch(id, true)
	tw, tout := s.watch(id, false)
	time.Sleep(2500 * time.Millisecond) // probes cycle (idle 1 s) before the fault
	if out := s.run("fault", "drop", "--session", id); !strings.Contains(out, "drop applied at +") {
		t.Errorf("fault drop said %q", out)
	}
	if err := s.wait(jw, 40*time.Second); err != nil {
		t.Fatalf("watch --json: %v\n%s", err, jout)
	}
	_ = s.wait(tw, 10*time.Second)
	t.Logf("watch --json:\n%s", jout)
	order := []string{wire.EventAccept, wire.EventFault, wire.EventProbe, wire.EventDetection}
	// In the order they happened (a push lost and fetched again may print
	// late; its time still says when it happened).
	lines := parseWatch(t, jout.Bytes())
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].T < lines[j].T })
	next, probes := 0, 0
	var model, detected *watchLine
	for i, l := range lines {
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
	if next < len(order) || probes < 3 || model == nil || model.From == nil || detected == nil {
		t.Fatalf("events in order: %d of %v, %d probes after the fault (want ≥ 3), model line %v, detection %v", next, order, probes, model, detected)
	}
	// The window's own accuracy is a benchmark's business: here the
	// detection lands in it, give or take 0.2 s of clock mapping.
	if detected.T < *model.From-0.2 || detected.T > *model.To+0.2 || detected.Errno != "ETIMEDOUT" {
		t.Errorf("detection at %.3f s (%s), model window %.3f – %.3f s", detected.T, detected.Errno, *model.From, *model.To)
	}
	screen := testkit.Screen(tout.String())
	for _, want := range []string{"server  accept", "probe 1", "detection   ETIMEDOUT", "model: detection in"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the terminal view lacks %q:\n%s", want, screen)
		}
	}

	res := filepath.Join(filepath.Dir(s.bin), "sessions.jsonl")
	s.run("session", "save", id, "-o", res)
	rs, err := results.Read(res)
	if err != nil || len(rs) != 1 || rs[0].Experiment != "session" || !rs[0].Detected || rs[0].Measured.AfterFault == nil {
		t.Fatalf("saved session: %+v %v", rs, err)
	}
	if rs[0].Outcome != results.OutcomePass {
		t.Errorf("saved session outcome %s (%s), want pass", rs[0].Outcome, rs[0].Why)
	}
	repDir := filepath.Join(filepath.Dir(s.bin), "report")
	if out, err := exec.Command(s.bin, "report", "-o", repDir, res, filepath.Join(testkit.ModuleRoot(t), "testdata", "linux-lab-quick.jsonl")).CombinedOutput(); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	md, err := os.ReadFile(filepath.Join(repDir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "session "+id) || !strings.Contains(string(md), "quick") {
		t.Errorf("report.md does not show the session beside the quick experiment's runs")
	}
	if out := s.run("session", "list"); !strings.Contains(out, id) || !strings.Contains(out, "drop") {
		t.Errorf("session list:\n%s", out)
	}
	s.run("session", "stop", id)
	if out := s.run("session", "list"); !strings.Contains(out, "no sessions") {
		t.Errorf("session list after stop:\n%s", out)
	}
}
