package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/experiment"
)

func membersCmd() *cobra.Command {
	var cf clusterFlags
	cmd := &cobra.Command{
		Use:   "members --join ADDR --key-file FILE",
		Short: "Join the cluster and list the alive members with their tags",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			node, err := experiment.JoinCluster(context.Background(), cf.session())
			if err != nil {
				return err
			}
			defer func() { node.Leave(); node.Shutdown() }()
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, "name\taddress\trole\tos\tos_version\tarch\tkalab\tcaps")
			ms := node.Members()
			sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
			for _, m := range ms {
				t := m.Tags
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Addr, t[cluster.TagRole], t[cluster.TagOS],
					t[cluster.TagVersion], t[cluster.TagArch], t[cluster.TagKalab], t[cluster.TagCaps])
			}
			return w.Flush()
		},
	}
	cf.add(cmd, 0)
	return cmd
}

func keygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen [-o FILE]",
		Short: "Write a new 32-byte gossip encryption key (base64) for agents and the coordinator",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k := cluster.EncodeKey(cluster.NewKey())
			if out == "" || out == "-" {
				_, err := fmt.Fprint(cmd.OutOrStdout(), k)
				return err
			}
			// O_EXCL: never overwrite a key a running cluster uses.
			f, err := os.OpenFile(out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return fmt.Errorf("write key: %w", err)
			}
			defer f.Close()
			if _, err := f.WriteString(k); err != nil {
				return fmt.Errorf("write key: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (mode 0600); give it to every agent with --key-file\n", strings.TrimSpace(out))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to create (default: stdout)")
	return cmd
}
