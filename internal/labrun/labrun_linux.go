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
	l, err := lab.New(lab.Config{Hosts: o.Agents + 1})
	if err != nil {
		return fmt.Errorf("build lab: %w", err)
	}
	defer func() {
		if err := l.Close(); err != nil {
			o.logf("lab teardown: %v", err)
		} else {
			o.logf("lab %s torn down", l.Name)
		}
	}()
	o.logf("lab %s: %d hosts in %s (control %s)", l.Name, len(l.Hosts), l.Block, l.Hosts[0].Addr)
	tmp, err := os.MkdirTemp("", "kalab-lab-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	keyFile := filepath.Join(tmp, "gossip.key")
	if err := os.WriteFile(keyFile, []byte(cluster.EncodeKey(cluster.NewKey())), 0o600); err != nil {
		return err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return fmt.Errorf("out dir: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	port := strconv.Itoa(cluster.DefaultPort)
	var agentAddrs []string
	for i, h := range l.Hosts[1:] {
		name := fmt.Sprintf("lab-agent-%d", i+1)
		addr := net.JoinHostPort(h.Addr.String(), port)
		logPath := filepath.Join(o.Out, name+".log")
		logf, err := os.Create(logPath)
		if err != nil {
			return err
		}
		defer logf.Close()
		args := append(append([]string{}, o.AgentArgs...), "--name", name, "--bind", addr,
			"--key-file", keyFile, "--data-dir", filepath.Join(tmp, name), "--lab-emulate-vm")
		if len(agentAddrs) > 0 {
			args = append(args, "--join", agentAddrs[0])
		}
		cmd := exec.Command(exe, args...)
		cmd.Stdout, cmd.Stderr = logf, logf
		// Own process group: a terminal's Ctrl-C must not reach the agents
		// before the coordinator has cleaned its runs up through them; the
		// lab kills them at teardown.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := h.Start(cmd); err != nil {
			return err
		}
		agentAddrs = append(agentAddrs, addr)
		o.logf("agent %s on %s (log %s)", name, addr, logPath)
	}
	ctrl := l.Hosts[0]
	args := append(append([]string{}, o.CoordinatorArgs...),
		"--bind", net.JoinHostPort(ctrl.Addr.String(), port), "--join", strings.Join(agentAddrs, ","),
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
