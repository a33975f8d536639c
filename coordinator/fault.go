package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/session"
)

// faultCmd is `coordinator fault KIND --session ID`: a fault applied (or
// healed) on command, through the same agent command, deadman and journal
// as an experiment's faults.
func faultCmd() *cobra.Command {
	var sf sessionFlags
	var cf clusterFlags
	var id, scope, direction string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "fault drop|pause|vm-pause|kill|heal --session ID [--scope flow|host] [--direction both|to-server|to-client] [--ttl 2m]",
		Short: "Silence a session's client on command (drop its packets, pause it, pause its VM, kill it) or heal it",
		Long: `Applies a fault to the client of a session (coordinator session start), exactly as an experiment's [[faults]]
entry would: the client agent journals it, a deadman removes it after --ttl even if the agent dies, and the agent
sweeps leftovers when it starts. 'heal' removes the fault in force and, when the server still holds the connection,
sends an echo across it: the proof the connection survived the outage.`,
		Example: `  coordinator fault drop --session 1x2y3z
  coordinator fault drop --session 1x2y3z --scope host --direction to-server
  coordinator fault pause --session 1x2y3z --ttl 30s
  coordinator fault heal --session 1x2y3z`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{results.KindDrop, results.KindPause, results.KindVMPause, results.KindKill, "heal"},
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := args[0]
			switch kind {
			case results.KindDrop, results.KindPause, results.KindVMPause, results.KindKill, "heal":
			default:
				return fmt.Errorf("fault %q: allowed drop, pause, vm-pause, kill or heal", kind)
			}
			if id == "" {
				return fmt.Errorf("--session is required: the id coordinator session start printed (coordinator session list shows them)")
			}
			if kind != results.KindDrop && (scope != "" || direction != "") {
				return fmt.Errorf("--scope and --direction narrow a drop; %s takes neither", kind)
			}
			if ttl <= 0 || ttl > experiment.MaxSessionTTL {
				return fmt.Errorf("--ttl %s: allowed up to %s", ttl, experiment.MaxSessionTTL)
			}
			return onSession(cmd, sf, &cf, id, nil, func(ctx context.Context, rec *session.Record, node *cluster.Node) error {
				w := cmd.OutOrStdout()
				rel := func(t time.Time) string { return fmt.Sprintf("%+.3f s", t.Sub(rec.Origin()).Seconds()) }
				if kind == "heal" {
					h, err := rec.Heal(ctx, node)
					if err != nil {
						return err
					}
					if err := sf.store().Save(rec); err != nil {
						return err
					}
					f := h.Fault
					fmt.Fprintf(w, "healed %s at %s (held %.3f s)", f.Kind, rel(*f.Healed), f.Healed.Sub(f.At).Seconds())
					if f.InPackets+f.OutPackets > 0 {
						fmt.Fprintf(w, "; the drop discarded %d packets toward the client, %d from it", f.InPackets, f.OutPackets)
					}
					switch {
					case h.RTT != nil:
						fmt.Fprintf(w, "\necho: %.3f ms round trip: the connection survived\n", float64(h.RTT.Microseconds())/1000)
					case h.Survived:
						fmt.Fprintf(w, "\nthe service answered the hello again: the connection survived\n")
					default:
						fmt.Fprintf(w, "\nthe connection did not carry data after the heal: %s\n", h.Why)
					}
					return nil
				}
				f, err := rec.Fault(ctx, node, experiment.SessionFault{Kind: kind, Scope: scope, Direction: direction}, ttl)
				if err != nil {
					return err
				}
				if err := sf.store().Save(rec); err != nil {
					return err
				}
				fmt.Fprintf(w, "%s applied at %s on %s: %s\n", kind, rel(f.At), rec.Client.Name, f.How)
				if kind != results.KindKill {
					fmt.Fprintf(w, "it heals by itself at %s (--ttl), or now with: coordinator fault heal --session %s\n",
						f.At.Add(ttl).Format(time.TimeOnly), rec.ID)
				}
				return nil
			}, nil)
		},
	}
	cmd.Flags().StringVar(&id, "session", "", "the session (coordinator session list)")
	cmd.Flags().StringVar(&scope, "scope", "", "drop only: flow (the session's connection, the default) or host (everything between the two hosts but the cluster's port)")
	cmd.Flags().StringVar(&direction, "direction", "", "drop only: both (default), to-server (the client's packets lost) or to-client (the server's)")
	cmd.Flags().DurationVar(&ttl, "ttl", 2*time.Minute, "deadman: the client agent removes the fault after this long even if nothing heals it")
	sf.add(cmd)
	cf.add(cmd)
	return cmd
}
