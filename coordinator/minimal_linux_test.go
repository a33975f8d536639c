package main

import (
	"testing"

	"github.com/kalab-dev/kalab/internal/results"
)

// TestMinimalConfigInLab: configs/minimal.toml (only a name, one
// [[settings]] and one [[faults]]) validates and runs in the lab: the
// Linux runs pass; the macOS cells it plans as skipped never meet an agent.
func TestMinimalConfigInLab(t *testing.T) {
	rs, _ := runLabExperiment(t, "../configs/minimal.toml")
	if len(rs) == 0 {
		t.Fatal("no runs")
	}
	for _, r := range rs {
		if r.Outcome != results.OutcomePass || r.Server.OS != "linux" {
			t.Errorf("%s on %s: %s (%s%s)", r.Label(), r.Server.OS, r.Outcome, r.Why, r.Failure)
		}
	}
}
