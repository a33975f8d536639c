package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/logging"
)

func membersCmd() *cobra.Command {
	var cf clusterFlags
	cmd := &cobra.Command{
		Use:   "members --join ADDR --key-file FILE",
		Short: "Join the cluster and list the alive members with their tags",
		Example: `  coordinator members --join 192.0.2.10:7946 --key-file kalab.key --advertise 192.0.2.5:7947
  coordinator members --join 192.0.2.10:7946,192.0.2.20:7946 --key-file kalab.key --expect-agents 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := cf.options(logging.Discard())
			o.Status = cmd.ErrOrStderr() // what the join waits for, every few seconds
			node, err := experiment.JoinCluster(context.Background(), o)
			if err != nil {
				return err
			}
			defer func() { node.Leave(); node.Shutdown() }()
			return cluster.WriteMembers(cmd.OutOrStdout(), node.Members())
		},
	}
	cf.add(cmd)
	return cmd
}
