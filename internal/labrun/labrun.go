// Package labrun runs an experiment on one Linux machine: it builds the
// netns lab (a control host for the coordinator's cluster member and one
// host per agent), starts agents from this same binary inside their
// namespaces, re-executes the coordinator inside the control host (nothing
// that talks to lab addresses runs in the root namespace), waits, and tears
// everything down — also on Ctrl-C.
package labrun

import (
	"fmt"
	"io"
)

// Options for one lab experiment.
type Options struct {
	// Config is the experiment file; Out the output directory.
	Config, Out string
	// Agents is the number of agent hosts (≥ 2).
	Agents int
	// AgentArgs are the arguments that make this binary an agent ("__agent
	// run" for the coordinator); CoordinatorArgs run the experiment inside
	// the control host (the lab adds --bind/--join/--key-file/...).
	AgentArgs, CoordinatorArgs []string
	Stdout, Stderr             io.Writer
	// Log says what the lab does.
	Log func(format string, args ...any)
}

func (o Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

// ErrExit carries the coordinator child's exit status.
type ErrExit struct{ Code int }

func (e *ErrExit) Error() string {
	return fmt.Sprintf("coordinator in the lab exited with status %d", e.Code)
}
