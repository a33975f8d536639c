package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// sessionKeepLabCmd is the lab keeper `session start --lab` starts
// detached: it builds the lab, says how to reach it beside the sessions,
// and holds it up until SIGTERM (session stop) or the TTL.
func sessionKeepLabCmd() *cobra.Command {
	var sf sessionFlags
	var id, agentBin string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use: "keep-lab --id ID --ttl D", Short: "Internal: hold a session's lab up", Hidden: true, Args: cobra.NoArgs,
		Example: `  coordinator session keep-lab --id 1x2y3z --ttl 30m   # started by session start --lab`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			ctx, cancel := context.WithTimeout(ctx, ttl)
			defer cancel()
			return sf.store().Keep(ctx, id, agentBin, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "session id")
	cmd.Flags().StringVar(&agentBin, "agent-bin", "", "agent binary")
	cmd.Flags().DurationVar(&ttl, "ttl", 30*time.Minute, "tear the lab down after this long")
	sf.add(cmd)
	return cmd
}
