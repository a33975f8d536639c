package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/agentd"
	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/labrun"
	"github.com/kalab-dev/kalab/internal/progress"
	"github.com/kalab-dev/kalab/internal/report"
)

// loadCells reads and checks an experiment and expands its cells (which
// also refuses runs predicted longer than max_run).
func loadCells(path string) (*experiment.Config, []experiment.Cell, error) {
	c, err := experiment.Load(path)
	if err != nil {
		return nil, nil, err
	}
	cells, err := c.Cells()
	if err != nil {
		return nil, nil, err
	}
	return c, cells, nil
}

func configFlag(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVarP(path, "config", "c", "", "experiment file (TOML)")
	_ = cmd.MarkFlagRequired("config")
}

// clusterFlags are how the coordinator joins a cluster.
type clusterFlags struct {
	bind, advertise, join, keyFile string
	expectAgents                   int
}

func (f *clusterFlags) add(cmd *cobra.Command, expectAgents int) {
	fs := cmd.Flags()
	fs.StringVar(&f.bind, "bind", "0.0.0.0:7947", "serf bind address host:port")
	fs.StringVar(&f.advertise, "advertise", "", "address agents reach the coordinator at (needed when bind is 0.0.0.0)")
	fs.StringVar(&f.join, "join", "", "comma-separated agent addresses host:port")
	fs.StringVar(&f.keyFile, "key-file", "", "gossip key file (coordinator keygen)")
	fs.IntVar(&f.expectAgents, "expect-agents", expectAgents, "wait until this many agents are alive")
}

func (f *clusterFlags) session() experiment.SessionOptions {
	var join []string
	if f.join != "" {
		join = strings.Split(f.join, ",")
	}
	return experiment.SessionOptions{Bind: f.bind, Advertise: f.advertise, Join: join, KeyFile: f.keyFile,
		ExpectAgents: f.expectAgents, Log: agentd.Logger(false)}
}

func runCmd() *cobra.Command {
	var path, out string
	var inLab, labMember bool
	var cf clusterFlags
	cmd := &cobra.Command{
		Use:   "run -c FILE [--lab] [--out DIR]",
		Short: "Run an experiment on the cluster (or, with --lab, on this Linux machine's netns lab) and write the report",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, cells, err := loadCells(path)
			if err != nil {
				return err
			}
			if out == "" {
				out = filepath.Join("out", c.Name)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if inLab && !labMember {
				err := labrun.Run(ctx, labrun.Options{
					Config: path, Out: out, Agents: 2,
					AgentArgs:       []string{"__agent", "run"},
					CoordinatorArgs: []string{"experiment", "run", "-c", path, "--out", out},
					Stdout:          os.Stdout, Stderr: os.Stderr,
					Log: func(f string, a ...any) { fmt.Fprintf(os.Stderr, "lab: "+f+"\n", a...) },
				})
				var ee *labrun.ErrExit
				if errors.As(err, &ee) {
					return &exitError{ee.Code}
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "experiment %s: %d cells × %d repetitions per agent pair, expected %s\n",
				c.Name, len(cells), c.Repetitions, c.Total(cells).Round(time.Second))
			return runOnCluster(ctx, cmd, c, out, cf, labMember)
		},
	}
	configFlag(cmd, &path)
	cmd.Flags().StringVar(&out, "out", "", "output directory (default out/<name>): results.jsonl, report.html, report.md, report.json, runs.csv")
	cmd.Flags().BoolVar(&inLab, "lab", false, "build a netns lab on this machine (Linux, root), run there, tear it down")
	cmd.Flags().BoolVar(&labMember, "lab-member", false, "internal: this process runs inside the lab")
	_ = cmd.Flags().MarkHidden("lab-member")
	cf.add(cmd, 1)
	return cmd
}

func runOnCluster(ctx context.Context, cmd *cobra.Command, c *experiment.Config, out string, cf clusterFlags, lab bool) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("out dir: %w", err)
	}
	resultsPath := filepath.Join(out, "results.jsonl")
	store, err := experiment.OpenStore(resultsPath)
	if err != nil {
		return err
	}
	defer store.Close()
	so := cf.session()
	node, err := experiment.JoinCluster(ctx, so)
	if err != nil {
		return err
	}
	defer func() { node.Leave(); node.Shutdown() }()
	prog := progress.New(os.Stderr)
	ex := &experiment.Executor{Node: node, Config: c, Store: store, Lab: lab, Progress: prog, Log: so.Log}
	results, runErr := ex.Run(ctx)
	prog.Wait()
	all, err := experiment.ReadResults(resultsPath)
	if err != nil {
		return err
	}
	if err := report.Write(out, report.Build(all)); err != nil {
		return err
	}
	counts := map[string]int{}
	for _, r := range results {
		counts[r.Outcome]++
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "%d runs: %d pass, %d deviation, %d unconfirmed, %d failed\n", len(results),
		counts[experiment.OutcomePass], counts[experiment.OutcomeDeviation], counts[experiment.OutcomeUnconfirmed], counts[experiment.OutcomeFailed])
	fmt.Fprintf(w, "results: %s\nreport:  %s (also report.md, report.json, runs.csv)\n", resultsPath, filepath.Join(out, "report.html"))
	if runErr != nil {
		return runErr
	}
	if counts[experiment.OutcomeFailed] > 0 {
		return &exitError{3}
	}
	return nil
}

func validateCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "validate -c FILE",
		Short: "Check an experiment file: unknown keys and out-of-range values are errors with line numbers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, _, err := loadCells(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d settings × %d faults × %d repetitions)\n", path, len(c.Settings), len(c.Faults), c.Repetitions)
			return nil
		},
	}
	configFlag(cmd, &path)
	return cmd
}

func planCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "plan -c FILE",
		Short: "List the runs an experiment expands to, with the model's window and the expected time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, cells, err := loadCells(path)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, "#\tserver os\tsettings\tmode\tfault\texpect\tmodel detection − T0\tafter fault\texpected run")
			for i, cl := range cells {
				fault := cl.Fault.Kind
				if cl.Fault.Scope != "" {
					fault += "/" + cl.Fault.Scope
				}
				fmt.Fprintf(w, "%d\t%s\t%s/%s/%d\t%s\t%s\t%s\t%s\t%s\t%s\n", i+1, cl.OS,
					cl.Settings.Idle, cl.Settings.Interval, cl.Settings.Count, cl.Mode, fault, cl.Expect,
					cl.Model.FromT0, cl.Model.AfterFault, cl.Expected.Round(100*time.Millisecond))
			}
			w.Flush()
			fmt.Fprintf(cmd.OutOrStdout(), "%d cells × %d repetitions = %d runs per server/client agent pair; expected %s at parallel %d (Linux model at HZ=250; runs use each host's HZ)\n",
				len(cells), c.Repetitions, len(cells)*c.Repetitions, c.Total(cells).Round(time.Second), c.Parallel)
			return nil
		},
	}
	configFlag(cmd, &path)
	return cmd
}
