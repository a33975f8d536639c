package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/progress"
)

func runCmd() *cobra.Command {
	var path, out, agentBin, labService string
	var inLab, labMember, resume bool
	var cf clusterFlags
	var lf logFlags
	cmd := &cobra.Command{
		Use:   "run -c FILE [--lab] [-o DIR] [--resume]",
		Short: "Run an experiment on the cluster (or, with --lab, on this Linux machine's netns lab) and write the report",
		Example: `  coordinator experiment run -c configs/quick.toml --lab
  coordinator experiment run -c configs/quick.toml --lab --resume
  coordinator experiment run -c configs/published.toml --join 192.0.2.10:7946 --key-file kalab.key \
    --advertise 192.0.2.5:7947 --expect-agents 2 -o out/published`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, cells, err := experiment.LoadPlan(path)
			if err != nil {
				return err
			}
			if out == "" {
				out = filepath.Join("out", c.Name)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if resume { // fail before joining, or building a lab, when there is nothing to resume
				if _, err := experiment.FindResumable(filepath.Join(out, experiment.ResultsFile), c); err != nil {
					return err
				}
			}
			if inLab && !labMember {
				return runInLab(ctx, c, path, out, agentBin, lf, resume)
			}
			if err := cf.options(nil).Check(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "experiment %s: %d cells × %d repetitions per agent pair (about %s per pair)\n",
				c.Name, len(cells), c.Repetitions, c.Total(cells).Round(time.Second))
			log, logPath, closeLog, err := lf.open(out)
			if err != nil {
				return fmt.Errorf("log: %w", err)
			}
			defer closeLog()
			if logPath != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "log: %s\n", logPath)
			}
			prog := progress.New(os.Stderr)
			svc, err := readLabService(labService)
			if err != nil {
				return err
			}
			sum, err := experiment.Run(ctx, experiment.RunOptions{Config: c, Out: out, Join: cf.options(log),
				Lab: labMember, LabService: svc, Resume: resume, Progress: prog, Log: log, Notes: os.Stderr})
			prog.Wait()
			if len(sum.Results) > 0 || sum.Interrupted || err == nil {
				fmt.Fprint(cmd.OutOrStdout(), sum)
			}
			if err != nil {
				return err
			}
			if code := sum.ExitCode(); code != 0 {
				return &exitError{code}
			}
			return nil
		},
	}
	configFlag(cmd, &path)
	cmd.Flags().StringVarP(&out, "out", "o", "", "output directory (default out/<name>): results.jsonl, report.html, report.md, report.json, runs.csv")
	cmd.Flags().BoolVar(&resume, "resume", false, "finish the interrupted execution of this same file in the output directory: run only its unrecorded and interrupted runs")
	cmd.Flags().BoolVar(&inLab, "lab", false, "build a netns lab on this machine (Linux, root), run there, tear it down")
	cmd.Flags().StringVar(&agentBin, "agent-bin", "", "agent binary the lab starts (default: agent beside this coordinator, or on PATH)")
	cmd.Flags().BoolVar(&labMember, "lab-member", false, "internal: this process runs inside the lab")
	cmd.Flags().StringVar(&labService, "lab-service", "", "internal: the service the lab started for the [target]")
	_ = cmd.Flags().MarkHidden("lab-member")
	_ = cmd.Flags().MarkHidden("lab-service")
	cf.add(cmd)
	lf.add(cmd)
	return cmd
}
