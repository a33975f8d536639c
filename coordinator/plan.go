package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/experiment"
)

func validateCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "validate -c FILE",
		Short: "Check an experiment file: unknown keys and out-of-range values are errors with line numbers",
		Example: `  coordinator experiment validate -c configs/quick.toml
  coordinator experiment validate -c configs/cross-os.toml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, _, err := experiment.LoadPlan(path)
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
		Example: `  coordinator experiment plan -c configs/published.toml
  coordinator experiment plan -c configs/cross-os.toml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, cells, err := experiment.LoadPlan(path)
			if err != nil {
				return err
			}
			return experiment.WritePlan(cmd.OutOrStdout(), c, cells)
		},
	}
	configFlag(cmd, &path)
	return cmd
}
