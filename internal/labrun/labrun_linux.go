package labrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/lab"
	"github.com/kalab-dev/kalab/internal/labsvc"
)

// Run builds the lab, runs the experiment, tears down. ctx cancellation
// (Ctrl-C) is forwarded to the coordinator child as SIGINT so it records
// what finished and cleans its runs up; the lab goes after it.
func Run(ctx context.Context, o Options) error {
	u, err := up(ctx, &o)
	if err != nil {
		return err
	}
	defer u.down()
	if o.Service != nil {
		o.CoordinatorArgs = append(append([]string{}, o.CoordinatorArgs...), "--lab-service", filepath.Join(u.tmp, ServiceFile))
	}
	return runCoordinator(ctx, o, u.lab.Hosts[0], u.keyFile, u.agents)
}

// Keep builds the lab and its agents, calls ready with how to reach them,
// and holds everything up until ctx ends (`session stop` sends the keeper
// SIGTERM; the session's TTL cancels it), then tears down.
func Keep(ctx context.Context, o Options, ready func(Info) error) error {
	u, err := up(ctx, &o)
	if err != nil {
		return err
	}
	defer u.down()
	info := Info{Name: u.lab.Name, Control: u.lab.Hosts[0].Name, ControlAddr: u.lab.Hosts[0].Addr.String(),
		Join: u.agents, KeyFile: u.keyFile, Dir: u.tmp}
	for i := range u.agents {
		info.Agents = append(info.Agents, fmt.Sprintf("lab-agent-%d", i+1))
	}
	if err := ready(info); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// labUp is a built lab with its agents (and service, capture) running.
type labUp struct {
	lab     *lab.Lab
	tmp     string
	keyFile string
	agents  []string
	closers []func()
}

// down stops what up started, in reverse, and tears the lab down.
func (u *labUp) down() {
	for i := len(u.closers) - 1; i >= 0; i-- {
		u.closers[i]()
	}
}

// up builds the lab, its keys and agents (and the service and captures
// o asks for). On error everything already started is stopped.
func up(ctx context.Context, o *Options) (_ *labUp, err error) {
	if o.Agents < 2 {
		o.Agents = 2
	}
	if o.AgentBinary == "" {
		return nil, errors.New("lab: no agent binary (see FindAgent)")
	}
	l, err := lab.New(lab.Config{Hosts: o.Agents + 1})
	if err != nil {
		return nil, fmt.Errorf("build the lab: %w", err)
	}
	u := &labUp{lab: l}
	u.closers = append(u.closers, func() {
		if err := l.Close(); err != nil {
			o.logf("teardown: %v", err)
		} else {
			o.logf("%s torn down", l.Name)
		}
	})
	defer func() {
		if err != nil {
			u.down()
		}
	}()
	o.logf("%s: %d hosts in %s (control %s)", l.Name, len(l.Hosts), l.Block, l.Hosts[0].Addr)
	if u.tmp, err = os.MkdirTemp("", "kalab-lab-"); err != nil {
		return nil, err
	}
	tmp := u.tmp
	u.closers = append(u.closers, func() { os.RemoveAll(tmp) })
	// The lab's own keys: gossip, and the coordinator's signing pair
	// (the coordinator child finds coordinator.key beside the gossip key).
	u.keyFile = filepath.Join(tmp, "gossip.key")
	if err := cluster.WriteKeyFile(u.keyFile); err != nil {
		return nil, err
	}
	if err := cluster.WriteSigningKeys(filepath.Join(tmp, "coordinator.key"), filepath.Join(tmp, "coordinator.pub")); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	for i, h := range l.Hosts[1:] {
		name := fmt.Sprintf("lab-agent-%d", i+1)
		addr, closeLog, err := startAgent(*o, h, name, u.keyFile, tmp, u.agents)
		if err != nil {
			return nil, err
		}
		u.closers = append(u.closers, closeLog)
		u.agents = append(u.agents, addr)
		if o.Service != nil && o.Service.Agent == name {
			stop, err := startService(ctx, *o, h, tmp)
			if err != nil {
				return nil, err
			}
			u.closers = append(u.closers, stop)
		}
	}
	if o.Capture != "" {
		stop, err := startCaptures(*o, l.Hosts[1:])
		if err != nil {
			return nil, err
		}
		u.closers = append(u.closers, stop)
	}
	return u, nil
}

// startService starts the experiment's [target] service on agent host h,
// describes it for the coordinator, and returns how to stop it.
func startService(ctx context.Context, o Options, h *lab.Host, tmp string) (func(), error) {
	s := o.Service
	dir, err := os.MkdirTemp("", "kalab-svc-") // PostgreSQL must reach it as its own user: not inside tmp's 0700 tree
	if err != nil {
		return nil, err
	}
	svc, err := labsvc.Start(ctx, labsvc.Spec{Product: s.Product, Netns: h.Name, Addr: h.Addr, Port: s.Port, Keepalive: s.Keepalive, Dir: dir})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s on %s: %w", s.Product, s.Agent, err)
	}
	stop := func() {
		if err := svc.Stop(); err != nil {
			o.logf("stop %s: %v", s.Product, err)
		}
		os.RemoveAll(dir)
	}
	o.logf("%s on %s:%d (%s; %s)", svc.Version(), h.Addr, s.Port, s.Agent, strings.Join(append([]string{"config:"}, orDefaults(svc.ConfigLines())...), " "))
	b, err := json.Marshal(map[string]any{"product": string(s.Product), "version": svc.Version(), "config_lines": svc.ConfigLines()})
	if err == nil {
		err = os.WriteFile(filepath.Join(tmp, ServiceFile), b, 0o644)
	}
	if err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

// orDefaults is lines, or a word saying there are none.
func orDefaults(lines []string) []string {
	if len(lines) == 0 {
		return []string{"the product's defaults"}
	}
	return lines
}

// startAgent starts one agent in host h, logging to <out>/<name>.log; it
// joins the first agent when there is one.
func startAgent(o Options, h *lab.Host, name, keyFile, tmp string, others []string) (addr string, closeLog func(), err error) {
	addr = net.JoinHostPort(h.Addr.String(), strconv.Itoa(cluster.DefaultPort))
	logPath := filepath.Join(o.Out, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return "", nil, err
	}
	args := []string{"run", "--name", name, "--bind", addr, "--key-file", keyFile,
		"--coordinator-key", filepath.Join(filepath.Dir(keyFile), "coordinator.pub"),
		"--data-dir", filepath.Join(tmp, name), "--lab-emulate-vm", "--log-format", "json"}
	if len(others) > 0 {
		args = append(args, "--join", others[0])
	}
	if o.AgentMaxRuns > 0 {
		args = append(args, "--max-runs", strconv.Itoa(o.AgentMaxRuns))
	}
	cmd := exec.Command(o.AgentBinary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group: a terminal's Ctrl-C must not reach the agents
	// before the coordinator has cleaned its runs up through them; the lab
	// kills them at teardown.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := h.Start(cmd); err != nil {
		logf.Close()
		return "", nil, fmt.Errorf("start %s: %w", name, err)
	}
	o.logf("agent %s on %s (log %s)", name, addr, logPath)
	return addr, func() { logf.Close() }, nil
}

// runCoordinator re-executes this binary in the control host with the
// lab's cluster flags and waits for it.
func runCoordinator(ctx context.Context, o Options, ctrl *lab.Host, keyFile string, agents []string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	args := append(append([]string{}, o.CoordinatorArgs...),
		"--bind", net.JoinHostPort(ctrl.Addr.String(), strconv.Itoa(cluster.DefaultPort)), "--join", strings.Join(agents, ","),
		"--key-file", keyFile, "--expect-agents", strconv.Itoa(o.Agents), "--lab-member")
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr, cmd.Stdin = o.Stdout, o.Stderr, nil
	cmd.Env = os.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C arrives once, forwarded below
	if err := ctrl.Start(cmd); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		o.logf("interrupted: asking the coordinator to stop and clean up")
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			err = <-done
		}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &ErrExit{Code: ee.ExitCode()}
	}
	return err
}
