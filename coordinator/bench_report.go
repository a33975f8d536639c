package main

import (
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/report/bench"
)

// benchReportCmd is `coordinator bench report`: how long `coordinator
// report` takes, how much memory it needs and how big its files get for a
// synthetic results file of --runs runs (docs/benchmarks.md).
func benchReportCmd() *cobra.Command {
	var (
		runs    int
		out     string
		browser string
	)
	cmd := &cobra.Command{
		Use:   "report [--runs 10000] [-o DIR]",
		Short: "Time `coordinator report` on a synthetic results file: wall time, peak RSS, file sizes, Chromium render",
		Long: `Write a synthetic results file of --runs runs (built from the model and
labelled synthetic, never a measurement) into DIR/results.jsonl, run
"coordinator report -o DIR/report DIR/results.jsonl" as a child process and
print its wall time, peak RSS (Linux and macOS) and the size of every file it
wrote; where headless Chromium is installed, also how long it takes to load
report.html and dump its DOM, next to the same for an empty page. The figures
go to DIR/bench.json too; docs/benchmarks.md says how to read them.`,
		Example: `  coordinator bench report --runs 10000 -o out/bench-report
  coordinator bench report --runs 1000 --browser ""`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runs < 1 {
				return fmt.Errorf("--runs %d: want at least 1", runs)
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find the coordinator binary: %w", err)
			}
			res, err := bench.Run(cmd.Context(), bench.Options{Runs: runs, Dir: out, Exe: exe, Browser: browser})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			res.Table(tw)
			fmt.Fprintf(tw, "figures\t%s\n", filepath.Join(out, "bench.json"))
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&runs, "runs", 10000, "synthetic runs in the results file")
	cmd.Flags().StringVarP(&out, "out", "o", filepath.Join("out", "bench-report"), "output directory (created if missing)")
	cmd.Flags().StringVar(&browser, "browser", bench.Chromium, `headless Chromium to time the render with ("" skips it)`)
	return cmd
}
