package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/concbench"
	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/fidelity"
	"github.com/kalab-dev/kalab/internal/labrun"
)

// benchConcurrencyCmd is `bench concurrency`: many measured connections
// at once between two agents, what they cost the agents, whether anything
// is lost or leaks, and their timing error against a capture
// (internal/concbench, internal/fidelity, docs/benchmarks.md).
func benchConcurrencyCmd() *cobra.Command {
	var out, agentBin string
	var inLab, labMember bool
	var conns, consecutive int
	var stagger time.Duration
	var cf clusterFlags
	cmd := &cobra.Command{
		Use:   "concurrency --lab [--conns 1000] [--consecutive 100] [-o DIR]",
		Short: "Measure many connections at once: agent memory and CPU, lost runs, leaks, timing error against a capture",
		Long: `In the netns lab (two agents, tcpdump on each host), runs keepalive 1s/1s/3 against a flow drop: one run alone,
then --conns runs at once between the same two agents (their starts --stagger apart, so their faults are too),
then --consecutive runs one after another. Before and after each phase it asks both agents for their own
peak and current RSS, CPU time, goroutines and open descriptors. Then it compares every concurrent run with the
server host's capture (detection vs the RST, T0, probes, fault). Prints both tables and writes DIR/bench.json
and DIR/fidelity.json; each phase's runs and report are in DIR/single, DIR/concurrent and DIR/consecutive.`,
		Example: `  coordinator bench concurrency --lab --conns 1000
  coordinator bench concurrency --lab --conns 20 --consecutive 10 -o out/bench-concurrency`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if conns < 1 || conns > concbench.MaxConns {
				return fmt.Errorf("--conns %d: allowed 1..%d (the most runs an agent holds at once)", conns, concbench.MaxConns)
			}
			if consecutive < 0 || consecutive > 10000 {
				return fmt.Errorf("--consecutive %d: allowed 0..10000", consecutive)
			}
			if stagger < 0 || stagger > time.Second {
				return fmt.Errorf("--stagger %s: allowed 0..1s", stagger)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			w := cmd.OutOrStdout()
			if labMember {
				jo := cf.options(nil)
				if err := jo.Check(); err != nil {
					return err
				}
				jo.WaitAgents, jo.Status = 2*time.Minute, cmd.ErrOrStderr()
				rep, err := concbench.Run(ctx, concbench.Options{Join: jo, Conns: conns, Consecutive: consecutive, Stagger: stagger,
					Out: out, Lab: true, Status: cmd.ErrOrStderr()})
				if rep != nil && len(rep.Phases) > 0 { // what was measured before an error still stands
					if perr := printAndSave(w, rep, out, "bench.json"); perr != nil {
						return perr
					}
				}
				return err
			}
			if !inLab {
				return errors.New("bench concurrency needs --lab: it runs two agents and captures packets in the netns lab (Linux, root)")
			}
			capture := filepath.Join(out, "capture")
			for _, d := range []string{"capture", concbench.SingleDir, concbench.ConcurrentDir, concbench.ConsecutiveDir} {
				if err := os.RemoveAll(filepath.Join(out, d)); err != nil { // nothing of an earlier bench is compared
					return err
				}
			}
			runErr := runBenchInLab(ctx, cmd, labrun.Options{Out: out, Agents: 2, Capture: capture, AgentMaxRuns: concbench.AgentMaxRuns(conns),
				CoordinatorArgs: []string{"bench", "concurrency", "--conns", strconv.Itoa(conns), "--consecutive", strconv.Itoa(consecutive),
					"--stagger", stagger.String(), "-o", out}}, agentBin)
			concurrent := filepath.Join(out, concbench.ConcurrentDir, experiment.ResultsFile)
			if _, err := os.Stat(concurrent); runErr != nil && err != nil {
				return runErr // nothing was measured to compare
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "comparing the concurrent runs with the capture\n")
			rep, err := fidelity.Analyze(concurrent, capture)
			if err != nil {
				return err
			}
			if err := printAndSave(w, rep, out, "fidelity.json"); err != nil {
				return err
			}
			if runErr != nil { // the figures above stand; the bench still failed
				fmt.Fprintf(w, "note: the bench stopped early (%v, its output above); the concurrent runs it recorded were compared\n", runErr)
			}
			return runErr
		},
	}
	cmd.Flags().BoolVar(&inLab, "lab", false, "build a netns lab on this machine (Linux, root), run and capture there, tear it down (required)")
	cmd.Flags().IntVar(&conns, "conns", 1000, "runs (connections) at once in the concurrent phase")
	cmd.Flags().IntVar(&consecutive, "consecutive", 100, "runs one after another in the leak phase (0: skip it)")
	cmd.Flags().DurationVar(&stagger, "stagger", 10*time.Millisecond, "spacing of the concurrent runs' starts (and so of their faults)")
	cmd.Flags().StringVarP(&out, "out", "o", filepath.Join("out", "bench-concurrency"), "output directory: bench.json, fidelity.json, capture/, one experiment directory per phase")
	cmd.Flags().StringVar(&agentBin, "agent-bin", "", "agent binary the lab starts (default: agent beside this coordinator, or on PATH)")
	cmd.Flags().BoolVar(&labMember, "lab-member", false, "internal: this process runs inside the lab")
	_ = cmd.Flags().MarkHidden("lab-member")
	cf.add(cmd)
	return cmd
}
