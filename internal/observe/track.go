package observe

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/kalab-dev/kalab/internal/tcpinfo"
)

// TCP states as observe names them: Linux's include/net/tcp_states.h
// without the TCP_ prefix. Windows' MIB_TCP_STATE and macOS netstat names
// are mapped onto these, so one tracker serves every OS.
const (
	stEstablished = "ESTABLISHED"
	stSynSent     = "SYN_SENT"
	stSynRecv     = "SYN_RECV"
	stFinWait1    = "FIN_WAIT1"
	stFinWait2    = "FIN_WAIT2"
	stTimeWait    = "TIME_WAIT"
	stClose       = "CLOSE"
	stCloseWait   = "CLOSE_WAIT"
	stLastAck     = "LAST_ACK"
	stListen      = "LISTEN"
	stClosing     = "CLOSING"
)

// heldState says whether the target still holds the socket's descriptor
// after the socket left the table.
type heldState int

const (
	heldUnknown heldState = iota
	heldYes
	heldNo
)

// sample is one poll of the connection's row in the socket table.
type sample struct {
	// At is when the read returned.
	At time.Time
	// Present is false when the table had no such connection.
	Present bool
	// State is the row's TCP state (the st* names).
	State string
	// Timer is the row's timer (Timer*), "" where the OS has none.
	Timer string
	// Info is the row's tcp_info (Linux sock_diag); nil elsewhere or in
	// TIME_WAIT, where the kernel sends none.
	Info *tcpinfo.Info
	// PID and Name are the owner as the table names it (Windows, macOS);
	// Inode is the socket's inode (Linux), for finding the owner.
	PID   int
	Name  string
	Inode uint32
	// Held is filled by the poller for a sample that is not Present.
	Held heldState
}

// tracker folds successive samples into a Record. It is pure (no clock,
// no I/O) so that every ending can be tested from synthetic samples.
// T0 and the probe instants fold as for kalab's own server
// (tcpinfo.Tracker), over samples from the socket table.
type tracker struct {
	t0 *tcpinfo.Tracker

	found     bool
	firstSeen time.Time
	last      *sample // the last sample that saw ESTABLISHED

	// moved is what the last add moved (T0, new unanswered probes), for
	// the live events.
	moved tcpinfo.Moved

	ended  bool
	detect *time.Time
	state  string
	how    string
	notes  []string
}

func newTracker(hz int) *tracker { return &tracker{t0: tcpinfo.NewTracker(hz)} }

// preEstablished states come before the connection is usable: the
// observer keeps waiting through them (LISTEN only appears when a lookup
// falls back to the listener, which is not the connection).
func preEstablished(st string) bool {
	return st == stSynSent || st == stSynRecv || st == stListen
}

// add takes one sample and reports whether the connection has ended.
func (t *tracker) add(s sample) bool {
	t.moved = tcpinfo.Moved{}
	if t.ended {
		return true
	}
	if !s.Present || preEstablished(s.State) {
		if !t.found {
			return false // not there yet
		}
		if s.Present {
			s.Present, s.State = false, "" // a listener row is not the connection
		}
	}
	if s.Present && s.State == stEstablished {
		if !t.found {
			t.found, t.firstSeen = true, s.At
		}
		t.addInfo(s)
		c := s
		t.last = &c
		return false
	}
	t.ended = true
	if !t.found {
		// Already over when first seen: the state says how, not when.
		t.found, t.firstSeen = true, s.At
		t.state = s.State
		t.how, _ = classify(nil, s)
		t.notes = append(t.notes, fmt.Sprintf("the connection was first seen already in %s: no detection instant", s.State))
		return true
	}
	d := s.At
	t.detect = &d
	t.state = s.State
	var note string
	t.how, note = classify(t.last, s)
	if note != "" {
		t.notes = append(t.notes, note)
	}
	return true
}

// addInfo updates T0 and the probe instants from one ESTABLISHED sample.
func (t *tracker) addInfo(s sample) {
	if s.Info != nil {
		t.moved = t.t0.Add(*s.Info)
	}
}

// classify tells how the connection ended from the last ESTABLISHED sample
// (nil if none) and the first one after it; the note explains a "gone".
func classify(last *sample, s sample) (string, string) {
	if s.Present {
		switch s.State {
		case stFinWait1, stFinWait2, stClosing, stTimeWait:
			return EndedClosedByTarget, ""
		case stCloseWait, stLastAck:
			return EndedClosedByPeer, ""
		}
		// CLOSE: the kernel is done with it; as good as gone.
	}
	if last != nil && last.Info != nil {
		i := last.Info
		switch {
		case i.Probes > 0 && last.Timer == TimerProbe0:
			return EndedGone, fmt.Sprintf("%d zero-window probes were unanswered when the socket went", i.Probes)
		case i.Probes > 0:
			return EndedKeepaliveTimeout, ""
		case i.Retransmits > 0 || i.Backoff > 0:
			return EndedRetransmitTimeout, ""
		}
	}
	switch s.Held {
	case heldYes:
		return EndedResetByPeer, ""
	case heldNo:
		return EndedGone, "the target had closed its descriptor too: an abortive close by the target or a reset it reacted to cannot be told apart"
	}
	if last != nil && last.Info == nil {
		return EndedGone, "this OS's socket table has no timers or probe counts to tell why"
	}
	return EndedGone, ""
}

// record is the tracker's part of the Record (no owner or options).
func (t *tracker) record() Record {
	r := Record{Found: t.found, FirstSeen: t.firstSeen, Ended: t.how, State: t.state, Detect: t.detect}
	if t.last != nil {
		ls := t.last.At
		r.LastSeen = &ls
		r.Timer = t.last.Timer
		if t.last.Info != nil {
			p := int(t.last.Info.Probes)
			r.Probes = &p
			r.ProbeTimes = t.t0.ProbeTimes()
		}
	}
	if b, ok := t.t0.T0(); ok {
		r.LastPeer = &b
	}
	return r
}

// sameConn reports whether a row's endpoints are the configured ones,
// treating IPv4-mapped IPv6 as IPv4 (a dual-stack socket holding an IPv4
// connection).
func sameConn(cfgLocal, cfgRemote, local, remote netip.AddrPort) bool {
	eq := func(a, b netip.AddrPort) bool {
		return a.Port() == b.Port() && a.Addr().Unmap().WithZone("") == b.Addr().Unmap().WithZone("")
	}
	return eq(cfgLocal, local) && eq(cfgRemote, remote)
}
