package clusterbench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestStats: nearest-rank percentiles, and zero for no samples.
func TestStats(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := Distribution(ds)
	if want := (Stats{P50MS: 50, P95MS: 95, P99MS: 99, MaxMS: 100}); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
	if ds[0] != 100*time.Millisecond {
		t.Error("stats sorted its input")
	}
	if got := Distribution(nil); got != (Stats{}) {
		t.Errorf("Distribution(nil) = %+v", got)
	}
	if n := retried(RetryAfter-1, RetryAfter, 2*RetryAfter); n != 2 {
		t.Errorf("retried = %d, want 2", n)
	}
}

// TestPrint: one row per phase, in order, with the header's 8 columns.
func TestPrint(t *testing.T) {
	r := &Report{Agents: 2, CPUs: 2, JoinMS: 1.5, Sequential: Latency{N: 3, Parallel: 1}, Concurrent: Latency{N: 3, Parallel: 2},
		Clock:    Clock{Samples: 5, Agents: []AgentOffset{{Agent: "a"}, {Agent: "b", Err: "no response"}}},
		Dispatch: Dispatch{Pairs: 2, Errors: []string{"boom"}}}
	var b bytes.Buffer
	if err := r.Print(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if len(lines) < 2+len(Phases) {
		t.Fatalf("short output:\n%s", b.String())
	}
	for i, p := range Phases {
		f := strings.Fields(lines[2+i])
		if len(f) != 8 || f[0] != p {
			t.Errorf("row %d = %q, want phase %s with 8 columns", i, lines[2+i], p)
		}
	}
	for _, want := range []string{"error: dispatch: boom", "error: clock b: no response", "wall/alone"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
