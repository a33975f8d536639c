// Command agent runs on every host of a kalab cluster: it joins the serf
// cluster and plays the keepalive server or client role on command. All
// logic is in internal/agentd (run), internal/service (service) and
// internal/doctor (doctor); examples.go holds the help's examples.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/agentd"
	"github.com/kalab-dev/kalab/internal/cli"
	"github.com/kalab-dev/kalab/internal/doctor"
	"github.com/kalab-dev/kalab/internal/role"
	"github.com/kalab-dev/kalab/internal/service"
)

func main() {
	role.MaybeRunClient() // the client role is this binary re-executed
	os.Exit(run())
}

func run() int {
	if err := rootCmd().Execute(); err != nil {
		// doctor printed its report; its exit code is the verdict.
		var de *doctor.ExitError
		if errors.As(err, &de) {
			return de.ExitCode()
		}
		fmt.Fprintln(os.Stderr, cli.ErrorLine("agent", err))
		return 1
	}
	return 0
}

// rootCmd is the agent's command tree, with cli's conventions: -c/--config
// on every command that reads agent.toml, and examples on every command.
func rootCmd() *cobra.Command {
	root := &cobra.Command{Use: "agent", Short: "kalab host agent", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(agentd.RunCommand(), agentd.DeadmanCommand(), service.Command(), doctor.Command(), cli.VersionCommand("agent"))
	cli.Finish(root, examples)
	return root
}
