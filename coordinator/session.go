package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/lab"
	"github.com/kalab-dev/kalab/internal/labrun"
	"github.com/kalab-dev/kalab/internal/results"
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

func sessionStartCmd() *cobra.Command {
	var sf sessionFlags
	var cf clusterFlags
	var server, client, mode, agentBin, id string
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
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if inLab && !sf.labMember {
				return startLabSession(ctx, cmd, sf, ttl, agentBin)
			}
			jo := cf.options(nil)
			if err := jo.Check(); err != nil {
				return err
			}
			jo.Status = cmd.ErrOrStderr()
			node, err := experiment.JoinCluster(ctx, jo)
			if err != nil {
				return err
			}
			defer func() { node.Leave(); node.Shutdown() }()
			s, err := experiment.StartSession(ctx, node, experiment.SessionSpec{Server: server, Client: client, Settings: set, Mode: m, TTL: ttl})
			if err != nil {
				return err
			}
			rec := &session.Record{Session: *s, Cluster: session.Cluster{Join: jo.Join, KeyFile: abs(jo.KeyFile),
				SigningKeyFile: abs(jo.SigningKeyFile), Bind: jo.Bind, Advertise: jo.Advertise}}
			if sf.labMember && id != "" { // the lab's keeper already named the session
				if rec.Lab, err = readLabInfo(sf.store(), id); err != nil {
					_ = s.Stop(ctx, node)
					return err
				}
				rec.ID = id
			}
			if err := sf.store().Save(rec); err != nil {
				_ = s.Stop(ctx, node)
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), rec.ID)
			fmt.Fprintf(cmd.ErrOrStderr(), "session %s: %s (%s %s) serves keepalive %s (%s), %s (%s) connected from %s; the agents drop it at %s\n",
				rec.ID, s.Server.Name, s.Server.OS, s.Server.OSVersion, s.Settings.Short(), s.Mode, s.Client.Name, s.Client.OS, s.ClientEnd,
				s.ExpiresAt.Format(time.TimeOnly))
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
	f.StringVar(&id, "id", "", "internal: the session id the lab keeper chose")
	_ = f.MarkHidden("id")
	sf.add(cmd)
	cf.add(cmd)
	cmd.PreRun = func(cmd *cobra.Command, _ []string) {
		if inLab {
			server, client = cmpDefault(server, "lab-agent-1"), cmpDefault(client, "lab-agent-2")
		}
	}
	return cmd
}

func cmpDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// abs makes a key path absolute, so later commands find it from any
// directory ("" stays "").
func abs(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// labInfoPath is where a session's lab keeper says how to reach its lab.
func labInfoPath(st session.Store, id string) string { return filepath.Join(st.Dir, id+".lab.json") }

func readLabInfo(st session.Store, id string) (*session.Lab, error) {
	b, err := os.ReadFile(labInfoPath(st, id))
	if err != nil {
		return nil, fmt.Errorf("the session's lab: %w", err)
	}
	var k struct {
		labrun.Info
		PID int `json:"pid"`
	}
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("the session's lab: %w", err)
	}
	return &session.Lab{Name: k.Name, Control: k.Control, ControlAddr: k.ControlAddr, KeeperPID: k.PID, Dir: k.Dir, Agents: k.Agents,
		Join: k.Join, KeyFile: k.KeyFile}, nil
}

// startLabSession starts a keeper process that builds the lab and holds it
// up, waits until the lab is ready, then re-executes this command inside
// the lab's control host to start the session there.
func startLabSession(ctx context.Context, cmd *cobra.Command, sf sessionFlags, ttl time.Duration, agentBin string) error {
	bin, err := labrun.FindAgent(agentBin)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	st := sf.store()
	if err := os.MkdirAll(st.Dir, 0o700); err != nil {
		return fmt.Errorf("sessions directory: %w", err)
	}
	id := strings.ToLower(strconv.FormatInt(time.Now().UnixNano()%(1<<40), 36))
	logPath := filepath.Join(st.Dir, id+".lab.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	keeper := exec.Command(exe, "session", "keep-lab", "--id", id, "--sessions", st.Dir, "--ttl", ttl.String(), "--agent-bin", bin)
	keeper.Stdout, keeper.Stderr = logf, logf
	// Its own session: the keeper outlives this command and the terminal.
	keeper.SysProcAttr = detached()
	if err := keeper.Start(); err != nil {
		return fmt.Errorf("start the lab keeper: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- keeper.Wait() }()
	fmt.Fprintf(cmd.ErrOrStderr(), "lab: building a lab for session %s (keeper pid %d, log %s)\n", id, keeper.Process.Pid, logPath)
	deadline := time.After(90 * time.Second)
	for {
		if _, err := os.Stat(labInfoPath(st, id)); err == nil {
			break
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("the lab keeper exited (%v) before the lab was up:\n%s", err, strings.TrimSpace(string(b)))
		case <-deadline:
			_ = terminate(keeper.Process.Pid)
			return fmt.Errorf("the lab was not up within 90 s (keeper log %s)", logPath)
		case <-ctx.Done():
			_ = terminate(keeper.Process.Pid)
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	k, err := readLabInfo(st, id)
	if err != nil {
		return err
	}
	args := append(append([]string{}, os.Args[1:]...), "--lab-member", "--id", id, "--sessions", st.Dir)
	args = append(args, labClusterArgs(k, 2)...)
	if err := runInLabHost(ctx, k, args); err != nil {
		_ = terminate(k.KeeperPID)
		_ = os.Remove(labInfoPath(st, id))
		return err
	}
	return nil
}

// labClusterArgs are the cluster flags of a command run inside a session's
// lab: the lab's keys and agents, bound on the control host on a port of
// its own (a watch and a fault may run at once).
func labClusterArgs(k *session.Lab, expect int) []string {
	return []string{"--join", strings.Join(k.Join, ","), "--key-file", k.KeyFile, "--bind", net.JoinHostPort(k.ControlAddr, "0"),
		"--expect-agents", strconv.Itoa(expect)}
}

// runInLabHost re-executes this binary with args in the lab's control
// host, connected to this terminal, and waits; its exit status is ours.
func runInLabHost(ctx context.Context, k *session.Lab, args []string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	c := exec.Command(exe, args...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := lab.StartIn(k.Control, c); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done(): // Ctrl-C reached the child too (same process group); let it finish
		err = <-done
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &exitError{ee.ExitCode()}
	}
	return err
}

// sessionKeepLabCmd is the lab keeper: it builds the lab, writes how to
// reach it beside the sessions, and holds it up until SIGTERM or the TTL.
func sessionKeepLabCmd() *cobra.Command {
	var sf sessionFlags
	var id, agentBin string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use: "keep-lab", Hidden: true, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			ctx, cancel := context.WithTimeout(ctx, ttl)
			defer cancel()
			st := sf.store()
			defer os.Remove(labInfoPath(st, id))
			return labrun.Keep(ctx, labrun.Options{Out: filepath.Join(st.Dir, id+".lab"), Agents: 2, AgentBinary: agentBin,
				Log: func(f string, a ...any) { fmt.Fprintf(cmd.ErrOrStderr(), "lab: "+f+"\n", a...) }},
				func(info labrun.Info) error {
					b, err := json.Marshal(struct {
						labrun.Info
						PID int `json:"pid"`
					}{info, os.Getpid()})
					if err != nil {
						return err
					}
					tmp := labInfoPath(st, id) + ".tmp"
					if err := os.WriteFile(tmp, b, 0o600); err != nil {
						return err
					}
					return os.Rename(tmp, labInfoPath(st, id))
				})
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "session id")
	cmd.Flags().StringVar(&agentBin, "agent-bin", "", "agent binary")
	cmd.Flags().DurationVar(&ttl, "ttl", 30*time.Minute, "tear the lab down after this long")
	sf.add(cmd)
	return cmd
}

// onSession loads session id and runs fn joined to its cluster. A lab
// session's command re-executes itself inside the lab first; local is
// then run here after it succeeded (removing records, stopping keepers).
func onSession(cmd *cobra.Command, sf sessionFlags, cf *clusterFlags, id string, prepare func(*experiment.JoinOptions),
	fn func(context.Context, *session.Record, *experiment.JoinOptions) error, local func(*session.Record) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rec, err := sf.store().Load(id)
	if err != nil {
		return err
	}
	if rec.Lab != nil && !sf.labMember {
		args := append(append([]string{}, os.Args[1:]...), "--lab-member", "--sessions", sf.dir)
		args = append(args, labClusterArgs(rec.Lab, 2)...)
		if err := runInLabHost(ctx, rec.Lab, args); err != nil {
			return err
		}
		if local != nil {
			return local(rec)
		}
		return nil
	}
	jo := cf.options(nil)
	if !sf.labMember { // the flags given now win over the ones remembered
		fl := cmd.Flags()
		c := rec.Cluster
		if !fl.Changed("join") {
			jo.Join = c.Join
		}
		if !fl.Changed("key-file") {
			jo.KeyFile = c.KeyFile
		}
		if !fl.Changed("signing-key") {
			jo.SigningKeyFile = c.SigningKeyFile
		}
		if !fl.Changed("bind") && c.Bind != "" {
			jo.Bind = c.Bind
		}
		if !fl.Changed("advertise") {
			jo.Advertise = c.Advertise
		}
	}
	if err := jo.Check(); err != nil {
		return err
	}
	jo.Status = cmd.ErrOrStderr()
	if prepare != nil {
		prepare(&jo)
	}
	if err := fn(ctx, rec, &jo); err != nil {
		return err
	}
	if local != nil && rec.Lab == nil {
		return local(rec)
	}
	return nil
}

func sessionListCmd() *cobra.Command {
	var sf sessionFlags
	cmd := &cobra.Command{
		Use: "list", Short: "List the sessions this coordinator started", Args: cobra.NoArgs,
		Example: `  coordinator session list`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st := sf.store()
			ids, err := st.IDs()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if len(ids) == 0 {
				fmt.Fprintf(w, "no sessions in %s (start one with coordinator session start)\n", st.Dir)
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSERVER → CLIENT\tKEEPALIVE\tMODE\tSTARTED\tENDS\tFAULTS\tWHERE")
			for _, id := range ids {
				rec, err := st.Load(id)
				if err != nil {
					fmt.Fprintf(tw, "%s\t(unreadable: %v)\n", id, err)
					continue
				}
				ends := rec.ExpiresAt.Format(time.TimeOnly)
				if time.Now().After(rec.ExpiresAt) {
					ends += " (expired)"
				}
				where := "cluster"
				if rec.Lab != nil {
					where = "lab " + rec.Lab.Name
				}
				var faults []string
				for _, f := range rec.Faults {
					s := f.Kind
					if f.Healed != nil {
						s += " (healed)"
					}
					faults = append(faults, s)
				}
				fmt.Fprintf(tw, "%s\t%s → %s\t%s\t%s\t%s\t%s\t%s\t%s\n", rec.ID, rec.Server.Name, rec.Client.Name, rec.Settings.Short(), rec.Mode,
					rec.StartedAt.Format(time.TimeOnly), ends, cmpDefault(strings.Join(faults, ", "), "-"), where)
			}
			return tw.Flush()
		},
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
			return onSession(cmd, sf, &cf, args[0], nil, func(ctx context.Context, rec *session.Record, jo *experiment.JoinOptions) error {
				node, err := experiment.JoinCluster(ctx, *jo)
				if err != nil {
					return err
				}
				defer func() { node.Leave(); node.Shutdown() }()
				if err := rec.Stop(ctx, node); err != nil && time.Now().Before(rec.ExpiresAt) {
					return fmt.Errorf("session %s: %w", rec.ID, err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "session %s stopped on %s and %s\n", rec.ID, rec.Server.Name, rec.Client.Name)
				return nil
			}, func(rec *session.Record) error {
				if rec.Lab != nil {
					if err := stopKeeper(rec.Lab); err != nil {
						return err
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "lab %s torn down\n", rec.Lab.Name)
					for _, p := range []string{rec.ID + ".lab", rec.ID + ".lab.log", rec.ID + ".lab.json"} {
						_ = os.RemoveAll(filepath.Join(sf.dir, p))
					}
				}
				return sf.store().Remove(rec.ID)
			})
		},
	}
	sf.add(cmd)
	cf.add(cmd)
	return cmd
}

// stopKeeper asks a lab keeper to tear its lab down and waits (30 s).
func stopKeeper(k *session.Lab) error {
	if k.KeeperPID <= 0 {
		return nil
	}
	if err := terminate(k.KeeperPID); err != nil {
		return nil // gone already: its lab went with it (or the next lab's sweep removes it)
	}
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if !running(k.KeeperPID) {
			return nil
		}
	}
	return fmt.Errorf("the lab keeper (pid %d) did not tear %s down within 30 s", k.KeeperPID, k.Name)
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
			return onSession(cmd, sf, &cf, args[0], nil, func(ctx context.Context, rec *session.Record, jo *experiment.JoinOptions) error {
				node, err := experiment.JoinCluster(ctx, *jo)
				if err != nil {
					return err
				}
				defer func() { node.Leave(); node.Shutdown() }()
				col, err := rec.Collect(ctx, node)
				if err != nil {
					return fmt.Errorf("session %s: %w", rec.ID, err)
				}
				res := rec.Result(col, rec.Lab != nil)
				if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
					return err
				}
				store, warns, err := results.OpenStore(out)
				if err != nil {
					return err
				}
				defer store.Close()
				for _, w := range warns {
					fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
				}
				if err := store.Append(res); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s (%s); appended to %s\n", res.Name, res.Outcome, cmpDefault(res.Why, "as the model says"), out)
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
