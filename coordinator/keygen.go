package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/experiment"
)

func keygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen -o FILE",
		Short: "Write a new gossip key and the coordinator's command signing key pair",
		Long: `Write three new files, never overwriting any:
  FILE             the 32-byte gossip encryption key (base64, mode 0600): every agent and the coordinator
  coordinator.key  the coordinator's Ed25519 signing key, beside FILE (mode 0600): the coordinator only
  coordinator.pub  its public key (mode 0644): every agent, which refuses commands not signed by it`,
		Example: "  coordinator keygen -o kalab.key",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := filepath.Dir(out)
			priv, pub := filepath.Join(dir, experiment.SigningKeyName), filepath.Join(dir, experiment.VerifyKeyName)
			if err := cluster.WriteKeyFile(out); err != nil {
				return err
			}
			if err := cluster.WriteSigningKeys(priv, pub); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (gossip key: every agent, --key-file), %s (the coordinator only) and %s (every agent, coordinator_key)\n", out, priv, pub)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "gossip key file to create; the signing keys go beside it")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
