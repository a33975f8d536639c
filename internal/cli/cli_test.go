package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// tree is a small command tree like the agent's: one command keeps the
// convention, one breaks it (--config without -c, no example).
func tree() *cobra.Command {
	root := &cobra.Command{Use: "tool", SilenceUsage: true, SilenceErrors: true}
	run := &cobra.Command{Use: "run -c FILE", Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error { return nil }}
	run.Flags().StringP("config", "c", "", "config file")
	run.Flags().StringP("out", "o", "out/x", "output directory")
	run.Flags().Int("count", 3, "count")
	taken := &cobra.Command{Use: "taken", Run: func(*cobra.Command, []string) {}}
	taken.Flags().StringP("cipher", "c", "", "takes -c first")
	taken.Flags().String("config", "", "config file")
	root.AddCommand(run, taken, VersionCommand("tool"))
	return root
}

// TestFinish: Finish fills examples (given ones, then cobra's help and
// completion), and Verify names each command that breaks the conventions
// and each expected command or flag that is missing.
func TestFinish(t *testing.T) {
	root := tree()
	Finish(root, map[string]string{"tool": "  tool run -c x.toml", "tool run": "  tool run -c x.toml -o out/y"})
	want := []string{`"tool taken" has no Example`, `"tool taken": --config has shorthand "", want -c`, `no command "tool gone"`}
	got := Verify(root, map[string][]string{"tool run": {"config", "out", "count"}, "tool gone": nil})
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Verify = %q, want %q", got, want)
	}
	for _, path := range []string{"tool help", "tool completion bash", "tool version"} {
		c, _, err := root.Find(strings.Fields(path)[1:])
		if err != nil || strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s: no example (%v)", path, err)
		}
	}
}

func TestErrorLine(t *testing.T) {
	for _, tt := range []struct{ err, want string }{
		{"coordinator: could not join the cluster within 30s", "coordinator: could not join the cluster within 30s"},
		{"no agents for the experiment", "coordinator: no agents for the experiment"},
		{"coordinatorish: x", "coordinator: coordinatorish: x"},
	} {
		if got := ErrorLine("coordinator", errors.New(tt.err)); got != tt.want {
			t.Errorf("ErrorLine(%q) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
