package wire

// Times on the wire are Unix nanoseconds on the sender's clock; durations
// are milliseconds unless the name says otherwise. Optional values are
// pointers: nil means "unknown" (the OS could not say), never zero.

// Keepalive settings as sent to the server.
type Keepalive struct {
	IdleMS     int64 `json:"idle_ms"`
	IntervalMS int64 `json:"interval_ms"`
	Count      int   `json:"count"`
}

// StatusReq asks an agent for its clock and facts (also used for the
// clock-offset estimate: the coordinator times the round trip).
type StatusReq struct{}

// StatusResp answers StatusReq.
type StatusResp struct {
	Name    string `json:"name"`
	NowNS   int64  `json:"now_ns"`
	OS      string `json:"os"`
	Version string `json:"os_version"`
	Build   int    `json:"build,omitempty"`
	HZ      int    `json:"hz,omitempty"`
	Caps    string `json:"caps"`
	Kalab   string `json:"kalab_version"`
	Active  int    `json:"active_runs"`
}

// PrepareServerReq starts the server role for a run: listen, accept one
// client, greet, block in Read; watch the client's host with ICMP.
type PrepareServerReq struct {
	Run       string    `json:"run"`
	Keepalive Keepalive `json:"ka"`
	Mode      string    `json:"mode"`
	// ClientAddr is the client host's address, for ICMP and to accept only it.
	ClientAddr string `json:"client_addr"`
	// TTLMS bounds the whole role: the server gives up and records it.
	TTLMS int64 `json:"ttl_ms"`
}

// PrepareServerResp tells where the server listens.
type PrepareServerResp struct {
	Addr string `json:"addr"`
}

// PrepareClientReq starts the client role (a child process of the agent).
type PrepareClientReq struct {
	Run        string `json:"run"`
	ServerAddr string `json:"server_addr"`
	TTLMS      int64  `json:"ttl_ms"`
}

// PrepareClientResp is the client's side of the connection.
type PrepareClientResp struct {
	Local  string `json:"local"`
	Remote string `json:"remote"`
	PID    int    `json:"pid"`
}

// FaultReq applies a fault to the run's client. Kind and scope are checked
// against a fixed list; vm-pause runs only the agent's locally configured
// hypervisor hook.
type FaultReq struct {
	Run   string `json:"run"`
	Kind  string `json:"kind"`
	Scope string `json:"scope,omitempty"`
	TTLMS int64  `json:"ttl_ms"`
}

// FaultResp says when the fault took effect (agent clock) and how.
type FaultResp struct {
	AtNS     int64  `json:"at_ns"`
	Emulated bool   `json:"emulated,omitempty"`
	How      string `json:"how"`
}

// HealReq removes the run's fault.
type HealReq struct {
	Run string `json:"run"`
}

// HealResp reports the fault's proof counters at heal time.
type HealResp struct {
	AtNS       int64  `json:"at_ns"`
	InPackets  uint64 `json:"in_pkts"`
	OutPackets uint64 `json:"out_pkts"`
	ByDeadman  bool   `json:"by_deadman,omitempty"`
	// Counted is false where the OS keeps no rule counters (WFP); Evidence
	// says what there is instead.
	Counted  bool   `json:"counted,omitempty"`
	Evidence string `json:"evidence,omitempty"`
}

// CollectReq asks the server for the run's record.
type CollectReq struct {
	Run string `json:"run"`
}

// Options are keepalive options read back from the accepted socket.
type Options struct {
	Enabled       *bool  `json:"on,omitempty"`
	IdleMS        *int64 `json:"idle_ms,omitempty"`
	IntervalMS    *int64 `json:"intvl_ms,omitempty"`
	Count         *int   `json:"cnt,omitempty"`
	UserTimeoutMS *int64 `json:"uto_ms,omitempty"`
}

// CollectResp is the server's record; Done is false while Read is still
// blocked.
type CollectResp struct {
	Done     bool    `json:"done"`
	AcceptNS int64   `json:"accept_ns"`
	Options  Options `json:"opts"`
	// LastPeerNS is the last peer activity (TCP_INFO) at detection; nil when
	// the OS has no TCP_INFO.
	LastPeerNS *int64 `json:"last_peer_ns,omitempty"`
	// PingLossNS is the first ICMP timeout after the last reply; nil when the
	// client host never went silent to ICMP.
	PingLossNS *int64 `json:"ping_loss_ns,omitempty"`
	PingMode   string `json:"ping_mode,omitempty"`
	// DetectNS is when the blocked Read returned.
	DetectNS  *int64 `json:"detect_ns,omitempty"`
	Err       string `json:"err,omitempty"`
	Errno     int    `json:"errno,omitempty"`
	ErrnoName string `json:"errno_name,omitempty"`
	// Probes is the unanswered probe count at detection (Linux TCP_INFO).
	Probes *int `json:"probes,omitempty"`
	// ProbesMS are the unanswered probes' instants in ms after LastPeerNS
	// (at most MaxProbeTimes).
	ProbesMS []int64 `json:"probes_ms,omitempty"`
	HZ       int     `json:"hz,omitempty"`
	Note     string  `json:"note,omitempty"`
}

// CleanupReq ends everything of a run on an agent (server, client, fault).
type CleanupReq struct {
	Run string `json:"run"`
}

// MaxProbeTimes caps ProbesMS to keep the collect response in budget.
const MaxProbeTimes = 16

// Empty is the body of answers that carry nothing.
type Empty struct{}
