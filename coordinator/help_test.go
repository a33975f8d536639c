package main

import (
	"testing"

	"github.com/kalab-dev/kalab/internal/cli"
)

// TestHelpConventions: every command of the coordinator, cobra's help and
// completion included, has an Examples section; -c/--config and -o/--out
// exist where the commands take a config or write output; --expect-agents
// has one default and one meaning wherever the coordinator joins;
// `coordinator version` prints a version even from a test build.
func TestHelpConventions(t *testing.T) {
	root := rootCmd()
	for _, p := range cli.Verify(root, map[string][]string{
		"coordinator experiment run":      {"config", "out", "expect-agents"},
		"coordinator experiment validate": {"config"},
		"coordinator experiment plan":     {"config"},
		"coordinator report":              {"out"},
		"coordinator keygen":              {"out"},
		"coordinator members":             {"expect-agents"},
	}) {
		t.Error(p)
	}
	var expect []string
	for _, args := range [][]string{{"experiment", "run"}, {"members"}} {
		c, _, err := root.Find(args)
		if err != nil {
			t.Fatal(err)
		}
		f := c.Flags().Lookup("expect-agents")
		expect = append(expect, f.DefValue+" "+f.Usage)
	}
	if expect[0] != expect[1] {
		t.Errorf("--expect-agents differs between experiment run and members: %q", expect)
	}
}
