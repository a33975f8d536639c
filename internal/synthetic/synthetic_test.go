package synthetic

import (
	"reflect"
	"testing"

	"github.com/kalab-dev/kalab/internal/results"
)

// TestResultsDeterministic: the same n gives the same runs.
func TestResultsDeterministic(t *testing.T) {
	a, b := Results(200), Results(200)
	if len(a) != 200 {
		t.Fatalf("%d runs, want 200", len(a))
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two calls with the same n differ")
	}
}

// TestResultsValid: every run is labelled synthetic, unique, and judges to
// the outcome it records; both passes and deviations occur.
func TestResultsValid(t *testing.T) {
	seen := map[string]bool{}
	outcomes := map[string]int{}
	for _, r := range Results(200) {
		if !r.Fixture || r.Experiment != Experiment || r.Lab {
			t.Errorf("%s: fixture=%v experiment=%q lab=%v: a synthetic run must be labelled one", r.Run, r.Fixture, r.Experiment, r.Lab)
		}
		if seen[r.Run] {
			t.Errorf("run id %s repeated", r.Run)
		}
		seen[r.Run] = true
		if r.Model == nil {
			t.Errorf("%s: no model", r.Run)
		}
		got, _ := results.Judge(r, r.Server.HZ)
		if got != r.Outcome {
			t.Errorf("%s: judged %s, recorded %s (%s)", r.Run, got, r.Outcome, r.Why)
		}
		outcomes[r.Outcome]++
	}
	if outcomes[results.OutcomePass] == 0 || outcomes[results.OutcomeDeviation] == 0 {
		t.Errorf("outcomes %v: want passes and a few deviations", outcomes)
	}
	if outcomes[results.OutcomeDeviation] > 20 {
		t.Errorf("outcomes %v: deviations should be few", outcomes)
	}
}
