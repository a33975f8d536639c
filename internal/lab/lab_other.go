//go:build !linux

package lab

import (
	"fmt"
	"os/exec"
	"runtime"
)

// Lab is Linux-only; elsewhere New fails.
type Lab struct {
	// Hosts is never filled here: New fails before building one.
	Hosts []*Host
}

// Host is Linux-only.
type Host struct {
	// Name mirrors the Linux field so that callers build everywhere; no Host
	// is ever made here.
	Name string
}

func unsupported() error { return fmt.Errorf("%w on %s", ErrUnsupported, runtime.GOOS) }

// New fails: namespaces exist only on Linux.
func New(Config) (*Lab, error) { return nil, unsupported() }

// Close does nothing.
func (l *Lab) Close() error { return nil }

// Do fails.
func (h *Host) Do(func() error) error { return unsupported() }

// Start fails.
func (h *Host) Start(*exec.Cmd) error { return unsupported() }

// Sweep has nothing to do.
func Sweep() ([]string, error) { return nil, nil }

// StartIn fails.
func StartIn(string, *exec.Cmd) error { return unsupported() }
