// Command agent runs on every host of a kalab cluster: it joins the serf
// cluster and plays the keepalive server or client role on command. All
// logic is in internal/agentd (run), internal/service (service) and
// internal/doctor (doctor).
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/agentd"
	"github.com/kalab-dev/kalab/internal/doctor"
	"github.com/kalab-dev/kalab/internal/role"
	"github.com/kalab-dev/kalab/internal/service"
	"github.com/kalab-dev/kalab/internal/version"
)

func main() {
	role.MaybeRunClient() // the client role is this binary re-executed
	os.Exit(run())
}

func run() int {
	root := &cobra.Command{Use: "agent", Short: "kalab host agent", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(agentd.RunCommand(), agentd.DeadmanCommand(), service.Command(), doctor.Command(), &cobra.Command{
		Use: "version", Short: "Print the version",
		Run: func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "agent", version.String()) },
	})
	if err := root.Execute(); err != nil {
		// doctor printed its report; its exit code is the verdict.
		var de *doctor.ExitError
		if errors.As(err, &de) {
			return de.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "agent:", err)
		return 1
	}
	return 0
}
