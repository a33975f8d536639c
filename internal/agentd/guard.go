package agentd

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/wire"
)

// The agent is root on someone's machine: what a command may name is
// bounded here (docs/security.md).
const (
	// MaxRunIDLen bounds a run id (wire.MaxRunIDLen).
	MaxRunIDLen = wire.MaxRunIDLen
	// DefaultMaxRuns is how many runs an agent holds state for at once
	// unless its config says otherwise; more are refused.
	DefaultMaxRuns = 64
	// janitorEvery is how often run state past its TTL is removed.
	janitorEvery = 5 * time.Second
)

// checkRunID refuses run ids that are empty, long or carry characters
// beyond [A-Za-z0-9._-] (they name files in data_dir and pf anchors).
func checkRunID(run string) error {
	if run == "" || len(run) > MaxRunIDLen {
		return fmt.Errorf("run id of %d bytes: allowed 1..%d", len(run), MaxRunIDLen)
	}
	for _, c := range run {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("run id %q: allowed characters are A-Z a-z 0-9 . _ -", run)
		}
	}
	return nil
}

// newBootID is random per agent process: a coordinator that sees it
// change mid-run knows the agent restarted and lost the run.
func newBootID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// recovered turns a handler's panic into an error reply and a log line:
// a bug must not kill the agent while faults are in place.
func (a *Agent) recovered(cmd, id string, err *error) {
	if p := recover(); p != nil {
		a.log.Error("command panicked", "cmd", cmd, "id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		*err = fmt.Errorf("internal error in %s: %v", cmd, p)
	}
}

// memberAgent returns the live member agent named node, or an error.
func (a *Agent) memberAgent(node string) (cluster.Member, error) {
	for _, m := range a.node.Members() {
		if m.Name == node && m.Tags[cluster.TagRole] == "agent" {
			return m, nil
		}
	}
	return cluster.Member{}, fmt.Errorf("%q is not a live agent of this cluster", node)
}

// memberIP is the IP part of a member's serf address.
func memberIP(m cluster.Member) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(m.Addr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// checkServerTarget allows a client to connect only to the named server
// agent's own address (the greeting nonce then proves the port is this
// run's kalab server).
func (a *Agent) checkServerTarget(node string, server netip.AddrPort) error {
	m, err := a.memberAgent(node)
	if err != nil {
		return fmt.Errorf("prepare client: %w", err)
	}
	ip, ok := memberIP(m)
	if !ok || ip != server.Addr().Unmap() {
		return fmt.Errorf("prepare client: %s is not the address of agent %s (%s)", server, node, m.Addr)
	}
	return nil
}

// checkOutsideTarget allows a service outside the cluster only when this
// agent's own config lists it (targets): the coordinator cannot make the
// agent connect anywhere its operator did not name.
func (a *Agent) checkOutsideTarget(server netip.AddrPort) error {
	for _, t := range a.cfg.Targets {
		if ap, err := netip.ParseAddrPort(t); err == nil && ap.Addr().Unmap() == server.Addr().Unmap() && ap.Port() == server.Port() {
			return nil
		}
	}
	return fmt.Errorf("prepare client: %s is not a cluster member, and agent %s's config does not list it in targets (add targets = [\"%s\"] to its agent.toml to allow bisecting it)",
		server, a.cfg.Name, server)
}

// checkHostDropPeer allows a host-scope drop only toward a live member
// agent's address: never loopback, never this agent's own address, never a
// coordinator's, never a host outside the cluster.
func (a *Agent) checkHostDropPeer(peer netip.Addr) error {
	return hostDropPeerOK(peer, a.ip, a.node.Members())
}

func hostDropPeerOK(peer, own netip.Addr, members []cluster.Member) error {
	peer = peer.Unmap()
	switch {
	case peer.IsLoopback() || peer.IsUnspecified():
		return fmt.Errorf("host drop toward %s refused: loopback or unspecified", peer)
	case peer == own:
		return fmt.Errorf("host drop toward %s refused: this agent's own address", peer)
	}
	isAgent := false
	for _, m := range members {
		ip, ok := memberIP(m)
		if !ok || ip != peer {
			continue
		}
		if m.Tags[cluster.TagRole] != "agent" {
			return fmt.Errorf("host drop toward %s refused: it is the %s %s", peer, m.Tags[cluster.TagRole], m.Name)
		}
		isAgent = true
	}
	if !isAgent {
		return fmt.Errorf("host drop toward %s refused: not a live agent of this cluster", peer)
	}
	return nil
}

// janitor removes run state whose TTL has passed (a coordinator that died
// never sends cleanup), healing its fault and ending its roles.
func (a *Agent) janitor(stop <-chan struct{}) {
	t := time.NewTicker(janitorEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			a.mu.Lock()
			var expired []*runState
			for run, st := range a.runs {
				if !st.until.IsZero() && now.After(st.until) {
					expired = append(expired, st)
					delete(a.runs, run)
					a.log.Info("run state expired", "run", run)
				}
			}
			a.mu.Unlock()
			for _, st := range expired {
				st.cleanup()
			}
		}
	}
}

// maxRuns is the configured run cap (max_runs), DefaultMaxRuns when unset.
func (a *Agent) maxRuns() int {
	if a.cfg.MaxRuns > 0 {
		return a.cfg.MaxRuns
	}
	return DefaultMaxRuns
}
