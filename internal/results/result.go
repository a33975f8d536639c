// Package results is kalab's result schema: the record of one run (its
// hosts, anchors, measurements, fault evidence and outcome), the JSONL file
// that holds them, the vocabulary they are written in (fault kinds,
// expectations, outcomes, errno classes) and the rule that merges files.
// It sits below the packages that write results (experiment) and read
// them (report), so neither needs the other.
package results

import (
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// Schema versions results.jsonl lines.
const Schema = 1

// Host describes an agent as the run saw it.
type Host struct {
	// Name is the agent's serf node name.
	Name string `json:"name"`
	// OS is the agent's GOOS value ("linux", "windows", "darwin"); the
	// server's picks the model.
	OS string `json:"os"`
	// Arch is the agent's GOARCH, from its serf arch tag.
	Arch string `json:"arch,omitempty"`
	// OSVersion is the kernel release on Linux, the macOS version, or
	// major.minor.build on Windows; empty when the OS would not say.
	OSVersion string `json:"os_version,omitempty"`
	// Build is the Windows build number, which decides which keepalive
	// options exist (docs/keepalive-models.md §1); 0 elsewhere.
	Build int `json:"build,omitempty"`
	// Kalab is the agent binary's kalab version, so a result names the
	// build that measured it.
	Kalab string `json:"kalab_version,omitempty"`
	// HZ is the Linux kernel tick rate, the resolution of T0 and of the
	// keepalive timers (docs/linux-lab.md §6); 0 when unknown, always off
	// Linux.
	HZ int `json:"hz,omitempty"`
	// Caps is the agent's comma-separated capability list when the run was
	// planned: the fault kinds it could apply, then "privileged" when it ran
	// elevated.
	Caps string `json:"caps,omitempty"`
	// ClockOffset is agent clock − coordinator clock; ClockBound is its
	// error bound (half the best round trip).
	ClockOffset time.Duration `json:"clock_offset_ns"`
	ClockBound  time.Duration `json:"clock_bound_ns"`
}

// Anchors are the run's instants on the SERVER's clock (the fault instant
// is mapped from the client's clock through both offsets; FaultBound is the
// mapping's error bound). Nil means the anchor does not exist for this run
// (e.g. no ICMP loss when only one flow is dropped).
type Anchors struct {
	// Accept is when the server accepted the client's connection.
	Accept   *time.Time `json:"accept,omitempty"`
	LastPeer *time.Time `json:"last_peer,omitempty"` // T0: TCP_INFO last ACK/data
	// Fault is when the client agent applied the fault, mapped to the
	// server's clock; FaultBound is the error of that mapping, the sum of
	// both agents' clock-offset bounds.
	Fault      *time.Time    `json:"fault,omitempty"`
	FaultBound time.Duration `json:"fault_bound_ns,omitempty"`
	// PingLoss is the first ICMP timeout after the client host's last
	// reply; nil when the host never went silent to ICMP (a flow drop, a
	// pause, a kill) or the server's ICMP monitor did not run.
	PingLoss *time.Time `json:"ping_loss,omitempty"`
	// Probes are the unanswered keepalive probes the server's TCP_INFO
	// poller saw go out (Linux; ±20 ms), for the run's timeline.
	Probes []time.Time `json:"probes,omitempty"`
	// Detection is when the server's blocked Read returned; nil when it
	// had not by the end of the observation.
	Detection *time.Time `json:"detection,omitempty"`
	// Healed is when the client agent removed the fault, mapped to the
	// server's clock like Fault; nil for a kill, which has nothing to heal,
	// and for a run that failed before the heal.
	Healed *time.Time `json:"healed,omitempty"`
	// Write is when the server wrote the data that stayed unacknowledged,
	// on its own clock (the unacked scenario); nil otherwise.
	Write *time.Time `json:"write,omitempty"`
}

// Measured are the derived durations (nil when an anchor is missing).
type Measured struct {
	// FromT0 is Detection − LastPeer, both on the server's clock: no
	// clock mapping, resolution one kernel tick. Judge checks it against
	// the model whenever it exists (Linux, the OS with TCP_INFO).
	FromT0 *time.Duration `json:"from_t0_ns,omitempty"`
	// AfterFault is Detection − Fault, uncertain by Anchors.FaultBound;
	// Judge falls back to it where there is no FromT0.
	AfterFault *time.Duration `json:"after_fault_ns,omitempty"`
	// AfterPingLoss is Detection − PingLoss: what the published Windows
	// measurement timed, from when the client host went silent
	// (docs/keepalive-models.md §8).
	AfterPingLoss *time.Duration `json:"after_ping_loss_ns,omitempty"`
	// Lateness is FromT0 − Model.FromT0.Min: how late the kernel was
	// against the exact model.
	Lateness *time.Duration `json:"lateness_ns,omitempty"`
}

// Result is one line of results.jsonl: everything a report needs about one
// run, written (and fsynced) as soon as the run ends.
type Result struct {
	// Schema is the Schema constant of the kalab that wrote the line; Read
	// refuses any other value rather than misread a line.
	Schema int `json:"schema"`
	// Experiment is the experiment file's name key.
	Experiment string `json:"experiment"`
	// Run is the run's unique id (experiment, the execution's nonce, pair, cell,
	// repetition); Name is what a person reads: fault·settings·server→client·#rep.
	Run  string `json:"run"`
	Name string `json:"name,omitempty"`
	// ExperimentHash is the first 12 hex digits of the SHA-256 of the
	// experiment file's bytes: which exact file the run was planned from.
	// `experiment run --resume` only continues executions of the same hash.
	ExperimentHash string `json:"experiment_hash,omitempty"`
	// Execution is the random nonce of the execution (one `experiment run`)
	// that planned the run, the nonce inside Run; a resumed execution keeps
	// it, so every planned run keeps its id. Empty in results written before
	// kalab recorded it.
	Execution string `json:"execution,omitempty"`
	// Cell is the 1-based index of the run's cell in the experiment's plan;
	// Rep is the 1-based repetition of that cell for the agent pair.
	Cell int `json:"cell"`
	Rep  int `json:"rep"`
	// StartedAt and EndedAt are the run's span on the coordinator's wall
	// clock (not the server's, unlike Anchors).
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
	// Fixture marks results built from the model rather than measured
	// (report test data); reports must label them.
	Fixture bool `json:"fixture,omitempty"`
	// Lab marks a run measured in the Linux network-namespace lab
	// (docs/linux-lab.md) rather than on real hosts; reports keep the two
	// apart.
	Lab bool `json:"lab,omitempty"`

	// Server and Client are the two agents as planned: the one that held
	// the keepalive socket and the one that was silenced.
	Server Host `json:"server"`
	Client Host `json:"client"`

	// Requested is the [[settings]] entry the run asked for.
	Requested keepalive.Settings `json:"requested"`
	// Mode is the cell's keepalive mode (server.mode or the entry's
	// override); in the listener modes Go's accept path or macOS's missing
	// idle inheritance can make Effective differ from Requested.
	Mode keepalive.Mode `json:"mode"`
	// Effective is what the server's kernel applied to the accepted socket,
	// read back with getsockopt (docs/keepalive-models.md §2, §5 explain
	// where it differs from Requested).
	Effective keepalive.Effective `json:"effective"`

	// FaultKind is one of the Kind* names; FaultScope is ScopeFlow or
	// ScopeHost for a drop and empty for every other kind.
	FaultKind  string `json:"fault_kind"`
	FaultScope string `json:"fault_scope,omitempty"`
	// FaultDirection is which way a drop silenced the client: DirectionBoth,
	// DirectionToServer (only the client's packets to the server were
	// dropped) or DirectionToClient (only the server's to the client).
	// Empty for every other kind, and for drops recorded before kalab had
	// directions, which were both ways.
	FaultDirection string `json:"fault_direction,omitempty"`
	// Emulated: a vm-pause played in the lab by a host drop + SIGSTOP.
	Emulated bool `json:"emulated,omitempty"`
	// ClientEnd and ServerEnd are the measured connection's ends as the
	// client saw them (ip:port each): the 4-tuple to find the run in a
	// packet capture. Empty for results from before they were recorded
	// and for runs that failed before the client connected.
	ClientEnd string `json:"client_end,omitempty"`
	ServerEnd string `json:"server_end,omitempty"`
	// FaultHow is the client agent's account of the mechanism it used
	// (nftables rule, WFP filter, pf anchor, signal, hypervisor hook).
	FaultHow string `json:"fault_how,omitempty"`
	// FaultInPackets and FaultOutPackets are the packets the drop rules
	// counted toward the client and from it: the proof that a drop bit.
	// Both 0 when FaultCounted is false; a one-way drop has rules, and so
	// counts, in its own direction only (in for to-client, out for
	// to-server).
	FaultInPackets  uint64 `json:"fault_in_packets"`
	FaultOutPackets uint64 `json:"fault_out_packets"`
	// FaultCounted: the OS counted the drop rules' packets (nftables, pf);
	// false on Windows, whose proof is the server's unanswered probes.
	FaultCounted bool `json:"fault_counted,omitempty"`
	// FaultEvidence is the supporting evidence when there are no counters
	// (the number of WFP drop events for the run's filters) or why the
	// counters could not be read; at most 120 bytes.
	FaultEvidence string `json:"fault_evidence,omitempty"`

	// Hold is how long the fault lasted before the executor healed it
	// (the [[faults]] hold); 0 for a fault held until the observation
	// ended, and for results written before kalab had holds.
	Hold time.Duration `json:"hold_ns,omitempty"`

	// Scenario is what the server's connection did after the fault
	// (keepalive.Scenario): "unacked" (the server wrote, so the
	// retransmission timer decided), "user-timeout" (idle, with the OS's
	// cap on unacknowledged time set) or "heartbeat" (keepalive off, the
	// application's heartbeat decided); empty (omitted) for "idle" and for
	// results written before kalab had scenarios.
	Scenario keepalive.Scenario `json:"scenario,omitempty"`
	// UserTimeout is the user timeout the server was asked to put on the
	// accepted socket (TCP_USER_TIMEOUT, TCP_MAXRT, TCP_RXT_CONNDROPTIME;
	// Effective.UserTimeout has what the OS applied); 0 (omitted) for none.
	UserTimeout time.Duration `json:"user_timeout_ns,omitempty"`
	// Retransmit are the server host's retransmission values the unacked
	// model used (tcp_retries2 and the RTO bounds, TcpMaxDataRetransmissions,
	// …), each with its source: read by the server's agent at the write;
	// nil for the other scenarios and when the agent did not report them
	// (the model then used the OS's stock values and Note says so).
	Retransmit *keepalive.RetransmitLimits `json:"retransmit,omitempty"`
	// RTT is the connection's smoothed round-trip time just before the
	// write (Linux TCP_INFO), from which the unacked model starts its RTO;
	// nil where the server's OS has no TCP_INFO (the model assumes 1 ms).
	RTT *time.Duration `json:"rtt_ns,omitempty"`
	// Target is the real service the run measured instead of kalab's own
	// server (an experiment's [target]); nil for kalab's server.
	Target *Target `json:"target,omitempty"`
	// Heartbeat is the application heartbeat of the heartbeat scenario
	// (Requested is then zero: keepalive was off); nil (omitted) otherwise.
	Heartbeat *keepalive.Heartbeat `json:"heartbeat,omitempty"`
	// Note says what the run's model took on trust or what went wrong
	// without failing the run, e.g. that the retransmission model used stock
	// values because the agent does not report its host's; "; "-separated,
	// empty (omitted) when there is nothing to say.
	Note string `json:"note,omitempty"`

	// Expect is what the fault should lead to: Expect(FaultKind), or for a
	// fault with a hold ExpectSurvives or ExpectDetected as the plan chose
	// from the model.
	Expect Expectation `json:"expect"`
	// Model is the prediction from the options the server really applied
	// (Requested when not all of them could be read back); nil when the
	// model has no rule for the server's OS or those settings, or the run
	// failed before its record was collected.
	Model *keepalive.Prediction `json:"model,omitempty"`

	// Anchors are the run's instants; Measured the durations between them.
	Anchors  Anchors  `json:"anchors"`
	Measured Measured `json:"measured"`

	// Detected is true when the server's blocked Read returned within the
	// observation, whatever the error; ErrnoName says whether keepalive or
	// the peer ended it.
	Detected bool `json:"detected"`
	// Err is the error that ended the connection, cut to 160 bytes; Errno
	// is its OS error number (0 when it carries none) and ErrnoName the
	// symbolic name (ETIMEDOUT, WSAENETRESET, ECONNRESET, …) or "EOF" when
	// the peer closed (docs/keepalive-models.md §3.4).
	Err       string `json:"err,omitempty"`
	Errno     int    `json:"errno,omitempty"`
	ErrnoName string `json:"errno_name,omitempty"`
	// Probes is the unanswered keepalive probe count TCP_INFO showed at
	// detection; nil off Linux.
	Probes *int `json:"probes,omitempty"`
	// PingMode is the ICMP socket the server's monitor used,
	// "unprivileged" or "privileged"; empty when it did not run.
	PingMode string `json:"ping_mode,omitempty"`

	// EchoRTT is the round trip of the echo the server sent on the
	// connection after the heal (ExpectSurvives runs): written by the
	// server, sent back by the client, read by the server. Nil when no echo
	// was tried or it did not come back (EchoErr says why).
	EchoRTT *time.Duration `json:"echo_rtt_ns,omitempty"`
	// EchoErr says why the echo after the heal failed, cut to 160 bytes;
	// empty when it went through or was not tried.
	EchoErr string `json:"echo_err,omitempty"`
	// Survived is true when the connection carried the echo after the
	// heal: it outlived the outage.
	Survived bool `json:"survived,omitempty"`

	// Outcome is one of the Outcome* names; Why is the reason Judge gave
	// for it (empty for a failed run, which has Failure instead).
	Outcome string `json:"outcome"`
	Why     string `json:"why,omitempty"`
	// Failure says why a run could not be carried out.
	Failure string `json:"failure,omitempty"`
}

// Label is how a run is shown to people: its readable name, or its id for
// results written before runs had names.
func (r Result) Label() string {
	if r.Name != "" {
		return r.Name
	}
	return r.Run
}
