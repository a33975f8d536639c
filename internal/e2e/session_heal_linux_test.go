package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSessionHealedPauseInLab: fault pause, then fault heal before the
// model's detection: watch shows the fault, the heal and the echo and no
// detection, and the connection still carries the echo.
func TestSessionHealedPauseInLab(t *testing.T) {
	s := newSessions(t)
	defer s.done()
	id := s.start()
	w, out := s.watch(id, true)
	time.Sleep(1500 * time.Millisecond)
	s.run("fault", "pause", "--session", id)
	time.Sleep(time.Second)
	if got := s.run("fault", "heal", "--session", id); !strings.Contains(got, "the connection survived") {
		t.Errorf("fault heal said %q, want an echo", got)
	}
	time.Sleep(4 * time.Second) // past the 1s/1s/3 window: nothing may be detected
	_ = syscall.Kill(-w.Process.Pid, syscall.SIGINT)
	if err := s.wait(w, 20*time.Second); err != nil {
		t.Errorf("watch after Ctrl-C: %v", err)
	}
	kinds := map[string]int{}
	for _, l := range parseWatch(t, out.Bytes()) {
		kinds[l.Kind]++
	}
	if kinds["fault"] != 1 || kinds["heal"] != 1 || kinds["echo"] != 1 || kinds["detection"] != 0 {
		t.Errorf("watch of a pause healed before detection: %v, want one fault, heal and echo, no detection:\n%s", kinds, out)
	}
	if got := s.run("session", "list"); !strings.Contains(got, "pause (healed)") {
		t.Errorf("session list:\n%s", got)
	}
}

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

func parseWatch(t *testing.T, b []byte) []watchLine {
	var lines []watchLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var l watchLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("watch --json line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}
