package main

import (
	"context"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/session"
)

// watchCmd is `coordinator watch ID`: the session's live timeline.
func watchCmd() *cobra.Command {
	var sf sessionFlags
	var cf clusterFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "watch ID [--json]",
		Short: "Show a session's events live: accept, greeting, probes, ICMP, faults, detection, with the model's countdown",
		Long: `Prints one line per event of the session, as the agents push them, with the time since the session started on the
server's clock: accept, greeting, the options read back, each sign of life and each unanswered keepalive probe the
server's kernel reports (Linux), ICMP reachability changes, faults applied and healed, echoes, and the detection with
its errno. After a fault that keepalive should detect, a 'model' line gives the expected detection window, and on a
terminal a status line counts down to it. Ends after the detection (or when the session ends, or Ctrl-C). Events the
agents hold are shown first, so a watch started late misses nothing. --json writes one JSON object per line.`,
		Example: `  coordinator watch 1x2y3z
  coordinator watch 1x2y3z --json > events.jsonl`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pushes := session.NewPushes()
			return onSession(cmd, sf, &cf, args[0], func(jo *experiment.JoinOptions) { jo.BeforeStart = pushes.Register },
				func(ctx context.Context, rec *session.Record, node *cluster.Node) error {
					out := cmd.OutOrStdout()
					tty := false
					if f, ok := out.(*os.File); ok && !asJSON {
						tty = term.IsTerminal(int(f.Fd()))
					}
					return session.Watch(ctx, node, rec, pushes, session.WatchOptions{Out: out, JSON: asJSON, Terminal: tty})
				}, nil)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per event (t_s, at, agent, role, seq, kind, text, errno, probe; from_s/to_s on model lines)")
	sf.add(cmd)
	cf.add(cmd)
	return cmd
}
