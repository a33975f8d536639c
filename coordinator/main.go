// Command coordinator plans kalab experiments, drives the agents and writes
// the cross-OS report. The files here only declare the CLI tree and parse
// flags; the work lives in internal packages (experiment, labrun, report,
// cluster).
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/version"
)

func main() { os.Exit(run()) }

// exitError carries a specific exit status out of a command.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func run() int {
	if err := rootCmd().Execute(); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
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
	exp := &cobra.Command{Use: "experiment", Short: "Run, validate and plan experiment files"}
	exp.AddCommand(runCmd(), validateCmd(), planCmd())
	root.AddCommand(exp, membersCmd(), keygenCmd(), reportCmd(), modelCmd(), &cobra.Command{
		Use: "version", Short: "Print the version",
		Run: func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "coordinator", version.String()) },
	})
	return root
}
