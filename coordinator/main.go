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

	"github.com/kalab-dev/kalab/internal/cli"
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
		fmt.Fprintln(os.Stderr, cli.ErrorLine("coordinator", err))
		return 1
	}
	return 0
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "coordinator",
		Short: "Plan and run kalab TCP keepalive experiments",
		Example: `  coordinator experiment run -c configs/quick.toml --lab
  coordinator keygen -o kalab.key
  coordinator members --join 192.0.2.10:7946 --key-file kalab.key --advertise 192.0.2.5:7947
  coordinator experiment run -c configs/cross-os.toml --join 192.0.2.10:7946 --key-file kalab.key --advertise 192.0.2.5:7947 --expect-agents 3
  coordinator report -o out/all out/*/results.jsonl`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	exp := &cobra.Command{Use: "experiment", Short: "Run, validate and plan experiment files",
		Example: `  coordinator experiment validate -c configs/cross-os.toml
  coordinator experiment plan -c configs/cross-os.toml
  coordinator experiment run -c configs/quick.toml --lab`}
	exp.AddCommand(runCmd(), validateCmd(), planCmd())
	root.AddCommand(exp, sessionCmd(), faultCmd(), watchCmd(), membersCmd(), keygenCmd(), reportCmd(), modelCmd(), benchCmd(), cli.VersionCommand("coordinator"))
	cli.Finish(root, nil)
	return root
}
