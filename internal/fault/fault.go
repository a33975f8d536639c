// Package fault makes an experiment's client go silent and heals it again.
// Every fault is local to the host that applies it, is described by typed
// parameters (never a command line from the network), heals itself when its
// TTL runs out (the deadman), and can be swept on agent start.
//
// OS mechanics live in files named after the fault and the OS: drops in
// drop_linux.go and hostdrop_linux.go (nftables), drop_windows.go (WFP)
// and drop_darwin.go (pf); pausing and killing in signal_unix.go and
// signal_windows.go; each *_other.go says "not supported". mechanism.go
// names each OS's mechanism for the results.
package fault

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
	"time"
)

// Flow is one TCP connection as seen from the host that applies the fault.
type Flow struct {
	// Local and Remote are this host's end and the peer's end (for the
	// agent, its client's address and the server's). Both need an address
	// and a non-zero port, and both must be IPv4 or both IPv6, or the drop
	// is refused.
	Local  netip.AddrPort `json:"local"`
	Remote netip.AddrPort `json:"remote"`
}

func (f Flow) String() string { return f.Local.String() + "<->" + f.Remote.String() }

func (f Flow) validate() error {
	if !f.Local.IsValid() || !f.Remote.IsValid() || f.Local.Port() == 0 || f.Remote.Port() == 0 {
		return fmt.Errorf("flow %s: both ends need an address and a port", f)
	}
	if f.Local.Addr().Unmap().Is4() != f.Remote.Addr().Unmap().Is4() {
		return fmt.Errorf("flow %s: mixes IPv4 and IPv6", f)
	}
	return nil
}

// stateDir keeps what must survive an agent crash to be swept (macOS pf
// enable tokens). The agent points it at its data_dir; kalab keeps no state
// in the system temp directory, so without it such faults are refused.
var (
	stateMu  sync.Mutex
	stateDir string
)

// SetStateDir sets where faults persist sweep state (the agent's data_dir).
func SetStateDir(dir string) {
	stateMu.Lock()
	defer stateMu.Unlock()
	stateDir = dir
}

// stateFile is name inside the state directory; an error without one.
func stateFile(name string) (string, error) {
	stateMu.Lock()
	defer stateMu.Unlock()
	if stateDir == "" {
		return "", errors.New("no state directory for fault state (the agent's data_dir)")
	}
	return filepath.Join(stateDir, name), nil
}

// MaxTTL bounds every fault: a forgotten fault must not outlive a long run.
const MaxTTL = 6 * time.Hour

func validateTTL(ttl time.Duration) error {
	if ttl <= 0 || ttl > MaxTTL {
		return fmt.Errorf("fault ttl = %s: allowed 1ns..%s", ttl, MaxTTL)
	}
	return nil
}

// Active is a fault in force. Heal removes it; the deadman calls Heal when
// the TTL runs out. Heal is idempotent and safe from any goroutine.
type Active struct {
	// Kind is the fault kind ("drop", "drop-host", "pause", "vm-pause").
	Kind string
	// Run is the run the fault belongs to.
	Run string
	// AppliedAt is when it took effect; Deadline when the deadman heals it.
	AppliedAt time.Time
	Deadline  time.Time
	// How says which mechanism applied it on this OS, for the result.
	How string

	heal   func() error
	timer  *time.Timer
	once   sync.Once
	done   chan struct{}
	mu     sync.Mutex
	healed time.Time
	err    error
	byTTL  bool
}

func newActive(kind, run string, ttl time.Duration, heal func() error) *Active {
	now := time.Now()
	a := &Active{Kind: kind, Run: run, AppliedAt: now, Deadline: now.Add(ttl), heal: heal, done: make(chan struct{})}
	// Under the lock: with a tiny TTL the deadman may fire before the
	// assignment, and doHeal reads the timer under the same lock.
	a.mu.Lock()
	a.timer = time.AfterFunc(ttl, func() { a.doHeal(true) })
	a.mu.Unlock()
	return a
}

// Heal removes the fault now. A second call returns the first call's error.
func (a *Active) Heal() error {
	a.doHeal(false)
	return a.Err()
}

func (a *Active) doHeal(byTTL bool) {
	a.once.Do(func() {
		a.mu.Lock()
		t := a.timer
		a.mu.Unlock()
		t.Stop()
		err := a.heal()
		a.mu.Lock()
		a.healed, a.err, a.byTTL = time.Now(), err, byTTL
		a.mu.Unlock()
		close(a.done)
	})
}

// Done is closed once the fault is healed, by Heal or by the deadman.
func (a *Active) Done() <-chan struct{} { return a.done }

// Err is the healing error, if any.
func (a *Active) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// HealedAt returns when the fault was healed and whether the deadman did it.
func (a *Active) HealedAt() (at time.Time, byDeadman bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.healed, a.byTTL
}

// Counters prove a drop bites: packets the rules dropped per direction.
// Known is false where the OS keeps no per-rule counters (WFP); Evidence
// then carries what supporting evidence there is.
type Counters struct {
	// Known is true when the OS counted the run's rules (nftables on Linux,
	// pf on macOS; a run with no rules left counts zero); false on Windows.
	Known bool `json:"known"`
	// InPackets and InBytes are what the rules dropped on the way into this
	// host (from the peer). InBytes is filled on Linux only: pf's rule
	// listing is read for packets, WFP counts nothing. A to-server drop has
	// no inbound rule, so it counts 0 here (and a to-client drop 0 out).
	InPackets uint64 `json:"in_packets"`
	InBytes   uint64 `json:"in_bytes"`
	// OutPackets and OutBytes are the same for packets leaving this host
	// toward the peer; OutBytes is likewise Linux only.
	OutPackets uint64 `json:"out_packets"`
	OutBytes   uint64 `json:"out_bytes"`
	// Evidence is the supporting evidence when Known is false: on Windows
	// the number of WFP drop events that name the run's filters, from a
	// small machine-wide ring, so a low count proves nothing
	// (docs/drop-mechanisms.md §2). Empty elsewhere.
	Evidence string `json:"evidence,omitempty"`
}

// Direction is which way a drop silences the peers. The agent applies
// drops on the experiment client's host, with the server as the peer, so
// the names are the experiment's (results.Direction*): to-server is what
// this host sends to the peer (Linux output chain, WFP outbound transport
// layer, pf "block out"), to-client what it receives from the peer (input
// chain, inbound transport layer, "block in").
type Direction string

const (
	// DirectionBoth drops both ways; the empty Direction means the same.
	DirectionBoth Direction = "both"
	// DirectionToServer drops only this host's packets to the peer: the
	// peer's packets (keepalive probes) still arrive, the answers do not.
	DirectionToServer Direction = "to-server"
	// DirectionToClient drops only the peer's packets to this host.
	DirectionToClient Direction = "to-client"
)

// ParseDirection accepts "both", "to-server", "to-client", and "" as both.
func ParseDirection(s string) (Direction, error) {
	switch d := Direction(s); d {
	case "", DirectionBoth:
		return DirectionBoth, nil
	case DirectionToServer, DirectionToClient:
		return d, nil
	}
	return "", fmt.Errorf("drop direction %q: allowed %q (the default), %q or %q", s, DirectionBoth, DirectionToServer, DirectionToClient)
}

// dropsIn says whether the drop discards the peer's packets to this host
// (the input side); dropsOut whether it discards this host's packets to
// the peer (the output side). The empty Direction is both.
func (d Direction) dropsIn() bool  { return d != DirectionToServer }
func (d Direction) dropsOut() bool { return d != DirectionToClient }

// DropSpec describes a drop of one flow, both ways or one way.
type DropSpec struct {
	// Run tags the rules so that Heal removes exactly these.
	Run string
	// Flow is the one connection to silence.
	Flow Flow
	// Direction is which of the flow's packets are dropped: "" or
	// DirectionBoth for both ways, DirectionToServer for Flow.Local →
	// Flow.Remote only, DirectionToClient for Flow.Remote → Flow.Local
	// only; anything else is refused.
	Direction Direction
	// TTL is how long the drop may last before the deadman heals it:
	// 1ns..MaxTTL, anything else is refused.
	TTL time.Duration
	// NetNS is, on Linux, a file descriptor of the network namespace to act
	// in; 0 means the agent's own (opened from /proc/self/ns/net, never the
	// calling thread's, which may have been switched).
	NetNS int
}

func (s HostDropSpec) validate() error {
	if s.Run == "" {
		return errors.New("host drop: run id is empty")
	}
	if !s.Peer.IsValid() {
		return errors.New("host drop: no peer address to go silent toward")
	}
	if s.KeepPort == 0 {
		return errors.New("host drop: keep port is 0: the agent's control port must stay open")
	}
	if _, err := ParseDirection(string(s.Direction)); err != nil {
		return fmt.Errorf("host drop: %w", err)
	}
	return validateTTL(s.TTL)
}

func (s DropSpec) validate() error {
	if s.Run == "" {
		return errors.New("drop: run id is empty")
	}
	if err := s.Flow.validate(); err != nil {
		return fmt.Errorf("drop: %w", err)
	}
	if _, err := ParseDirection(string(s.Direction)); err != nil {
		return fmt.Errorf("drop: %w", err)
	}
	return validateTTL(s.TTL)
}

// HostDropSpec silences the whole host (ICMP included), both ways or one
// way, except loopback and the control port (serf, TCP and UDP, kept open
// in either direction), so the agent can still be told to heal.
type HostDropSpec struct {
	// Run tags the rules so that Heal removes exactly these.
	Run string
	// Peer is the host to go silent toward (the experiment's server):
	// everything to and from it is dropped but serf's port, and the rest of
	// the network (an operator's SSH or RDP) keeps working.
	Peer netip.Addr
	// KeepPort is serf's port; 0 is refused (the agent would be cut off).
	// It stays open both ways whatever the Direction.
	KeepPort uint16
	// Direction is which traffic with the peer is dropped, as in DropSpec:
	// DirectionToServer drops what this host sends to the peer,
	// DirectionToClient what it receives from it; "" is both ways.
	Direction Direction
	// TTL bounds the drop as in DropSpec: 1ns..MaxTTL.
	TTL time.Duration
	// NetNS as in DropSpec.
	NetNS int
}
