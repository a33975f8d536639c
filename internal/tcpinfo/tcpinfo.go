// Package tcpinfo reads the kernel's per-connection TCP state that kalab
// uses as server-local timing anchors: how long ago the peer last sent an
// ACK or data, and how many keepalive probes are unanswered. Linux exposes it
// through TCP_INFO; other OSes return an error wrapping ErrUnsupported.
package tcpinfo

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// ErrUnsupported is wrapped when the OS has no TCP_INFO kalab can use.
var ErrUnsupported = errors.New("not supported")

// Info is a snapshot of one connection. The Last* fields are ages relative
// to At; on Linux they have jiffy resolution (4 ms at HZ=250,
// docs/linux-lab.md §5).
type Info struct {
	// At is the local wall-clock time taken right after the getsockopt
	// returned; the ages below count back from it.
	At time.Time `json:"at"`
	// State is the kernel's TCP state number (tcpi_state, numbered as in
	// include/net/tcp_states.h: 1 is ESTABLISHED).
	State uint8 `json:"state"`
	// LastAckRecv is how long before At the last ACK arrived from the peer
	// (tcpi_last_ack_recv).
	LastAckRecv time.Duration `json:"last_ack_recv"`
	// LastDataRecv is how long before At data last arrived from the peer
	// (tcpi_last_data_recv).
	LastDataRecv time.Duration `json:"last_data_recv"`
	// LastDataSent is how long before At this side last sent data
	// (tcpi_last_data_sent).
	LastDataSent time.Duration `json:"last_data_sent"`
	// Probes is the number of unanswered keepalive probes (icsk_probes_out).
	Probes uint8 `json:"probes"`
	// Retransmits and Backoff are RTO state, not keepalive.
	Retransmits uint8 `json:"retransmits"`
	Backoff     uint8 `json:"backoff"`
	// RTO is the current retransmission timeout and RTT the smoothed round
	// trip (tcpi_rto, tcpi_rtt, kernel µs).
	RTO time.Duration `json:"rto"`
	RTT time.Duration `json:"rtt"`
}

// LastPeerActivity is when the peer was last heard from: the later of the
// last ACK and the last data. Keepalive measures its idle time from here
// (tcp_keepalive_timer: keepalive_time_elapsed).
func (i Info) LastPeerActivity() time.Time {
	return i.At.Add(-min(i.LastAckRecv, i.LastDataRecv))
}

// Get reads TCP_INFO from c.
func Get(c syscall.Conn) (Info, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return Info{}, fmt.Errorf("tcp info: %w", err)
	}
	var info Info
	var gerr error
	if err := rc.Control(func(fd uintptr) { info, gerr = get(fd) }); err != nil {
		return Info{}, fmt.Errorf("tcp info: %w", err)
	}
	if gerr != nil {
		return Info{}, fmt.Errorf("tcp info: %w", gerr)
	}
	return info, nil
}
