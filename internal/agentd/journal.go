package agentd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/atomicfile"
	"github.com/kalab-dev/kalab/internal/fault"
	"github.com/kalab-dev/kalab/internal/results"
)

// The fault journal: before a fault is applied, what it takes to undo it is
// written (fsynced) to <data_dir>/faults/<run>.json; the entry goes when
// the fault is healed. An agent that starts replays what it finds — heals
// every entry — before it joins the cluster. Where neither the kernel nor a
// dead agent's OS objects undo a fault by themselves (hypervisor hooks; a
// paused client and pf rules on macOS), a detached watchdog (`agent
// deadman`) heals at the deadline unless the entry is gone by then.
// docs/security.md says what heals what on each OS.

// journalEntry is what must be undone for one fault.
type journalEntry struct {
	// Run and Kind name the fault; Scope is the drop scope.
	Run   string `json:"run"`
	Kind  string `json:"kind"`
	Scope string `json:"scope,omitempty"`
	// Deadline is when the fault must be healed at the latest.
	Deadline time.Time `json:"deadline"`
	// ClientPID is the paused client process (pause, emulated vm-pause).
	ClientPID int `json:"client_pid,omitempty"`
	// Resume is the hypervisor resume command, copied from this agent's
	// own agent.toml (never from the network).
	Resume []string `json:"resume,omitempty"`
}

// journalDir is where entries live; empty when the agent has no data_dir.
func (a *Agent) journalDir() string {
	if a.cfg.DataDir == "" {
		return ""
	}
	return filepath.Join(a.cfg.DataDir, "faults")
}

// writeJournal records e before the fault is applied.
func (a *Agent) writeJournal(e journalEntry) (string, error) {
	dir := a.journalDir()
	if dir == "" {
		return "", nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("fault journal: %w", err)
	}
	path := filepath.Join(dir, e.Run+".json")
	b, _ := json.Marshal(e)
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return "", fmt.Errorf("fault journal %s: %w", path, err)
	}
	return path, nil
}

// dropJournal removes a healed fault's entry.
func dropJournal(path string) {
	if path != "" {
		_ = os.Remove(path)
		_ = atomicfile.SyncDir(filepath.Dir(path))
	}
}

// readJournal lists the entries left in dir.
func readJournal(dir string) (map[string]journalEntry, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	out := map[string]journalEntry{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var e journalEntry
		if err := json.Unmarshal(b, &e); err != nil {
			// A torn entry: the fault may or may not have been applied;
			// the sweep below removes any drop, so only drop the entry.
			e = journalEntry{Kind: "unknown"}
		}
		out[f] = e
	}
	return out, nil
}

// replayJournal heals everything a previous agent left in its journal
// (drops go with the sweep that Start also runs), then clears it.
func (a *Agent) replayJournal() {
	dir := a.journalDir()
	if dir == "" {
		return
	}
	entries, err := readJournal(dir)
	if err != nil {
		a.log.Warn("fault journal unreadable", "dir", dir, "err", err)
		return
	}
	for path, e := range entries {
		if err := healEntry(e); err != nil {
			a.log.Warn("healing a fault left by a previous agent failed", "run", e.Run, "kind", e.Kind, "err", err)
		} else {
			a.log.Info("healed a fault left by a previous agent", "run", e.Run, "kind", e.Kind)
		}
		dropJournal(path)
	}
}

// healEntry undoes one fault without the agent that applied it.
func healEntry(e journalEntry) error {
	var errs []error
	if e.Kind == results.KindDrop || e.Kind == results.KindVMPause || e.Kind == "unknown" {
		errs = append(errs, fault.Sweep(0))
	}
	if e.ClientPID > 0 && (e.Kind == results.KindPause || e.Kind == results.KindVMPause) {
		if err := fault.ResumePID(e.ClientPID); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, err)
		}
	}
	if len(e.Resume) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), fault.HookTimeout)
		defer cancel()
		if out, err := exec.CommandContext(ctx, e.Resume[0], e.Resume[1:]...).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w: %s", strings.Join(e.Resume, " "), err, strings.TrimSpace(string(out))))
		}
	}
	return errors.Join(errs...)
}

// needsWatchdog says whether a fault of this kind outlives a dead agent on
// this OS: Linux drops expire in the kernel and its clients die with the
// agent (Pdeathsig); Windows' WFP session and job object end with it;
// hypervisor hooks and macOS pf rules and stopped clients do not.
func needsWatchdog(kind string, hook bool) bool {
	if kind == results.KindVMPause && hook {
		return true
	}
	return runtime.GOOS == "darwin" && (kind == results.KindDrop || kind == results.KindPause || kind == results.KindVMPause)
}

// startWatchdog starts `agent deadman` for the entry at path, detached so
// that it outlives this process.
func startWatchdog(path string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, "deadman", "--entry", path)
	cmd.SysProcAttr = detachedAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start fault watchdog: %w", err)
	}
	return cmd.Process.Release()
}

// Deadman is `agent deadman --entry FILE`: wait until the entry's
// deadline; heal it then unless the agent removed the entry (it healed
// the fault itself). It polls once a second, so it is gone at most a second
// after the agent healed.
func Deadman(path string) error {
	for {
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil // healed by the agent
		}
		if err != nil {
			return err
		}
		var e journalEntry
		if err := json.Unmarshal(b, &e); err != nil {
			return fmt.Errorf("journal entry %s: %w", path, err)
		}
		if left := time.Until(e.Deadline); left > 0 {
			time.Sleep(min(left, time.Second))
			continue
		}
		err = healEntry(e)
		dropJournal(path)
		return err
	}
}
