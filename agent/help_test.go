package main

import (
	"strings"
	"testing"

	"github.com/kalab-dev/kalab/internal/cli"
)

// TestHelpConventions: every command of the agent, hidden ones and cobra's
// help and completion included, has an Examples section; every --config is
// also -c; `agent version` prints a version even from a test build.
func TestHelpConventions(t *testing.T) {
	root := rootCmd()
	for _, p := range cli.Verify(root, map[string][]string{
		"agent run":             {"config"},
		"agent doctor":          {"config"},
		"agent service install": {"config"},
		"agent service run":     {"config"},
		"agent service status":  nil,
		"agent completion bash": nil,
		"agent help":            nil,
	}) {
		t.Error(p)
	}
	for path := range examples {
		if c, _, err := root.Find(strings.Fields(path)[1:]); err != nil || c.CommandPath() != path {
			t.Errorf("examples has %q, which is no command", path)
		}
	}
}
