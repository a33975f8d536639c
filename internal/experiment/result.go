package experiment

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// ResultSchema versions results.jsonl lines.
const ResultSchema = 1

// Outcomes of a run.
const (
	OutcomePass        = "pass"        // behaved as the expectation says
	OutcomeDeviation   = "deviation"   // measured, but not as expected
	OutcomeFailed      = "failed"      // the run could not be carried out (Failure says why)
	OutcomeUnconfirmed = "unconfirmed" // the fault could not be shown to bite
)

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
	Schema     int       `json:"schema"`
	Experiment string    `json:"experiment"`
	Run        string    `json:"run"`
	Cell       int       `json:"cell"`
	Rep        int       `json:"rep"`
	StartedAt  time.Time `json:"started_at"`
	EndedAt    time.Time `json:"ended_at"`
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

// Store appends results to a JSONL file, one fsynced line per run, so an
// interrupted experiment loses nothing that finished.
type Store struct {
	mu sync.Mutex
	f  *os.File
}

// OpenStore opens (creating or appending to) path.
func OpenStore(path string) (*Store, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open results: %w", err)
	}
	return &Store{f: f}, nil
}

// Append writes one result and fsyncs.
func (s *Store) Append(r Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode result %s: %w", r.Run, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("append result %s: %w", r.Run, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sync results: %w", err)
	}
	return nil
}

// Close closes the file.
func (s *Store) Close() error { return s.f.Close() }

// ReadResults reads a results.jsonl file; a bad line is an error naming it.
func ReadResults(path string) ([]Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	defer f.Close()
	var out []Result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var r Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if r.Schema != ResultSchema {
			return nil, fmt.Errorf("%s:%d: result schema %d, this kalab reads %d", path, n, r.Schema, ResultSchema)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}
