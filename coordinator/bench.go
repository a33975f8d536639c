package main

import "github.com/spf13/cobra"

// benchCmd groups the benchmarks of kalab itself (docs/benchmarks.md):
// its timing error against the wire, and the report at scale.
func benchCmd() *cobra.Command {
	b := &cobra.Command{Use: "bench", Short: "Measure kalab itself: its timing error against a packet capture, the report at scale",
		Example: `  coordinator bench fidelity --lab -n 50
  coordinator bench report --runs 10000`}
	b.AddCommand(benchFidelityCmd(), benchReportCmd(), benchClusterCmd())
	return b
}
