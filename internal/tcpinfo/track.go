package tcpinfo

import (
	"fmt"
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

// Moved is what one sample changed, for a live timeline: kalab's server
// role and the observer report the same moves as the same events.
type Moved struct {
	// Peer is the new T0 when it moved forward: new activity from the
	// peer (zero otherwise: none, or only a finer estimate of the same).
	Peer time.Time
	// PeerData is true when that activity was data, not only an ACK.
	PeerData bool
	// Probes are the instants given to the unanswered probes first seen
	// in this sample, numbered from First (1 = the first of the cycle).
	Probes []time.Time
	First  int
}

// Add folds in one sample and says what it moved.
func (t *Tracker) Add(i Info) Moved {
	var m Moved
	est := i.LastPeerActivity()
	if !t.ok || est.Before(t.best) || est.Sub(t.best) > 3*t.jiffy {
		if !t.ok || est.After(t.best) {
			m.Peer, m.PeerData = est, i.LastDataRecv <= i.LastAckRecv
		}
		t.best, t.ok = est, true
	}
	switch {
	case i.Probes == 0:
		t.probes = nil // answered: a new cycle
	case int(i.Probes) > len(t.probes):
		m.First = len(t.probes) + 1
		for range int(i.Probes) - len(t.probes) {
			t.probes = append(t.probes, i.At) // seen at this sample: late by up to the sampling period
		}
		m.Probes = slices.Clone(t.probes[m.First-1:])
	}
	return m
}

// Report tells what m moved, in the words both the server role and the
// observer use on the timeline: peer for new activity from the client,
// probe for each newly unanswered keepalive probe (n from 1).
func (m Moved) Report(peer func(at time.Time, text string), probe func(at time.Time, text string, n int)) {
	if !m.Peer.IsZero() {
		what := "ACK"
		if m.PeerData {
			what = "data"
		}
		peer(m.Peer, "last "+what+" from the client")
	}
	for k, at := range m.Probes {
		n := m.First + k
		probe(at, fmt.Sprintf("keepalive probe %d sent, no answer yet", n), n)
	}
}

// T0 is the best estimate of the peer's last activity; ok is false before
// any sample.
func (t *Tracker) T0() (time.Time, bool) { return t.best, t.ok }

// ProbeTimes are when the unanswered-probe counter was seen to rise, one
// per probe of the current cycle.
func (t *Tracker) ProbeTimes() []time.Time { return slices.Clone(t.probes) }
