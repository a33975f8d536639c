package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/labrun"
)

// benchCmd groups the benchmarks of kalab itself (docs/benchmarks.md):
// its timing error against the wire, many connections, the control plane,
// and the report at scale.
func benchCmd() *cobra.Command {
	b := &cobra.Command{Use: "bench", Short: "Measure kalab itself: its timing error against a packet capture, many connections, the cluster, the report at scale",
		Example: `  coordinator bench fidelity --lab -n 50
  coordinator bench concurrency --lab --conns 1000
  coordinator bench cluster --lab --agents 20
  coordinator bench report --runs 10000`}
	b.AddCommand(benchFidelityCmd(), benchReportCmd(), benchClusterCmd(), benchConcurrencyCmd())
	return b
}

// benchReport is what a bench prints as tables and saves as JSON.
type benchReport interface {
	Print(w io.Writer) error
	WriteJSON(path string) error
}

// printAndSave prints rep to w, writes it to dir/name and says where.
func printAndSave(w io.Writer, rep benchReport, dir, name string) error {
	if err := rep.Print(w); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, name)
	if err := rep.WriteJSON(path); err != nil {
		return err
	}
	fmt.Fprintf(w, "json: %s\n", path)
	return nil
}

// runBenchInLab builds a netns lab of agents agents, re-executes this
// binary inside it with args (the bench's own flags; the lab adds the
// cluster's), and tears the lab down. A child's exit status comes back as
// the command's.
func runBenchInLab(ctx context.Context, cmd *cobra.Command, o labrun.Options, agentBin string) error {
	bin, err := labrun.FindAgent(agentBin)
	if err != nil {
		return err
	}
	o.AgentBinary, o.Stdout, o.Stderr = bin, cmd.OutOrStdout(), cmd.ErrOrStderr()
	o.Log = func(f string, a ...any) { fmt.Fprintf(cmd.ErrOrStderr(), "lab: "+f+"\n", a...) }
	err = labrun.Run(ctx, o)
	var ee *labrun.ErrExit
	if errors.As(err, &ee) {
		return &exitError{ee.Code}
	}
	return err
}
