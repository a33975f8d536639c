// Command coordinator plans kalab experiments, drives the agents and writes
// the cross-OS report. This file is only the CLI tree; the work lives in
// internal packages.
package main

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/experiment"
)

func main() { os.Exit(run()) }

func run() int {
	if err := rootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "coordinator:", err)
		return 1
	}
	return 0
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "coordinator",
		Short:         "Plan and run kalab TCP keepalive experiments",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	exp := &cobra.Command{Use: "experiment", Short: "Validate and plan experiment files"}
	exp.AddCommand(validateCmd(), planCmd())
	root.AddCommand(exp)
	return root
}

func configFlag(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVarP(path, "config", "c", "", "experiment file (TOML)")
	_ = cmd.MarkFlagRequired("config")
}

func validateCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "validate -c FILE",
		Short: "Check an experiment file: unknown keys and out-of-range values are errors with line numbers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := experiment.Load(path)
			if err != nil {
				return err
			}
			if _, err := c.Cells(); err != nil {
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
			c, err := experiment.Load(path)
			if err != nil {
				return err
			}
			cells, err := c.Cells()
			if err != nil {
				return err
			}
			if len(cells) == 0 {
				return errors.New("the experiment expands to no runs")
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
			fmt.Fprintf(cmd.OutOrStdout(), "%d cells × %d repetitions = %d runs per client/server pair; expected %s at parallel %d (Linux model at HZ=250; runs use each host's HZ)\n",
				len(cells), c.Repetitions, len(cells)*c.Repetitions, c.Total(cells).Round(time.Second), c.Parallel)
			return nil
		},
	}
	configFlag(cmd, &path)
	return cmd
}
