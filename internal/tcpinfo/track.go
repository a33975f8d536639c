package tcpinfo

import (
	"slices"
	"time"
)

// Tracker folds successive TCP_INFO samples of one connection into its
// last peer activity (T0) and the instants its unanswered keepalive probes
// went out. Ages are whole jiffies rounded down, so each sample's At − age
// lies at or up to a jiffy (more when a NOHZ CPU updates jiffies late)
// after the true instant: the earliest estimate since the peer's last
// activity is the best, and a later estimate by more than the rounding
// means new activity. kalab's server role samples its own socket, the
// observer a service's socket from the socket table; both fold the same
// way. Not safe for concurrent use.
type Tracker struct {
	jiffy  time.Duration
	best   time.Time
	ok     bool
	probes []time.Time
}

// NewTracker returns a tracker for a kernel ticking at hz (0 = unknown:
// 10 ms, the coarsest common tick, so rounding is never taken for
// activity).
func NewTracker(hz int) *Tracker { return &Tracker{jiffy: Jiffy(hz)} }

// Jiffy is one kernel tick at hz; 10 ms (HZ=100) when hz is unknown.
func Jiffy(hz int) time.Duration {
	if hz <= 0 {
		return 10 * time.Millisecond
	}
	return time.Second / time.Duration(hz)
}

// Add folds in one sample.
func (t *Tracker) Add(i Info) {
	est := i.LastPeerActivity()
	if !t.ok || est.Before(t.best) || est.Sub(t.best) > 3*t.jiffy {
		t.best, t.ok = est, true
	}
	switch {
	case i.Probes == 0:
		t.probes = nil // answered: a new cycle
	case int(i.Probes) > len(t.probes):
		for range int(i.Probes) - len(t.probes) {
			t.probes = append(t.probes, i.At) // seen at this sample: late by up to the sampling period
		}
	}
}

// T0 is the best estimate of the peer's last activity; ok is false before
// any sample.
func (t *Tracker) T0() (time.Time, bool) { return t.best, t.ok }

// ProbeTimes are when the unanswered-probe counter was seen to rise, one
// per probe of the current cycle.
func (t *Tracker) ProbeTimes() []time.Time { return slices.Clone(t.probes) }
