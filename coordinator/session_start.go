package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/labrun"
	"github.com/kalab-dev/kalab/internal/session"
)

func sessionStartCmd() *cobra.Command {
	var sf sessionFlags
	var cf clusterFlags
	var server, client, mode, agentBin, id, target, hello, expect, process string
	var set keepalive.Settings
	var ttl time.Duration
	var inLab bool
	cmd := &cobra.Command{
		Use:   "start --server NODE --client NODE [--idle 1s --interval 3s --count 10] [--mode listener] [--ttl 30m] [--lab]",
		Short: "Connect a client agent to a server agent's keepalive socket and keep the connection for faults on command; prints the session id",
		Long: `Starts the keepalive server role on --server and a client role on --client that connects to it, exactly as an
experiment run does, and keeps them up to --ttl (the agents drop the session by themselves then). Prints the session id
on stdout (details on stderr); then use 'coordinator watch ID', 'coordinator fault KIND --session ID', 'session save' and
'session stop'. With --lab, a netns lab with two agents is built on this machine and kept up until 'session stop'.`,
		Example: `  coordinator session start --lab
  coordinator session start --server linux-1 --client win-1 --idle 1s --interval 3s --count 10 \
    --join 192.0.2.10:7946 --key-file kalab.key --advertise 192.0.2.5:7947`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := keepalive.ParseMode(mode)
			if err != nil {
				return err
			}
			if ttl <= 0 || ttl > experiment.MaxSessionTTL {
				return fmt.Errorf("--ttl %s: allowed up to %s", ttl, experiment.MaxSessionTTL)
			}
			if inLab {
				server, client = cmp.Or(server, "lab-agent-1"), cmp.Or(client, "lab-agent-2")
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			st := sf.store()
			if inLab && !sf.labMember { // a kept lab, then this command again inside it
				bin, err := labrun.FindAgent(agentBin)
				if err != nil {
					return err
				}
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				id, k, err := st.StartLab(ctx, exe, bin, ttl, session.KeeperArgs(target, set, cmd.Flags().Changed), cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				args := append(append(append([]string{}, os.Args[1:]...), "--lab-member", "--id", id, "--sessions", st.Dir), k.ClusterArgs()...)
				if err := labExit(k.Run(exe, args)); err != nil {
					_ = st.StopLab(id, k)
					return err
				}
				return nil
			}
			jo := cf.options(nil)
			if err := jo.Check(); err != nil {
				return err
			}
			jo.Status = cmd.ErrOrStderr()
			spec := experiment.SessionSpec{Server: server, Client: client, Settings: set, Mode: m, TTL: ttl}
			rec, err := session.Start(ctx, st, jo, spec, id, func(k *session.Lab) (*experiment.SessionTarget, error) {
				return session.Target(target, hello, expect, process, k)
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), rec.ID)
			fmt.Fprintln(cmd.ErrOrStderr(), rec.Describe())
			fmt.Fprintf(cmd.ErrOrStderr(), "next: coordinator watch %s   (and in another terminal) coordinator fault drop --session %s\n", rec.ID, rec.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", "", "agent that holds the keepalive socket (with --lab: lab-agent-1)")
	f.StringVar(&client, "client", "", "agent that connects and is silenced on command (with --lab: lab-agent-2)")
	f.DurationVar(&set.Idle, "idle", time.Second, "keepalive idle time")
	f.DurationVar(&set.Interval, "interval", 3*time.Second, "keepalive probe interval")
	f.IntVar(&set.Count, "count", 10, "keepalive probe count")
	f.StringVar(&mode, "mode", string(keepalive.ModeListener), "where keepalive is set: listener, per-connection or listener-go-default")
	f.DurationVar(&ttl, "ttl", 30*time.Minute, "the session ends by itself after this long (its lab too)")
	f.BoolVar(&inLab, "lab", false, "build a netns lab on this machine (Linux, root) and keep it up until session stop")
	f.StringVar(&agentBin, "agent-bin", "", "agent binary the lab starts (default: agent beside this coordinator, or on PATH)")
	f.StringVar(&target, "target", "", "a real service as the server: its TCP port on --server's host, or with --lab redis, postgresql or nginx (started on lab-agent-1 with --idle/--interval/--count)")
	f.StringVar(&hello, "hello", "", "with --target PORT: what the client sends first (Go escapes: \\r\\n, \\x00)")
	f.StringVar(&expect, "expect", "", "with --target PORT: the prefix the service's answer must start with")
	f.StringVar(&process, "process", "", "with --target PORT: the program that owns the service's socket, for the record")
	f.StringVar(&id, "id", "", "internal: the session id the lab keeper was started for")
	_ = f.MarkHidden("id")
	sf.add(cmd)
	cf.add(cmd)
	return cmd
}
