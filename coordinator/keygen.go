package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/cluster"
)

func keygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen [-o FILE]",
		Short: "Write a new 32-byte gossip encryption key (base64) for agents and the coordinator",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" || out == "-" {
				_, err := fmt.Fprint(cmd.OutOrStdout(), cluster.EncodeKey(cluster.NewKey()))
				return err
			}
			if err := cluster.WriteKeyFile(out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (mode 0600); give it to every agent with --key-file\n", out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "file to create, never overwritten (default: stdout)")
	return cmd
}
