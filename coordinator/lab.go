package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/labrun"
	"github.com/kalab-dev/kalab/internal/labsvc"
)

// runInLab re-runs this command inside a fresh netns lab.
func runInLab(ctx context.Context, c *experiment.Config, path, out, agentBin string, lf logFlags, resume bool) error {
	return runInLabCapture(ctx, c, path, out, agentBin, lf, resume, "")
}

// runInLabCapture is runInLab recording each agent host's traffic into
// the directory capture when it is set (labrun.Options.Capture).
func runInLabCapture(ctx context.Context, c *experiment.Config, path, out, agentBin string, lf logFlags, resume bool, capture string) error {
	bin, err := labrun.FindAgent(agentBin)
	if err != nil {
		return err
	}
	args := []string{"experiment", "run", "-c", path, "--out", out}
	if resume {
		args = append(args, "--resume")
	}
	if lf.format != "" {
		args = append(args, "--log-format", lf.format)
	}
	if lf.verbose {
		args = append(args, "--verbose")
	}
	if lf.debug {
		args = append(args, "--debug")
	}
	err = labrun.Run(ctx, labrun.Options{
		Out: out, Agents: 2, AgentBinary: bin, CoordinatorArgs: args, Stdout: os.Stdout, Stderr: os.Stderr,
		Log:     func(f string, a ...any) { fmt.Fprintf(os.Stderr, "lab: "+f+"\n", a...) },
		Service: serviceFor(c), Capture: capture,
	})
	var ee *labrun.ErrExit
	if errors.As(err, &ee) {
		return &exitError{ee.Code}
	}
	return err
}

// serviceFor is the service the lab starts for c's [target.lab], or nil.
func serviceFor(c *experiment.Config) *labrun.Service {
	t := c.Target
	if t == nil || t.Lab == nil {
		return nil
	}
	s := &labrun.Service{Agent: t.Agent, Product: labsvc.Product(t.Lab.Product), Port: t.Port}
	if t.Lab.HasKeepalive() {
		s.Keepalive = &labsvc.Keepalive{Idle: t.Lab.Idle, Interval: t.Lab.Interval, Count: t.Lab.Count}
	}
	return s
}

// readLabService reads what the lab wrote about the service it started
// (--lab-service); nil without the flag.
func readLabService(path string) (*experiment.LabService, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lab service: %w", err)
	}
	var s experiment.LabService
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("lab service %s: %w", path, err)
	}
	return &s, nil
}
