package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/report"
	"github.com/kalab-dev/kalab/internal/results"
)

func reportCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "report [-o DIR] RESULTS.jsonl...",
		Short: "Merge result files (any experiments, any OSes) into one comparison: report.html, report.md, report.json, runs.csv",
		Long: `Merge result files from any number of experiments and OSes into one comparison report.

Arguments are results.jsonl files as "experiment run" writes them; a pattern
(testdata/*.jsonl) is expanded here too, for shells that do not. A run that
appears in more than one file is taken once, from the first file.`,
		Example: `  coordinator report -o out/all out/*/results.jsonl
  coordinator report -o out/compare out/quick/results.jsonl testdata/*.jsonl`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := expandArgs(args)
			if err != nil {
				return err
			}
			m, err := results.Merge(files)
			if err != nil {
				return err
			}
			all, dups := m.Results, m.Duplicates
			for _, w := range m.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			for _, d := range dups {
				fmt.Fprintf(cmd.ErrOrStderr(), "%d runs of %s were already read (first: %s); kept the earlier ones\n",
					len(d.Runs), d.File, d.Runs[0])
			}
			if err := report.Write(out, report.Build(all)); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%d runs from %d files\n", len(all), len(files))
			for _, f := range report.Files {
				fmt.Fprintln(w, filepath.Join(out, f))
			}
			if ents, err := os.ReadDir(filepath.Join(out, report.TimelineDir)); err == nil && len(ents) > 0 {
				fmt.Fprintln(w, filepath.Join(out, report.TimelineDir)+string(filepath.Separator)+" (one page per group, linked from report.html)")
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", filepath.Join("out", "report"), "output directory (created if missing)")
	return cmd
}

// expandArgs expands glob patterns that the shell left alone (Windows cmd,
// quoted patterns); a pattern that matches nothing is an error naming it.
func expandArgs(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		if _, err := os.Stat(a); err == nil || !strings.ContainsAny(a, "*?[") {
			files = append(files, a)
			continue
		}
		m, err := filepath.Glob(a)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", a, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("pattern %q matches no file", a)
		}
		files = append(files, m...)
	}
	return files, nil
}
