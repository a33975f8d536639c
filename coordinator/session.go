package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/session"
)

// sessionFlags are what every command on a session shares: where the
// sessions are kept, and the hidden flag marking a process re-executed
// inside a session's lab.
type sessionFlags struct {
	dir       string
	labMember bool
}

func (f *sessionFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.dir, "sessions", session.DefaultDir(), "directory where the coordinator keeps its sessions")
	cmd.Flags().BoolVar(&f.labMember, "lab-member", false, "internal: this process runs inside the session's lab")
	_ = cmd.Flags().MarkHidden("lab-member")
}

func (f *sessionFlags) store() session.Store { return session.Store{Dir: f.dir} }

func sessionCmd() *cobra.Command {
	c := &cobra.Command{Use: "session", Short: "Set up one connection between two agents to silence and watch by hand",
		Example: `  id=$(coordinator session start --lab --idle 1s --interval 3s --count 10)
  coordinator watch $id            # in another terminal
  coordinator fault drop --session $id
  coordinator session save $id -o out/sessions/results.jsonl
  coordinator session stop $id`}
	c.AddCommand(sessionStartCmd(), sessionListCmd(), sessionStopCmd(), sessionSaveCmd(), sessionKeepLabCmd())
	return c
}

// onSession loads session id and runs fn with a node joined to its
// cluster (the flags `session start` used, unless given again; prepare
// may adjust them, e.g. to receive pushes), and leaves afterwards. A lab
// session's command re-executes itself inside the lab first; local then
// runs here once that succeeded (removing records, stopping keepers).
func onSession(cmd *cobra.Command, sf sessionFlags, cf *clusterFlags, id string, prepare func(*experiment.JoinOptions),
	fn func(context.Context, *session.Record, *cluster.Node) error, local func(*session.Record) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rec, err := sf.store().Load(id)
	if err != nil {
		return err
	}
	if rec.Lab != nil && !sf.labMember {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		args := append(append(append([]string{}, os.Args[1:]...), "--lab-member", "--sessions", sf.dir), rec.Lab.ClusterArgs()...)
		if err := labExit(rec.Lab.Run(exe, args)); err != nil {
			return err
		}
		if local != nil {
			return local(rec)
		}
		return nil
	}
	jo := cf.options(nil)
	if !sf.labMember {
		jo = rec.JoinOptions(jo, cmd.Flags().Changed)
	}
	if err := jo.Check(); err != nil {
		return err
	}
	jo.Status = cmd.ErrOrStderr()
	if prepare != nil {
		prepare(&jo)
	}
	node, err := experiment.JoinCluster(ctx, jo)
	if err != nil {
		return err
	}
	err = fn(ctx, rec, node)
	node.Leave()
	node.Shutdown()
	if err != nil {
		return err
	}
	if local != nil && rec.Lab == nil {
		return local(rec)
	}
	return nil
}

// labExit passes a command's exit status inside a lab on as ours.
func labExit(err error) error {
	var ee *session.ExitError
	if errors.As(err, &ee) {
		return &exitError{ee.Code}
	}
	return err
}
