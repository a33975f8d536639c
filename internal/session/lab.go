package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/lab"
	"github.com/kalab-dev/kalab/internal/labrun"
)

// A lab session's lab is held up by a keeper process (`coordinator
// session keep-lab`, started detached by `session start --lab`); every
// command on the session re-executes itself inside the lab's control
// host, where the lab's agents are reachable.

// ExitError is a re-executed command's non-zero exit status, passed on.
type ExitError struct {
	// Code is the exit status.
	Code int
}

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// labFile is where a session's keeper says how to reach its lab; logFile
// its log; labDir the lab agents' logs.
func (s Store) labFile(id string) string { return filepath.Join(s.Dir, id+".lab.json") }
func (s Store) logFile(id string) string { return filepath.Join(s.Dir, id+".lab.log") }
func (s Store) labDir(id string) string  { return filepath.Join(s.Dir, id+".lab") }

// keeperInfo is the keeper's file: labrun.Info and the keeper's pid.
type keeperInfo struct {
	labrun.Info
	PID int `json:"pid"`
}

// ReadLab reads what the keeper of session id wrote about its lab.
func (s Store) ReadLab(id string) (*Lab, error) {
	b, err := os.ReadFile(s.labFile(id))
	if err != nil {
		return nil, fmt.Errorf("the session's lab: %w", err)
	}
	var k keeperInfo
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("the session's lab: %w", err)
	}
	return &Lab{Name: k.Name, Control: k.Control, ControlAddr: k.ControlAddr, KeeperPID: k.PID, Dir: k.Dir, Agents: k.Agents,
		Join: k.Join, KeyFile: k.KeyFile}, nil
}

// Keep is the keeper's work: build the lab, write how to reach it, hold it
// up until ctx ends (SIGTERM from `session stop`, or the TTL).
//
// svc, when set, is a real service the lab starts on its host (a session
// with --target).
func (s Store) Keep(ctx context.Context, id, agentBin string, svc *labrun.Service, log io.Writer) error {
	defer os.Remove(s.labFile(id))
	return labrun.Keep(ctx, labrun.Options{Out: s.labDir(id), Agents: 2, AgentBinary: agentBin, Service: svc,
		Log: func(f string, a ...any) { fmt.Fprintf(log, "lab: "+f+"\n", a...) }},
		func(info labrun.Info) error {
			b, err := json.Marshal(keeperInfo{info, os.Getpid()})
			if err != nil {
				return err
			}
			tmp := s.labFile(id) + ".tmp"
			if err := os.WriteFile(tmp, b, 0o600); err != nil {
				return err
			}
			return os.Rename(tmp, s.labFile(id))
		})
}

// NewID is a new session id: short, lowercase, unique on this machine.
func NewID() string { return strconv.FormatInt(time.Now().UnixNano()%(1<<40), 36) }

// StartLab starts a detached keeper (exe session keep-lab … keeperArgs)
// for a new session, waits (90 s) until its lab is up, and returns the
// session id and the lab. The keeper is stopped again if the lab never
// comes up.
func (s Store) StartLab(ctx context.Context, exe, agentBin string, ttl time.Duration, keeperArgs []string, status io.Writer) (string, *Lab, error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("sessions directory: %w", err)
	}
	id := NewID()
	logf, err := os.Create(s.logFile(id))
	if err != nil {
		return "", nil, err
	}
	defer logf.Close()
	keeper := exec.Command(exe, append([]string{"session", "keep-lab", "--id", id, "--sessions", s.Dir, "--ttl", ttl.String(), "--agent-bin", agentBin}, keeperArgs...)...)
	keeper.Stdout, keeper.Stderr, keeper.SysProcAttr = logf, logf, detached()
	if err := keeper.Start(); err != nil {
		return "", nil, fmt.Errorf("start the lab keeper: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- keeper.Wait() }()
	fmt.Fprintf(status, "lab: building a lab for session %s (keeper pid %d, log %s)\n", id, keeper.Process.Pid, s.logFile(id))
	deadline := time.After(90 * time.Second)
	for {
		if _, err := os.Stat(s.labFile(id)); err == nil {
			k, err := s.ReadLab(id)
			return id, k, err
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(s.logFile(id))
			return "", nil, fmt.Errorf("the lab keeper exited (%v) before the lab was up:\n%s", err, strings.TrimSpace(string(b)))
		case <-deadline:
			_ = terminate(keeper.Process.Pid)
			return "", nil, fmt.Errorf("the lab was not up within 90 s (keeper log %s)", s.logFile(id))
		case <-ctx.Done():
			_ = terminate(keeper.Process.Pid)
			return "", nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Service is what the lab says about the service it started for the
// session (nil: none).
func (k *Lab) Service() (*experiment.LabService, error) {
	b, err := os.ReadFile(filepath.Join(k.Dir, labrun.ServiceFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the lab's service: %w", err)
	}
	var svc experiment.LabService
	if err := json.Unmarshal(b, &svc); err != nil {
		return nil, fmt.Errorf("the lab's service: %w", err)
	}
	return &svc, nil
}

// ClusterArgs are the cluster flags of a command run inside lab k: the
// lab's keys and agents, bound on the control host on a port of its own
// (a watch and a fault may run at once).
func (k *Lab) ClusterArgs() []string {
	return []string{"--join", strings.Join(k.Join, ","), "--key-file", k.KeyFile, "--bind", net.JoinHostPort(k.ControlAddr, "0"),
		"--expect-agents", strconv.Itoa(len(k.Agents))}
}

// Run re-executes exe with args in the lab's control host, connected to
// this process's terminal, and waits; a non-zero exit is an *ExitError.
// Ctrl-C reaches the child too (same process group), which finishes.
func (k *Lab) Run(exe string, args []string) error {
	c := exec.Command(exe, args...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := lab.StartIn(k.Control, c); err != nil {
		return err
	}
	err := c.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &ExitError{ee.ExitCode()}
	}
	return err
}

// StopLab asks the lab's keeper to tear it down, waits (30 s), and removes
// the keeper's files for session id.
func (s Store) StopLab(id string, k *Lab) error {
	if k.KeeperPID > 0 && terminate(k.KeeperPID) == nil {
		end := time.Now().Add(30 * time.Second)
		for running(k.KeeperPID) {
			if time.Now().After(end) {
				return fmt.Errorf("the lab keeper (pid %d) did not tear %s down within 30 s", k.KeeperPID, k.Name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	} // else gone already: its lab went with it (or the next lab's sweep removes it)
	for _, p := range []string{s.labDir(id), s.logFile(id), s.labFile(id)} {
		_ = os.RemoveAll(p)
	}
	return nil
}
