package labrun

import (
	"context"
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
)

// Run builds the lab, runs the experiment, tears down. ctx cancellation
// (Ctrl-C) is forwarded to the coordinator child as SIGINT so it records
// what finished and cleans its runs up; the lab goes after it.
func Run(ctx context.Context, o Options) error {
	if o.Agents < 2 {
		o.Agents = 2
	}
	if o.AgentBinary == "" {
		return errors.New("lab: no agent binary (see FindAgent)")
	}
	l, err := lab.New(lab.Config{Hosts: o.Agents + 1})
	if err != nil {
		return fmt.Errorf("build the lab: %w", err)
	}
	defer func() {
		if err := l.Close(); err != nil {
			o.logf("teardown: %v", err)
		} else {
			o.logf("%s torn down", l.Name)
		}
	}()
	o.logf("%s: %d hosts in %s (control %s)", l.Name, len(l.Hosts), l.Block, l.Hosts[0].Addr)
	tmp, err := os.MkdirTemp("", "kalab-lab-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// The lab's own keys: gossip, and the coordinator's signing pair
	// (the coordinator child finds coordinator.key beside the gossip key).
	keyFile := filepath.Join(tmp, "gossip.key")
	if err := cluster.WriteKeyFile(keyFile); err != nil {
		return err
	}
	if err := cluster.WriteSigningKeys(filepath.Join(tmp, "coordinator.key"), filepath.Join(tmp, "coordinator.pub")); err != nil {
		return err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	var agentAddrs []string
	for i, h := range l.Hosts[1:] {
		addr, closeLog, err := startAgent(o, h, fmt.Sprintf("lab-agent-%d", i+1), keyFile, tmp, agentAddrs)
		if err != nil {
			return err
		}
		defer closeLog()
		agentAddrs = append(agentAddrs, addr)
	}
	return runCoordinator(ctx, o, l.Hosts[0], keyFile, agentAddrs)
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
