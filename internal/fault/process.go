package fault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Pause stops the process (the client role's child; the agent never pauses
// anything else) until healed or ttl passes. The kernel keeps ACKing for a
// stopped process, so keepalive must NOT detect it (docs/keepalive-models.md §7).
func Pause(run string, p *os.Process, ttl time.Duration) (*Active, error) {
	if err := validateTTL(ttl); err != nil {
		return nil, err
	}
	if err := suspend(p); err != nil {
		return nil, fmt.Errorf("pause pid %d: %w", p.Pid, err)
	}
	a := newActive(CapPause, run, ttl, func() error {
		if err := resume(p); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("resume pid %d: %w", p.Pid, err)
		}
		return nil
	})
	a.How = fmt.Sprintf("%s of pid %d", Mechanism(runtime.GOOS, CapPause, ""), p.Pid)
	return a, nil
}

// Kill ends the process at once: the baseline where the peer's kernel
// closes the connection (FIN or RST). It returns how, for the result.
func Kill(p *os.Process) (how string, err error) {
	if err := p.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return "", fmt.Errorf("kill pid %d: %w", p.Pid, err)
	}
	return fmt.Sprintf("%s of pid %d", Mechanism(runtime.GOOS, CapKill, ""), p.Pid), nil
}

// Hypervisor is the VM pause hook from the agent's LOCAL config file only:
// argv templates (no shell) where "{vm}" is replaced by VM. Commands never
// come from the network.
type Hypervisor struct {
	// VM is the hypervisor's name for the VM to pause, substituted for
	// "{vm}" in Pause and Resume. Empty (the default) leaves vm-pause
	// unavailable.
	VM string `toml:"vm"`
	// Pause is the argv PauseVM runs, e.g. ["virsh", "suspend", "{vm}"];
	// Resume is the argv Heal (or the deadman when the TTL runs out) runs to
	// undo it. Both are required for the hook to count as configured; a
	// non-zero exit fails the fault (or the heal) with the command's output.
	Pause  []string `toml:"pause"`
	Resume []string `toml:"resume"`
}

// Configured reports whether the hook can be used.
func (h Hypervisor) Configured() bool { return h.VM != "" && len(h.Pause) > 0 && len(h.Resume) > 0 }

// ResumeArgv is the resume command with {vm} replaced, for the fault
// journal (a watchdog runs it if the agent cannot).
func (h Hypervisor) ResumeArgv() []string { return h.argv(h.Resume) }

func (h Hypervisor) argv(tmpl []string) []string {
	out := make([]string, len(tmpl))
	for i, a := range tmpl {
		out[i] = strings.ReplaceAll(a, "{vm}", h.VM)
	}
	return out
}

// HookTimeout bounds a hypervisor command: a hung hook must not hold the
// fault (or the agent) forever.
const HookTimeout = 30 * time.Second

func runArgv(argv []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), HookTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// PauseVM runs the pause hook; the deadman runs the resume hook.
func PauseVM(run string, h Hypervisor, ttl time.Duration) (*Active, error) {
	if !h.Configured() {
		return nil, errors.New("vm-pause: no hypervisor hook in the agent's local config (vm, pause, resume)")
	}
	if err := validateTTL(ttl); err != nil {
		return nil, err
	}
	if err := runArgv(h.argv(h.Pause)); err != nil {
		return nil, fmt.Errorf("vm-pause: %w", err)
	}
	a := newActive(CapVMPause, run, ttl, func() error { return runArgv(h.argv(h.Resume)) })
	a.How = vmPauseMechanism + " (VM " + h.VM + ")"
	return a, nil
}

// Combine heals several faults as one (the lab's emulated VM pause: host
// drop + SIGSTOP).
func Combine(kind, run string, ttl time.Duration, parts ...*Active) *Active {
	a := newActive(kind, run, ttl, func() error {
		var errs []error
		for _, p := range parts {
			errs = append(errs, p.Heal())
		}
		return errors.Join(errs...)
	})
	hows := make([]string, len(parts))
	for i, p := range parts {
		hows[i] = p.How
	}
	a.How = strings.Join(hows, " + ")
	return a
}
