package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/labrun"
	"github.com/kalab-dev/kalab/internal/session"
)

// sessionKeepLabCmd is the lab keeper `session start --lab` starts
// detached: it builds the lab, says how to reach it beside the sessions,
// and holds it up until SIGTERM (session stop) or the TTL.
func sessionKeepLabCmd() *cobra.Command {
	var sf sessionFlags
	var id, agentBin, target string
	var ttl, idle, interval time.Duration
	var count int
	cmd := &cobra.Command{
		Use: "keep-lab --id ID --ttl D", Short: "Internal: hold a session's lab up", Hidden: true, Args: cobra.NoArgs,
		Example: `  coordinator session keep-lab --id 1x2y3z --ttl 30m   # started by session start --lab`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			ctx, cancel := context.WithTimeout(ctx, ttl)
			defer cancel()
			var svc *labrun.Service
			if target != "" {
				var err error
				if svc, err = session.LabService(target, idle, interval, count); err != nil {
					return err
				}
			}
			return sf.store().Keep(ctx, id, agentBin, svc, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "session id")
	cmd.Flags().StringVar(&agentBin, "agent-bin", "", "agent binary")
	cmd.Flags().DurationVar(&ttl, "ttl", 30*time.Minute, "tear the lab down after this long")
	cmd.Flags().StringVar(&target, "target", "", "a product to start on lab-agent-1 (session.LabService)")
	cmd.Flags().DurationVar(&idle, "idle", 0, "the product's keepalive idle (0: its default)")
	cmd.Flags().DurationVar(&interval, "interval", 0, "the product's keepalive interval (0: its default)")
	cmd.Flags().IntVar(&count, "count", 0, "the product's keepalive count (0: its default)")
	sf.add(cmd)
	return cmd
}
