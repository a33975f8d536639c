package role

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// heartbeatPayload is one heartbeat: a single byte, so that every write is
// one segment and the client's echo of it one answer.
var heartbeatPayload = []byte{'h'}

// errHeartbeatTimeout is what the server's Read ends with when the
// heartbeat's deadline passed without an answer.
var errHeartbeatTimeout = errors.New("heartbeat timeout")

// heartbeat is the application-level liveness check of the heartbeat
// scenario, done the way applications do it: a ticker writes a heartbeat
// every period and the read deadline, pushed Misses × Period ahead by every
// answer, declares the peer dead. The deadline is the connection's own
// (SetReadDeadline), so the blocked Read returns at that instant, not at
// the next tick.
type heartbeat struct {
	cfg  keepalive.Heartbeat
	quit chan struct{}
	done chan struct{}
	once sync.Once

	mu         sync.Mutex
	lastAnswer time.Time
}

// startHeartbeat arms the deadline from now (the greeting went out, its
// ACK counts as the first sign of life) and starts the ticker.
func startHeartbeat(conn *net.TCPConn, cfg keepalive.Heartbeat) *heartbeat {
	h := &heartbeat{cfg: cfg, quit: make(chan struct{}), done: make(chan struct{})}
	_ = conn.SetReadDeadline(time.Now().Add(cfg.Deadline()))
	go h.send(conn)
	return h
}

// send writes a heartbeat every period until stop. A write that fails
// (the connection ended) ends it; a write that would block is not waited
// for: with the peer silent the heartbeats pile up unacknowledged in the
// send buffer, which holds far more than a run sends.
func (h *heartbeat) send(conn *net.TCPConn) {
	defer close(h.done)
	tick := time.NewTicker(h.cfg.Period)
	defer tick.Stop()
	for {
		select {
		case <-h.quit:
			return
		case <-tick.C:
			_ = conn.SetWriteDeadline(time.Now().Add(h.cfg.Period))
			if _, err := conn.Write(heartbeatPayload); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
		}
	}
}

// answered records an answer and pushes the deadline Misses × Period
// ahead of it.
func (h *heartbeat) answered(conn *net.TCPConn) {
	now := time.Now()
	h.mu.Lock()
	h.lastAnswer = now
	h.mu.Unlock()
	_ = conn.SetReadDeadline(now.Add(h.cfg.Deadline()))
}

// verdict turns the error that ended Read into the heartbeat's: the
// deadline passing is the heartbeat timeout; anything else (the peer
// closed, a reset) stands.
func (h *heartbeat) verdict(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: no answer for %s (%s)", errHeartbeatTimeout, keepalive.ShortDuration(h.cfg.Deadline()), h.cfg.Short())
	}
	return err
}

// last is when the last answer was read; zero if none came.
func (h *heartbeat) last() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastAnswer
}

// stop ends the ticker and waits for it; safe to call twice.
func (h *heartbeat) stop() {
	h.once.Do(func() { close(h.quit) })
	<-h.done
}
