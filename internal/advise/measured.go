package advise

import (
	"fmt"
	"slices"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// ResultsRead describes the results.jsonl files a comparison read.
type ResultsRead struct {
	// Files are the files, in the order given (a run in two files is taken
	// from the first, as results.Merge does).
	Files []string `json:"files"`
	// Runs is how many distinct runs they hold.
	Runs int `json:"runs"`
	// Warnings are torn last lines that were skipped and runs repeated
	// across files, one sentence each.
	Warnings []string `json:"warnings,omitempty"`
}

// Measured summarizes the runs that match one OSModel: the same server OS
// (and, on Windows, the same side of builds 15063 and 16299), the same
// requested settings and mode, on Linux the same TCP_USER_TIMEOUT, and a
// fault that silences the peer (drop or vm-pause, whose expectation is a
// detection in the window). Failed, interrupted and unconfirmed runs are
// left out.
type Measured struct {
	// Runs is how many matching runs were counted, Other of them not ended
	// by keepalive; 0 means "no runs".
	Runs int `json:"runs"`
	// AfterFault is detection − fault over the runs keepalive ended
	// (ETIMEDOUT, WSAETIMEDOUT, WSAENETRESET); absent when none.
	AfterFault *Stat `json:"after_fault,omitempty"`
	// FromT0 is detection − the last ACK, where the run recorded it (Linux's
	// TCP_INFO); absent when no run did.
	FromT0 *Stat `json:"from_t0,omitempty"`
	// Other counts matching runs that keepalive did not end: not detected
	// within the observation, or ended by another error.
	Other int `json:"other"`
	// Fixture is true when no measured run matched and the figures come
	// from fixture results (built from the model, not measured: report
	// test data); such runs are never mixed with measured ones.
	Fixture bool `json:"fixture,omitempty"`
	// HZ are the distinct Linux tick rates of the counted runs' servers,
	// to compare with the model's Query.HZ; empty off Linux.
	HZ []int `json:"hz,omitempty"`
}

// Stat is a summary of measured durations.
type Stat struct {
	// N is the number of runs the statistic is over.
	N int `json:"n"`
	// Median is the middle value (the mean of the two middle ones for an
	// even N); Min and Max are the extremes.
	Median time.Duration `json:"median_ns"`
	Min    time.Duration `json:"min_ns"`
	Max    time.Duration `json:"max_ns"`
}

// ReadResults merges files with results.Merge and describes what it read.
func ReadResults(files []string) ([]results.Result, *ResultsRead, error) {
	m, err := results.Merge(files)
	if err != nil {
		return nil, nil, fmt.Errorf("--results: %w", err)
	}
	rr := &ResultsRead{Files: files, Runs: len(m.Results), Warnings: m.Warnings}
	for _, d := range m.Duplicates {
		rr.Warnings = append(rr.Warnings, fmt.Sprintf("%d runs of %s were already read from an earlier file; kept the earlier ones", len(d.Runs), d.File))
	}
	return m.Results, rr, nil
}

// Compare sets Measured on each OSModel from rs.
func Compare(q Query, oses []OSModel, rs []results.Result) {
	for i := range oses {
		oses[i].Measured = measure(q, oses[i], rs)
	}
}

// CompareModel and CompareAdvice attach a comparison to a whole answer.
func CompareModel(m *Model, rs []results.Result, rr *ResultsRead) {
	m.Results = rr
	Compare(m.Query, m.OSes, rs)
}

// CompareAdvice is CompareModel for every suggestion (and Tightest).
func CompareAdvice(a *Advice, rs []results.Result, rr *ResultsRead) {
	a.Results = rr
	for i := range a.Suggestions {
		Compare(a.Query, a.Suggestions[i].OSes, rs)
	}
	if a.Tightest != nil {
		Compare(a.Query, a.Tightest.OSes, rs)
	}
}

// windowsClass groups Windows builds by the keepalive options they have
// (docs/keepalive-models.md §1); 0 (unknown) counts as the newest.
func windowsClass(build int) int {
	switch {
	case build == 0 || build >= keepalive.WindowsBuildKeepIdle:
		return 2
	case build >= keepalive.WindowsBuildKeepCnt:
		return 1
	}
	return 0
}

// matches says whether r is a run of m's OS, settings and mode.
func matches(q Query, m OSModel, r results.Result) bool {
	mode := r.Mode
	if mode == "" {
		mode = keepalive.ModeListener
	}
	switch {
	case r.Server.OS != m.Platform.OS, r.Requested != m.Requested, mode != q.Mode:
		return false
	case r.Server.OS == "windows" && windowsClass(r.Server.Build) != windowsClass(m.Platform.Build):
		return false
	case r.Server.OS == "linux" && userTimeout(r) != q.UserTimeout:
		return false
	case r.Expect != results.ExpectDetected:
		return false
	case r.Scenario == keepalive.ScenarioUnacked:
		return false // the retransmission timer decided, not keepalive
	}
	switch r.Outcome {
	case results.OutcomeFailed, results.OutcomeInterrupted, results.OutcomeUnconfirmed:
		return false
	}
	return true
}

// userTimeout is the TCP_USER_TIMEOUT the run's socket had (0 when unset
// or unread).
func userTimeout(r results.Result) time.Duration {
	if r.Effective.UserTimeout.Known {
		return r.Effective.UserTimeout.Value
	}
	return 0
}

// measure summarizes the runs matching m, measured ones first.
func measure(q Query, m OSModel, rs []results.Result) *Measured {
	var real, fixture []results.Result
	for _, r := range rs {
		if !matches(q, m, r) {
			continue
		}
		if r.Fixture {
			fixture = append(fixture, r)
		} else {
			real = append(real, r)
		}
	}
	use, out := real, &Measured{}
	if len(real) == 0 && len(fixture) > 0 {
		use, out.Fixture = fixture, true
	}
	var after, t0 []time.Duration
	for _, r := range use {
		out.Runs++
		if !r.Detected || !results.IsKeepaliveDetection(r.ErrnoName) {
			out.Other++
			continue
		}
		if r.Measured.AfterFault != nil {
			after = append(after, *r.Measured.AfterFault)
		}
		if r.Measured.FromT0 != nil {
			t0 = append(t0, *r.Measured.FromT0)
		}
		if r.Server.OS == "linux" && r.Server.HZ > 0 && !slices.Contains(out.HZ, r.Server.HZ) {
			out.HZ = append(out.HZ, r.Server.HZ)
		}
	}
	out.AfterFault, out.FromT0 = stat(after), stat(t0)
	slices.Sort(out.HZ)
	return out
}

// stat summarizes ds; nil when empty.
func stat(ds []time.Duration) *Stat {
	if len(ds) == 0 {
		return nil
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	n := len(ds)
	med := ds[n/2]
	if n%2 == 0 {
		med = ds[n/2-1] + (ds[n/2]-ds[n/2-1])/2
	}
	return &Stat{N: n, Median: med, Min: ds[0], Max: ds[n-1]}
}
