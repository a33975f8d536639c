package main

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/session"
)

func sessionListCmd() *cobra.Command {
	var sf sessionFlags
	cmd := &cobra.Command{
		Use: "list", Short: "List the sessions this coordinator started", Args: cobra.NoArgs,
		Example: `  coordinator session list`,
		RunE:    func(cmd *cobra.Command, _ []string) error { return sf.store().WriteList(cmd.OutOrStdout()) },
	}
	sf.add(cmd)
	return cmd
}

func sessionStopCmd() *cobra.Command {
	var sf sessionFlags
	var cf clusterFlags
	cmd := &cobra.Command{
		Use: "stop ID", Short: "Heal any fault, close the session's connection on both agents and forget it (a lab session's lab goes too)",
		Example: `  coordinator session stop 1x2y3z`, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onSession(cmd, sf, &cf, args[0], nil, func(ctx context.Context, rec *session.Record, node *cluster.Node) error {
				if err := rec.Stop(ctx, node); err != nil && time.Now().Before(rec.ExpiresAt) {
					return fmt.Errorf("session %s: %w", rec.ID, err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "session %s stopped on %s and %s\n", rec.ID, rec.Server.Name, rec.Client.Name)
				return nil
			}, func(rec *session.Record) error {
				st := sf.store()
				if rec.Lab != nil {
					if err := st.StopLab(rec.ID, rec.Lab); err != nil {
						return err
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "lab %s torn down\n", rec.Lab.Name)
				}
				return st.Remove(rec.ID)
			})
		},
	}
	sf.add(cmd)
	cf.add(cmd)
	return cmd
}

func sessionSaveCmd() *cobra.Command {
	var sf sessionFlags
	var cf clusterFlags
	var out string
	cmd := &cobra.Command{
		Use: "save ID -o FILE", Short: "Append the session, measured and judged like an experiment run, to a results file for coordinator report",
		Example: `  coordinator session save 1x2y3z -o out/sessions/results.jsonl
  coordinator report -o out/all out/sessions/results.jsonl out/quick/results.jsonl`, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onSession(cmd, sf, &cf, args[0], nil, func(ctx context.Context, rec *session.Record, node *cluster.Node) error {
				col, err := rec.Collect(ctx, node)
				if err != nil {
					return fmt.Errorf("session %s: %w", rec.ID, err)
				}
				res := rec.Result(col, rec.Lab != nil)
				if err := session.AppendResult(out, res, cmd.ErrOrStderr()); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s (%s); appended to %s\n", res.Name, res.Outcome, cmp.Or(res.Why, "as the model says"), out)
				return nil
			}, nil)
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "results file to append to (results.jsonl)")
	_ = cmd.MarkFlagRequired("out")
	sf.add(cmd)
	cf.add(cmd)
	return cmd
}
