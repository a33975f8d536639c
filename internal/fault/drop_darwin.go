package fault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// pfctlPath is macOS's pf control tool; kalab runs it with typed arguments
// only (addresses and ports it validated), never through a shell.
var pfctlPath = "/sbin/pfctl"

func pfctl(stdin string, args ...string) (string, error) {
	// A hung pfctl must not hold a fault, or the agent, forever.
	ctx, cancel := context.WithTimeout(context.Background(), HookTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, pfctlPath, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("pfctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// pfEnable takes a pf enable reference ("pfctl -E": enables pf if it was
// off and counts a reference) and persists the token before anything else,
// so that a restarted agent can release it. Never "pfctl -d": it drops
// everyone's references (xnu pf_ioctl.c DIOCSTOP).
func pfEnable(run string) (string, error) {
	out, err := pfctl("", "-E")
	if err != nil {
		return "", err
	}
	tok, err := pfToken(out)
	if err != nil {
		return "", err
	}
	path, err := stateFile("pf-token." + pfUnsafe.ReplaceAllString(run, "_"))
	if err == nil {
		err = os.WriteFile(path, []byte(tok+"\n"), 0o600)
	}
	if err != nil {
		_, _ = pfctl("", "-X", tok)
		return "", fmt.Errorf("persist pf token: %w", err)
	}
	return tok, nil
}

// pfRelease gives a reference back; an unknown token (e.g. after a reboot)
// counts as released.
func pfRelease(run, tok string) error {
	out, err := pfctl("", "-X", tok)
	if err != nil && !strings.Contains(strings.ToLower(out), "invalid") {
		return err
	}
	if path, err := stateFile("pf-token." + pfUnsafe.ReplaceAllString(run, "_")); err == nil {
		_ = os.Remove(path)
	}
	return nil
}

// pfLoad enables pf by reference, loads the rules into the run's anchor and
// returns the heal: flush the anchor (its rules only, not global states),
// release the reference.
func pfLoad(run, rules string) (func() error, error) {
	tok, err := pfEnable(run)
	if err != nil {
		return nil, err
	}
	anchor := pfAnchor(run)
	if _, err := pfctl(rules, "-a", anchor, "-f", "-"); err != nil {
		_ = pfRelease(run, tok)
		return nil, err
	}
	return func() error {
		_, ferr := pfctl("", "-a", anchor, "-F", "all")
		return errors.Join(ferr, pfRelease(run, tok))
	}, nil
}

// installFlowDrop blocks one flow, both ways or in spec.Direction only, in
// com.apple/kalab.<run>, then kills any pf state of the flow (rules are not
// evaluated for packets matching a state, whichever way they go).
func installFlowDrop(spec DropSpec) (remove func() error, err error) {
	heal, err := pfLoad(spec.Run, pfFlowRules(spec.Run, spec.Flow, spec.Direction))
	if err != nil {
		return nil, err
	}
	if states, err := pfctl("", "-s", "states"); err == nil && pfHasState(states, spec.Flow) {
		for _, args := range pfKillArgs(spec.Flow.Local.Addr(), spec.Flow.Remote.Addr()) {
			if _, err := pfctl("", args...); err != nil {
				_ = heal()
				return nil, fmt.Errorf("kill pf state: %w", err)
			}
		}
	}
	return heal, nil
}

// installHostDrop silences this host toward the peer except serf's port,
// both ways or in spec.Direction only.
func installHostDrop(spec HostDropSpec) (remove func() error, err error) {
	return pfLoad(spec.Run, pfHostRules(spec.Run, spec.Peer, spec.KeepPort, spec.Direction))
}

// DropCounters reads the block rules' packet counters (pfctl -v -s rules):
// the fault proof.
func DropCounters(run string, _ int) (Counters, error) {
	out, err := pfctl("", "-a", pfAnchor(run), "-v", "-s", "rules")
	if err != nil {
		return Counters{}, fmt.Errorf("drop counters %s: %w", run, err)
	}
	if strings.TrimSpace(out) == "" {
		return Counters{Known: true}, nil
	}
	return pfCounters(out)
}

// Sweep flushes every com.apple/kalab.* anchor and releases the pf
// references a previous agent persisted. Other anchors are untouched.
func Sweep(_ int) error {
	var errs []error
	if out, err := pfctl("", "-a", pfAnchorParent, "-s", "Anchors"); err == nil {
		for _, a := range pfKalabAnchors(out) {
			if _, err := pfctl("", "-a", a, "-F", "all"); err != nil {
				errs = append(errs, err)
			}
		}
	} else {
		errs = append(errs, err)
	}
	var tokens []string
	if pattern, err := stateFile("pf-token.*"); err == nil { // no state dir: no token was persisted
		tokens, _ = filepath.Glob(pattern)
	}
	for _, path := range tokens {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		run := strings.TrimPrefix(filepath.Base(path), "pf-token.")
		if err := pfRelease(run, strings.TrimSpace(string(b))); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sweep pf: %w", err)
	}
	return nil
}
