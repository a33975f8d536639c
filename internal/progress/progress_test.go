package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// TestPlain: piped output is one line per start and end, the end carrying
// the run's answer and the count.
func TestPlain(t *testing.T) {
	var b bytes.Buffer
	r := NewPlain(&b)
	r.Planned(2, 26*time.Second)
	r.Start("drop·1s/1s/3·a→b·#1", 13*time.Second)
	af := 3602 * time.Millisecond
	r.Done("drop·1s/1s/3·a→b·#1", results.Result{Outcome: results.OutcomePass, Detected: true, Measured: results.Measured{AfterFault: &af}})
	r.Done("never started", results.Result{})
	r.Wait()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines:\n%s", len(lines), b.String())
	}
	for i, want := range []string{"2 runs planned, about 26s", "start drop·1s/1s/3·a→b·#1 (takes about 13s)", "done  drop·1s/1s/3·a→b·#1: detected 3.60 s after the fault: pass [1/2]"} {
		if !strings.HasSuffix(lines[i], want) {
			t.Errorf("line %d = %q, want suffix %q", i, lines[i], want)
		}
	}
}

// TestStatus: a running bar says what the run is doing, with the model's
// countdown once the client is silenced.
func TestStatus(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC)
	w := keepalive.Window{Min: 3072 * time.Millisecond, Max: 4096 * time.Millisecond}
	fault := t0.Add(3 * time.Second)
	for _, tc := range []struct {
		phase *experiment.Phase
		now   time.Time
		want  string
	}{
		{nil, t0.Add(time.Second), "connecting · 1.0 s of ~13.0 s"},
		{&experiment.Phase{Name: "settling", Since: t0, Until: fault}, t0.Add(time.Second), "settling · client silenced in 2.0 s"},
		{&experiment.Phase{Name: "silenced", Since: fault, Until: fault.Add(w.Max), Window: w}, fault.Add(time.Second),
			"silenced 1.0 s · model detects 3.07 s – 4.10 s after the fault: due within 3.1 s"},
		{&experiment.Phase{Name: "silenced", Since: fault, Until: fault.Add(w.Max), Window: w}, fault.Add(5 * time.Second),
			"silenced 5.0 s · past the model's 3.07 s – 4.10 s, still waiting"},
		{&experiment.Phase{Name: "silenced", Since: fault}, fault.Add(2 * time.Second), "silenced 2.0 s · no detection expected, watching"},
	} {
		l := &live{start: t0, expected: 13 * time.Second}
		if tc.phase != nil {
			l.phase.Store(tc.phase)
		}
		if got := l.status(tc.now); got != tc.want {
			t.Errorf("status = %q, want %q", got, tc.want)
		}
	}
}
