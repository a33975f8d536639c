package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/clusterbench"
	"github.com/kalab-dev/kalab/internal/labrun"
)

// benchClusterCmd is `bench cluster`: the control plane's join time,
// command latency, clock offsets and all-pairs dispatch
// (internal/clusterbench, docs/benchmarks.md).
func benchClusterCmd() *cobra.Command {
	var out, agentBin string
	var inLab, labMember bool
	var agents, commands, parallel int
	var cf clusterFlags
	cmd := &cobra.Command{
		Use:   "cluster --lab [--agents 20] [--commands 200] [-o DIR]",
		Short: "Measure the control plane: join time, command latency, clock offsets and all-pairs dispatch",
		Long: `Joins the cluster (with --lab: a netns lab of --agents agents built on this machine) and measures the time
until every expected agent is alive, the latency of --commands status commands one at a time and then
--parallel at once, each agent's clock-offset estimate, and one status chain (server, then client) to every
ordered agent pair, all pairs at once: its wall time against its longest chain. Prints a table (ms) and
writes DIR/bench.json.`,
		Example: `  coordinator bench cluster --lab --agents 20
  coordinator bench cluster --lab --agents 3 --commands 20 -o out/bench-cluster`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if commands < 1 || commands > 100000 {
				return fmt.Errorf("--commands %d: allowed 1..100000", commands)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if inLab && !labMember {
				if agents < 2 || agents > 249 {
					return fmt.Errorf("--agents %d: allowed 2..249 (the lab's hosts are 1..250, one is the coordinator's)", agents)
				}
				return runBenchInLab(ctx, cmd, labrun.Options{Out: out, Agents: agents,
					CoordinatorArgs: []string{"bench", "cluster", "--commands", strconv.Itoa(commands), "--parallel", strconv.Itoa(parallel), "-o", out}}, agentBin)
			}
			jo := cf.options(nil)
			if err := jo.Check(); err != nil {
				return err
			}
			jo.WaitAgents, jo.Status = 2*time.Minute, cmd.ErrOrStderr()
			rep, err := clusterbench.Run(ctx, clusterbench.Options{Join: jo, Commands: commands, Parallel: parallel})
			if err != nil {
				return err
			}
			return printAndSave(cmd.OutOrStdout(), rep, out, "bench.json")
		},
	}
	cmd.Flags().BoolVar(&inLab, "lab", false, "build a netns lab on this machine (Linux, root), measure there, tear it down")
	cmd.Flags().IntVar(&agents, "agents", 20, "with --lab: how many agents the lab starts")
	cmd.Flags().IntVar(&commands, "commands", 200, "status commands per latency phase")
	cmd.Flags().IntVar(&parallel, "parallel", 0, "commands in flight in the concurrent phase (0: one per agent)")
	cmd.Flags().StringVarP(&out, "out", "o", filepath.Join("out", "bench-cluster"), "output directory: bench.json (and with --lab the agents' logs)")
	cmd.Flags().StringVar(&agentBin, "agent-bin", "", "agent binary the lab starts (default: agent beside this coordinator, or on PATH)")
	cmd.Flags().BoolVar(&labMember, "lab-member", false, "internal: this process runs inside the lab")
	_ = cmd.Flags().MarkHidden("lab-member")
	cf.add(cmd)
	return cmd
}
