package experiment

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/kalab-dev/kalab/internal/report"
	"github.com/kalab-dev/kalab/internal/results"
)

// ResultsFile is the name of the results file in an output directory.
const ResultsFile = "results.jsonl"

// RunOptions say where an experiment runs and where its files go.
type RunOptions struct {
	// Config is the loaded experiment.
	Config *Config
	// Out is the output directory: results.jsonl (appended), the report
	// files, and the coordinator's log when it logs to a file.
	Out string
	// Join says how the coordinator joins the cluster.
	Join JoinOptions
	// Lab marks results as measured in the netns lab.
	Lab bool
	// Progress is told when runs start and end (nil: silent).
	Progress Progress
	// Log receives what the executor and serf say (nil: discarded).
	Log *slog.Logger
}

// Summary is what one execution of an experiment produced.
type Summary struct {
	// Results are this execution's runs, sorted by id.
	Results []results.Result
	// Counts are runs per outcome.
	Counts map[string]int
	// ResultsPath is the results file (holding earlier executions too);
	// ReportDir is where the report files were written.
	ResultsPath, ReportDir string
}

// ExitCode is the coordinator's exit status for a finished experiment: 0
// when every run was carried out (deviations are findings, not errors), 3
// when some run failed.
func (s Summary) ExitCode() int {
	if s.Counts[results.OutcomeFailed] > 0 {
		return 3
	}
	return 0
}

// String is the closing tally and where the files are.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d runs: %d pass, %d deviation, %d unconfirmed, %d failed\n", len(s.Results),
		s.Counts[results.OutcomePass], s.Counts[results.OutcomeDeviation], s.Counts[results.OutcomeUnconfirmed], s.Counts[results.OutcomeFailed])
	fmt.Fprintf(&b, "results: %s\nreport:  %s (also %s)\n", s.ResultsPath, filepath.Join(s.ReportDir, report.Files[0]),
		strings.Join(report.Files[1:], ", "))
	return b.String()
}

// Run carries out an experiment: it opens the results file, joins the
// cluster, executes every run (each result fsynced as it ends), and writes
// the report over everything the results file holds. A run that fails is
// recorded and counted, not returned as an error; the error is for what
// stopped the experiment itself (no cluster, no agents, Ctrl-C).
func Run(ctx context.Context, o RunOptions) (Summary, error) {
	s := Summary{Counts: map[string]int{}, ResultsPath: filepath.Join(o.Out, ResultsFile), ReportDir: o.Out}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return s, fmt.Errorf("output directory: %w", err)
	}
	store, err := results.OpenStore(s.ResultsPath)
	if err != nil {
		return s, err
	}
	defer store.Close()
	join := o.Join
	join.Log = o.Log
	node, err := JoinCluster(ctx, join)
	if err != nil {
		return s, err
	}
	defer func() { node.Leave(); node.Shutdown() }()
	ex := &Executor{Node: node, Config: o.Config, Store: store, Lab: o.Lab, Progress: o.Progress, Log: o.Log}
	rs, runErr := ex.Run(ctx)
	s.Results = rs
	for _, r := range rs {
		s.Counts[r.Outcome]++
	}
	all, err := results.Read(s.ResultsPath)
	if err != nil {
		return s, err
	}
	if err := report.Write(o.Out, report.Build(all)); err != nil {
		return s, err
	}
	return s, runErr
}
