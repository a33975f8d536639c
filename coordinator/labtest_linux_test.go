package main

import (
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/testkit"
)

// buildBinaries builds the coordinator and the agent side by side in a
// temporary directory, as a release archive lays them out (the lab starts
// the agent found beside the coordinator), and returns the coordinator.
func buildBinaries(t *testing.T) string { return testkit.BuildBinaries(t) }

// runLabExperiment runs one experiment file (a path from this directory,
// "../configs/…") in the lab through the real binaries and returns its
// results and report.md (testkit.RunLabExperiment).
func runLabExperiment(t *testing.T, config string) ([]results.Result, string) {
	t.Helper()
	return testkit.RunLabExperiment(t, strings.TrimPrefix(config, "../"))
}

// within checks a measured duration against generous bounds.
func within(t *testing.T, r results.Result, what string, d *time.Duration, lo, hi time.Duration) {
	t.Helper()
	if d == nil {
		t.Errorf("%s: no %s", r.Label(), what)
		return
	}
	if *d < lo || *d > hi {
		t.Errorf("%s: %s = %s, want %s..%s", r.Label(), what, d.Round(time.Millisecond), lo, hi)
	}
}
