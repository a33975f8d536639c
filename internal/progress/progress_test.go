package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/results"
)

// TestPlain: piped output is one line per start and end, the end carrying
// the run's answer and the count.
func TestPlain(t *testing.T) {
	var b bytes.Buffer
	r := NewPlain(&b)
	r.Planned(2)
	r.Start("drop·1s/1s/3·a→b·#1", 13*time.Second)
	af := 3602 * time.Millisecond
	r.Done("drop·1s/1s/3·a→b·#1", results.Result{Outcome: results.OutcomePass, Detected: true, Measured: results.Measured{AfterFault: &af}})
	r.Done("never started", results.Result{})
	r.Wait()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines:\n%s", len(lines), b.String())
	}
	for i, want := range []string{"2 runs planned", "start drop·1s/1s/3·a→b·#1 (takes about 13s)", "done  drop·1s/1s/3·a→b·#1: detected 3.60 s after the fault: pass [1/2]"} {
		if !strings.HasSuffix(lines[i], want) {
			t.Errorf("line %d = %q, want suffix %q", i, lines[i], want)
		}
	}
}
