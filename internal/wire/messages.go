package wire

import (
	"fmt"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// Times on the wire are Unix nanoseconds on the sender's clock; durations
// are milliseconds unless the name says otherwise. Optional values are
// pointers: nil means "unknown" (the OS could not say), never zero.

// Keepalive settings as sent to the server.
type Keepalive struct {
	// IdleMS is how long the connection stays idle before the first probe,
	// in ms. The coordinator fills it from the experiment cell; the server
	// role checks it against its own platform's limits and refuses the
	// command if the OS cannot take it.
	IdleMS int64 `json:"idle_ms"`
	// IntervalMS is the time between unanswered probes, in ms; checked like
	// IdleMS.
	IntervalMS int64 `json:"interval_ms"`
	// Count is how many unanswered probes end the connection; checked like
	// IdleMS (Windows before build 15063, 1703, cannot set it).
	Count int `json:"count"`
}

// StatusReq asks an agent for its clock and facts (also used for the
// clock-offset estimate: the coordinator times the round trip).
type StatusReq struct {
	// Self asks for the agent's own resource use (StatusResp.Self). Off
	// for clock-offset samples: reading it lengthens the round trip.
	Self bool `json:"self,omitempty"`
}

// StatusResp answers StatusReq.
type StatusResp struct {
	// Name is the agent's serf node name, the one commands target.
	Name string `json:"name"`
	// NowNS is the agent's wall clock when it answered, in ns since the Unix
	// epoch. The coordinator sets it against the midpoint of the round trip
	// to estimate the agent's clock offset (cluster.ClockOffset).
	NowNS int64 `json:"now_ns"`
	// OS is the agent's GOOS value ("linux", "darwin", "windows"), which
	// picks the keepalive rules and the model.
	OS string `json:"os"`
	// Version is the agent's human-readable OS version: the kernel release
	// on Linux, kern.osproductversion on macOS, major.minor.build on
	// Windows; empty when the OS would not say.
	Version string `json:"os_version"`
	// Build is the Windows build number, which decides which keepalive
	// options exist; 0 (omitted) on other OSes.
	Build int `json:"build,omitempty"`
	// HZ is the agent's kernel tick rate, the resolution of TCP_INFO ages
	// and keepalive timers on Linux; 0 (omitted) when it could not be
	// detected, which is always the case off Linux.
	HZ int `json:"hz,omitempty"`
	// Caps is the agent's capability list, comma-separated: the fault kinds
	// it can apply right now, then "privileged" when it runs elevated. It
	// is the same string as the agent's caps tag.
	Caps string `json:"caps"`
	// Kalab is the agent binary's kalab version, so that the coordinator can
	// record which build measured a run.
	Kalab string `json:"kalab_version"`
	// Active is how many runs the agent holds state for (prepared and not
	// yet cleaned up); non-zero on an idle cluster points at leftovers.
	Active int `json:"active_runs"`
	// BootID is random per agent process start: when it changes during a
	// run, the agent restarted and lost the run's state (the coordinator
	// fails the run at once instead of waiting for it).
	BootID string `json:"boot_id,omitempty"`
	// Self is the agent process's own resource use when it answered
	// (internal/selfusage), when StatusReq.Self asked for it, for `coordinator bench concurrency` and for
	// spotting leaks on a long-lived agent; absent from older agents.
	Self *Usage `json:"self,omitempty"`
}

// Usage is an agent process's resource use (selfusage.Usage on the wire).
type Usage struct {
	// Goroutines is the Go runtime's goroutine count.
	Goroutines int `json:"goroutines"`
	// OpenFDs is the open file descriptors; -1 where the OS does not say.
	OpenFDs int `json:"open_fds"`
	// RSSBytes is the resident set now and PeakRSSBytes its peak since the
	// agent started; 0 where the OS does not say.
	RSSBytes     int64 `json:"rss_bytes"`
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// CPUNS is the agent's user + system CPU time since it started; -1
	// where the OS does not say.
	CPUNS int64 `json:"cpu_ns"`
}

// PrepareServerReq starts the server role for a run: listen, accept one
// client, greet, block in Read; watch the client's host with ICMP.
type PrepareServerReq struct {
	// Run is the run id the coordinator chose; every later command for the
	// run names it. A repeated prepare for the same run returns the server
	// already listening instead of starting a second one.
	Run string `json:"run"`
	// Keepalive is the settings the server applies to the accepted
	// connection.
	Keepalive Keepalive `json:"ka"`
	// Mode is a keepalive.Mode name: "listener", "listener-go-default" or
	// "per-connection" (where the options are set); any other value is
	// refused.
	Mode string `json:"mode"`
	// ClientAddr is the client host's address, for ICMP and to accept only it.
	ClientAddr string `json:"client_addr"`
	// TTLMS bounds the whole role: the server gives up and records it.
	TTLMS int64 `json:"ttl_ms"`
	// Nonce is the run's greeting nonce (16 hex characters, chosen by the
	// coordinator): the server sends it after accept and the client checks
	// it, so a client only ever reports ready on a kalab server of this run.
	Nonce string `json:"nonce"`
	// UserTimeoutMS, when > 0, is the OS's cap on unacknowledged time the
	// server puts on the accepted socket (TCP_USER_TIMEOUT on Linux;
	// TCP_MAXRT and TCP_RXT_CONNDROPTIME, whole seconds, on Windows and
	// macOS); 0 (omitted) leaves the OS default.
	UserTimeoutMS int64 `json:"user_timeout_ms,omitempty"`
	// HeartbeatMS, when > 0, runs the heartbeat scenario: keepalive off
	// (Keepalive and Mode are not used), a heartbeat written every
	// HeartbeatMS, the client declared dead after Misses periods without an
	// answer. 0 (omitted) for the keepalive scenarios.
	HeartbeatMS int64 `json:"heartbeat_ms,omitempty"`
	// Misses is the heartbeat's count of silent periods (1..1000); only
	// with HeartbeatMS.
	Misses int `json:"misses,omitempty"`
}

// PrepareServerResp tells where the server listens.
type PrepareServerResp struct {
	// Addr is the server's listening ip:port (the agent's IP, a port the OS
	// chose), filled by the agent; the coordinator passes it on as
	// PrepareClientReq.ServerAddr.
	Addr string `json:"addr"`
}

// PrepareClientReq starts the client role (a child process of the agent).
type PrepareClientReq struct {
	// Run is the run id, as in PrepareServerReq; a repeated prepare for the
	// same run returns the client already started.
	Run string `json:"run"`
	// ServerAddr is the server's ip:port from PrepareServerResp.Addr; the
	// agent refuses a value that does not parse as one.
	ServerAddr string `json:"server_addr"`
	// ServerNode is the server agent's node name: the client agent connects
	// only to that live member's address.
	ServerNode string `json:"server_node"`
	// Nonce is the run's greeting nonce, as in PrepareServerReq.
	Nonce string `json:"nonce"`
	// TTLMS is the client's lifetime in ms: the child holds the connection
	// at most this long. The agent refuses values outside 1 ms..6 h
	// (fault.MaxTTL).
	TTLMS int64 `json:"ttl_ms"`
	// Target is true when the server is a real service (an experiment's
	// [target]) at ServerAddr on ServerNode's host: no greeting or nonce;
	// the client sends Hello, waits for a reply starting with Expect, then
	// holds the connection without writing.
	Target bool `json:"target,omitempty"`
	// Hello and Expect are the target's exchange (base64 in JSON), at most
	// MaxHello and MaxExpect bytes; only with Target.
	Hello  []byte `json:"hello,omitempty"`
	Expect []byte `json:"expect,omitempty"`
}

// Limits on a target's hello and expected reply prefix: a command must
// fit CommandBudget with its signature.
const (
	MaxHello  = 256
	MaxExpect = 64
)

// ObserveReq starts watching a real service's side of a connection on
// this agent's host (the [target] of an experiment), through the socket
// table only.
type ObserveReq struct {
	// Run is the run id.
	Run string `json:"run"`
	// Local is the service's ip:port (this host's address and the
	// [target] port), Remote the client's ip:port as the client reported
	// it (PrepareClientResp.Local).
	Local  string `json:"local"`
	Remote string `json:"remote"`
	// TTLMS bounds the observation, as PrepareServerReq.TTLMS.
	TTLMS int64 `json:"ttl_ms"`
}

// RecheckReq has a run's target client send its hello again on the same
// connection (bisection: did the service keep the connection through the
// outage?).
type RecheckReq struct {
	// Run is the run id.
	Run string `json:"run"`
}

// RecheckResp says whether the service answered the hello again.
type RecheckResp struct {
	// Answered is true when its reply started with the expected prefix.
	Answered bool `json:"answered"`
	// Why says why not (reset, closed, no reply), cut to 160 bytes.
	Why string `json:"why,omitempty"`
}

// ObserveResp says whose socket it is.
type ObserveResp struct {
	// Process and PID are the owner of the service's socket (empty, 0 when
	// it could not be read).
	Process string `json:"process,omitempty"`
	PID     int    `json:"pid,omitempty"`
}

// PrepareClientResp is the client's side of the connection.
type PrepareClientResp struct {
	// Local and Remote are the connection's ip:port pairs as the client
	// child sees them (its own end, then the server's), filled by the agent
	// from the child's report; a flow drop targets exactly this pair.
	Local  string `json:"local"`
	Remote string `json:"remote"`
	// PID is the client child's process id, the target of the pause and
	// kill faults.
	PID int `json:"pid"`
}

// FaultReq applies a fault to the run's client. Kind and scope are checked
// against a fixed list; vm-pause runs only the agent's locally configured
// hypervisor hook.
type FaultReq struct {
	// Run is the run whose client gets the fault; the agent refuses it if
	// the run has no client there or already has a fault.
	Run string `json:"run"`
	// Kind is "drop", "pause", "kill" or "vm-pause"; a kind the agent cannot
	// apply is refused with its caps in the error.
	Kind string `json:"kind"`
	// Scope narrows a drop: "flow" (the default when empty) drops only the
	// run's connection, "host" all traffic with the server's host except
	// serf's port. Other kinds take no scope.
	Scope string `json:"scope,omitempty"`
	// Direction narrows a drop to one way: "both" (the default when empty),
	// "to-server" (only the client's packets to the server are dropped: it
	// still hears the server's probes but its answers never arrive) or
	// "to-client" (only the server's packets to the client). Any other
	// value, or a direction on another kind, is refused. The coordinator
	// leaves it empty for both ways, so agents from before directions still
	// take those drops.
	Direction string `json:"direction,omitempty"`
	// TTLMS is the fault's deadman in ms: a fault no heal reaches is removed
	// when it runs out. The agent refuses values outside 1 ms..6 h
	// (fault.MaxTTL); the coordinator sends the observe window plus 30 s.
	TTLMS int64 `json:"ttl_ms"`
	// HoldMS, when set, makes a short outage: the agent heals the fault by
	// itself this long after it took effect, so the outage's length never
	// depends on a later command crossing the network in time (a heal
	// query lost and retried would stretch a 2 s blip past detection).
	// The coordinator's heal then only collects the counters. Refused for
	// a kill (nothing to heal) and when not shorter than TTLMS.
	HoldMS int64 `json:"hold_ms,omitempty"`
}

// FaultResp says when the fault took effect (agent clock) and how.
type FaultResp struct {
	// AtNS is when the fault was in force, in ns since the Unix epoch on the
	// agent's clock; the coordinator moves it onto the server's clock with
	// both agents' clock offsets.
	AtNS int64 `json:"at_ns"`
	// Emulated is true when a vm-pause was played by a host drop plus
	// SIGSTOP of the client (the agent's lab setting) instead of a
	// hypervisor hook; reports mark such runs.
	Emulated bool `json:"emulated,omitempty"`
	// How says in words what the agent did (rule, signal and pid, or hook),
	// for the run's record.
	How string `json:"how"`
}

// HealReq removes the run's fault.
type HealReq struct {
	// Run is the run whose fault to remove; unknown runs are refused.
	Run string `json:"run"`
}

// HealResp reports the fault's proof counters at heal time.
type HealResp struct {
	// AtNS is when the fault was removed, in ns since the Unix epoch on the
	// agent's clock: the deadman's instant if it got there first, otherwise
	// the heal's (also when the run had no fault left to remove).
	AtNS int64 `json:"at_ns"`
	// InPackets and OutPackets are the packets the drop's inbound and
	// outbound rules discarded on the client's host, read just before the
	// rules go; 0 for faults other than drops.
	InPackets  uint64 `json:"in_pkts"`
	OutPackets uint64 `json:"out_pkts"`
	// ByDeadman is true when the fault's TTL ran out and the deadman healed
	// it before this heal arrived.
	ByDeadman bool `json:"by_deadman,omitempty"`
	// ByHold is true when the agent healed the fault itself at the end of
	// FaultReq.HoldMS, before this heal arrived.
	ByHold bool `json:"by_hold,omitempty"`
	// Counted is false where the OS keeps no rule counters (WFP); Evidence
	// says what there is instead.
	Counted  bool   `json:"counted,omitempty"`
	Evidence string `json:"evidence,omitempty"`
}

// CollectReq asks the server for the run's record.
type CollectReq struct {
	// Run is the run whose server record to return; the agent refuses it if
	// the run has no server there.
	Run string `json:"run"`
}

// Options are keepalive options read back from the accepted socket.
// The server's agent fills them from keepalive.ReadBack; each is nil where
// the OS cannot report it.
type Options struct {
	// Enabled is SO_KEEPALIVE on the accepted socket.
	Enabled *bool `json:"on,omitempty"`
	// IdleMS is the idle time before the first probe the kernel applied, in
	// ms; it can differ from the request (macOS keeps its default idle in
	// both listener modes, listener-go-default gets Go's 15 s).
	IdleMS *int64 `json:"idle_ms,omitempty"`
	// IntervalMS is the applied time between probes, in ms.
	IntervalMS *int64 `json:"intvl_ms,omitempty"`
	// Count is the applied number of unanswered probes that end the
	// connection.
	Count *int `json:"cnt,omitempty"`
	// UserTimeoutMS caps unacknowledged data, in ms (Linux TCP_USER_TIMEOUT,
	// macOS TCP_RXT_CONNDROPTIME, Windows TCP_MAXRT); 0 means not set.
	UserTimeoutMS *int64 `json:"uto_ms,omitempty"`
}

// CollectResp is the server's record; Done is false while Read is still
// blocked.
type CollectResp struct {
	// Done is true once the server role has ended (detection, TTL or
	// cleanup); the coordinator polls collect until then.
	Done bool `json:"done"`
	// AcceptNS is when the server accepted the client, in ns since the Unix
	// epoch on the server agent's clock; 0 before the accept.
	AcceptNS int64 `json:"accept_ns"`
	// Options are what the kernel applied to the accepted socket; the
	// coordinator re-predicts the run's length from them and refuses a run
	// that would outlast max_run.
	Options Options `json:"opts"`
	// LastPeerNS is the last peer activity (TCP_INFO) at detection; nil when
	// the OS has no TCP_INFO.
	LastPeerNS *int64 `json:"last_peer_ns,omitempty"`
	// PingLossNS is the first ICMP timeout after the last reply; nil when the
	// client host never went silent to ICMP.
	PingLossNS *int64 `json:"ping_loss_ns,omitempty"`
	// PingMode is which ICMP socket the monitor used, "unprivileged" or
	// "privileged"; empty when the monitor did not run.
	PingMode string `json:"ping_mode,omitempty"`
	// DetectNS is when the blocked Read returned.
	DetectNS *int64 `json:"detect_ns,omitempty"`
	// Err is the error that ended the connection, cut to 160 bytes; Errno
	// is its OS error number (0 when the error carries none) and ErrnoName
	// its symbolic name (ETIMEDOUT, WSAECONNRESET, …), or "EOF" when the
	// peer closed.
	Err       string `json:"err,omitempty"`
	Errno     int    `json:"errno,omitempty"`
	ErrnoName string `json:"errno_name,omitempty"`
	// Probes is the unanswered probe count at detection (Linux TCP_INFO).
	Probes *int `json:"probes,omitempty"`
	// ProbesMS are the unanswered probes' instants in ms after LastPeerNS
	// (at most MaxProbeTimes).
	ProbesMS []int64 `json:"probes_ms,omitempty"`
	// HZ is the server host's kernel tick rate, the resolution of
	// LastPeerNS; 0 when unknown, and the coordinator then uses the one
	// from StatusResp.
	HZ int `json:"hz,omitempty"`
	// Ended, for an observed target, is how the service's side ended
	// (results.Ended*); Timer its socket's timer at the last sample;
	// EffectiveFrom where Options came from ("socket", or "unknown: why").
	Ended         string `json:"ended,omitempty"`
	Timer         string `json:"timer,omitempty"`
	EffectiveFrom string `json:"effective_from,omitempty"`
	// Note collects what went wrong or was unavailable on the way (accept,
	// option read-back, ICMP monitor, no detection before the role ended),
	// "; "-separated and cut to 160 bytes.
	Note string `json:"note,omitempty"`
}

// EchoReq asks the run's server, after a fault with a hold has healed, to
// write a few bytes on the accepted connection and wait (bounded) for the
// client to send them back: the proof that the connection outlived the
// outage.
type EchoReq struct {
	// Run is the run whose server echoes; the agent refuses it if the run
	// has no server there.
	Run string `json:"run"`
}

// EchoResp is the echo's outcome. A failed echo is an answer (OK false,
// Err), not a command error: it is the run's measurement.
type EchoResp struct {
	// OK is true when the client sent back exactly what the server wrote
	// within the server's bound.
	OK bool `json:"ok"`
	// RTTNS is the round trip from the server's write to the last byte
	// read back, in ns; 0 when OK is false.
	RTTNS int64 `json:"rtt_ns,omitempty"`
	// Err says why the echo failed (the connection had ended, the write
	// failed, nothing came back within the bound), cut to 160 bytes; empty
	// when OK.
	Err string `json:"err,omitempty"`
}

// WriteReq asks the run's server, right after the fault, to write a few
// bytes on the accepted connection (the unacked scenario): with the peer
// silent they stay unacknowledged and the retransmission timer ends the
// connection.
type WriteReq struct {
	// Run is the run whose server writes; the agent refuses it if the run
	// has no server there.
	Run string `json:"run"`
}

// WriteResp is the write's outcome. A failed write is an answer (Err), not
// a command error.
type WriteResp struct {
	// AtNS is when the server wrote, in ns since the Unix epoch on the
	// server's clock.
	AtNS int64 `json:"at_ns"`
	// Err says why the write failed, cut to 160 bytes; empty when it went
	// to the kernel.
	Err string `json:"err,omitempty"`
	// RTTUS is the connection's smoothed round-trip time just before the
	// write, in µs (Linux TCP_INFO tcpi_rtt); nil where the OS has no
	// TCP_INFO. The retransmission model starts its RTO from it.
	RTTUS *int64 `json:"rtt_us,omitempty"`
	// Retransmit are the server host's retransmission values (sysctl,
	// registry), each with its source; nil when this OS has no
	// retransmission model. Values the host does not expose are the OS's
	// defaults, marked so.
	Retransmit *keepalive.RetransmitLimits `json:"retransmit,omitempty"`
	// RetransmitErr says which values could not be read (they stay at the
	// defaults), cut to 160 bytes.
	RetransmitErr string `json:"retransmit_err,omitempty"`
}

// CleanupReq ends everything of a run on an agent (server, client, fault).
type CleanupReq struct {
	// Run is the run to end; an unknown run is not an error, so cleanup can
	// be repeated.
	Run string `json:"run"`
}

// MaxProbeTimes caps ProbesMS to keep the collect response in budget.
const MaxProbeTimes = 16

// Empty is the body of answers that carry nothing.
type Empty struct{}

// NonceLen is the length of a run's greeting nonce: hex of 8 random bytes.
const NonceLen = 16

// CheckNonce refuses a greeting nonce that is not NonceLen lowercase hex
// digits (it is sent on the experiment connection and passed as an argv).
func CheckNonce(n string) error {
	if len(n) != NonceLen {
		return fmt.Errorf("greeting nonce %q: want %d hex digits", n, NonceLen)
	}
	for _, c := range n {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("greeting nonce %q: want %d hex digits", n, NonceLen)
		}
	}
	return nil
}

// MaxRunIDLen bounds a run id; agents refuse longer ids, and ids of
// characters beyond [A-Za-z0-9._-] (they name files and pf anchors).
const MaxRunIDLen = 128
