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
	Name      string `json:"name"`
	OS        string `json:"os"`
	Arch      string `json:"arch,omitempty"`
	OSVersion string `json:"os_version,omitempty"`
	Build     int    `json:"build,omitempty"`
	Kalab     string `json:"kalab_version,omitempty"`
	HZ        int    `json:"hz,omitempty"`
	Caps      string `json:"caps,omitempty"`
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
	Accept     *time.Time    `json:"accept,omitempty"`
	LastPeer   *time.Time    `json:"last_peer,omitempty"` // T0: TCP_INFO last ACK/data
	Fault      *time.Time    `json:"fault,omitempty"`
	FaultBound time.Duration `json:"fault_bound_ns,omitempty"`
	PingLoss   *time.Time    `json:"ping_loss,omitempty"`
	// Probes are the unanswered keepalive probes the server's TCP_INFO
	// poller saw go out (Linux; ±20 ms), for the run's timeline.
	Probes    []time.Time `json:"probes,omitempty"`
	Detection *time.Time  `json:"detection,omitempty"`
	Healed    *time.Time  `json:"healed,omitempty"`
}

// Measured are the derived durations (nil when an anchor is missing).
type Measured struct {
	FromT0        *time.Duration `json:"from_t0_ns,omitempty"`
	AfterFault    *time.Duration `json:"after_fault_ns,omitempty"`
	AfterPingLoss *time.Duration `json:"after_ping_loss_ns,omitempty"`
	// Lateness is FromT0 − Model.FromT0.Min: how late the kernel was
	// against the exact model.
	Lateness *time.Duration `json:"lateness_ns,omitempty"`
}

// Result is one line of results.jsonl: everything a report needs about one
// run, written (and fsynced) as soon as the run ends.
type Result struct {
	Schema     int    `json:"schema"`
	Experiment string `json:"experiment"`
	// Run is the run's unique id (experiment, config hash, pair, cell,
	// repetition); Name is what a person reads: fault·settings·server→client·#rep.
	Run       string    `json:"run"`
	Name      string    `json:"name,omitempty"`
	Cell      int       `json:"cell"`
	Rep       int       `json:"rep"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
	// Fixture marks results built from the model rather than measured
	// (report test data); reports must label them.
	Fixture bool `json:"fixture,omitempty"`
	Lab     bool `json:"lab,omitempty"`

	Server Host `json:"server"`
	Client Host `json:"client"`

	Requested keepalive.Settings  `json:"requested"`
	Mode      keepalive.Mode      `json:"mode"`
	Effective keepalive.Effective `json:"effective"`

	FaultKind  string `json:"fault_kind"`
	FaultScope string `json:"fault_scope,omitempty"`
	// Emulated: a vm-pause played in the lab by a host drop + SIGSTOP.
	Emulated bool   `json:"emulated,omitempty"`
	FaultHow string `json:"fault_how,omitempty"`
	// FaultProof: packets the drop rules counted (in = toward the client).
	FaultInPackets  uint64 `json:"fault_in_packets"`
	FaultOutPackets uint64 `json:"fault_out_packets"`
	// FaultCounted: the OS counted the drop rules' packets (nftables, pf);
	// false on Windows, whose proof is the server's unanswered probes.
	FaultCounted  bool   `json:"fault_counted,omitempty"`
	FaultEvidence string `json:"fault_evidence,omitempty"`

	Expect Expectation           `json:"expect"`
	Model  *keepalive.Prediction `json:"model,omitempty"`

	Anchors  Anchors  `json:"anchors"`
	Measured Measured `json:"measured"`

	Detected  bool   `json:"detected"`
	Err       string `json:"err,omitempty"`
	Errno     int    `json:"errno,omitempty"`
	ErrnoName string `json:"errno_name,omitempty"`
	Probes    *int   `json:"probes,omitempty"`
	PingMode  string `json:"ping_mode,omitempty"`

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
