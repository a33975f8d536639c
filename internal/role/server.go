// Package role plays the two sides of a keepalive experiment. The server
// listens with keepalive (listener or per-connection mode), accepts the
// client, sends the 4-byte greeting, blocks in Read and records every timing
// anchor the OS allows; after a fault with a hold has healed, Echo proves
// the connection survived. The client connects, reads the greeting and
// holds, sending back only what the server sends it; it runs in a child
// process of the agent so that pausing or killing it never touches the
// agent.
package role

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/probe"
	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/tcpinfo"
	"github.com/kalab-dev/kalab/internal/wire"
)

// Greeting starts what the server writes after accept, followed by the
// run's nonce; the client checks both before it reports the connection
// ready, so data has crossed both ways and the client is sure it reached
// this run's kalab server (not some other service at that address).
var Greeting = []byte("kalb")

// ServerConfig describes one server role.
type ServerConfig struct {
	// Run is the run id, used in errors.
	Run string
	// Nonce follows the greeting (wire.CheckNonce).
	Nonce string
	// Settings are the keepalive options for the accepted connection;
	// StartServer fails if this host's platform cannot take them.
	Settings keepalive.Settings
	// Mode is where the options go: on the listener, for the accepted
	// socket to inherit (with or without Go's accept-path defaults on top),
	// or on the accepted socket itself.
	Mode keepalive.Mode
	// ListenIP is the address to listen on (port chosen by the OS).
	ListenIP netip.Addr
	// Client is the only peer accepted, and the ICMP monitor's target.
	Client netip.Addr
	// TTL ends the role (Read gives up) if nothing happened by then.
	TTL time.Duration
	// PingInterval for the ICMP monitor; 0 = 20 ms.
	PingInterval time.Duration
	// HZ is the host's kernel tick rate, recorded for the model.
	HZ int
	// UserTimeout, when > 0, is put on the accepted socket as the OS's cap
	// on unacknowledged time (keepalive.SetUserTimeout) before the options
	// are read back; a failure goes to the record's Note.
	UserTimeout time.Duration
	// Heartbeat, when set, runs the heartbeat scenario: keepalive is off
	// (Settings and Mode are ignored), the server writes a heartbeat every
	// Heartbeat.Period from the greeting on, the client sends each one
	// back, and the server declares the client dead (ErrnoName
	// results.HeartbeatTimeout) once Heartbeat.Deadline passes without an
	// answer.
	Heartbeat keepalive.Heartbeat
	// Events, when set, is told each event of the run as it happens
	// (EventFunc): accept, options, greeting, the client's signs of life
	// and unanswered probes (TCP_INFO), ICMP loss and return, echoes, and
	// last the detection or the role's end. Optional.
	Events EventFunc
}

// Record is the server's account of the run.
type Record struct {
	// Done is true once the role has ended: detection, TTL, Close, or a
	// failed accept.
	Done bool
	// Accept is when the client's connection was accepted; zero until then.
	Accept time.Time
	// Effective is what the kernel applied to the accepted socket, read back
	// right after accept; a read-back error goes to Note.
	Effective keepalive.Effective
	// LastPeer is T0: the last ACK or data from the peer (TCP_INFO) read
	// right after detection; nil where the OS has no TCP_INFO. With a
	// heartbeat it is the last answer the server read, on every OS.
	LastPeer *time.Time
	// Probes is the unanswered keepalive probe count (TCP_INFO) at
	// detection; nil where the OS has no TCP_INFO.
	Probes *int
	// ProbeTimes are when the poller saw the unanswered-probe counter rise
	// (Linux TCP_INFO, ±20 ms): one per keepalive probe the peer ignored.
	ProbeTimes []time.Time
	// PingLoss is the first ICMP timeout after the last reply; nil if the
	// client host kept answering ICMP (flow-only faults).
	PingLoss *time.Time
	// PingMode is which ICMP socket the monitor used (probe.ModePrivileged
	// or probe.ModeUnprivileged); empty when the monitor did not run.
	PingMode string
	// Detect is when the blocked Read returned (or writing the greeting
	// failed); nil when the role ended without one (TTL, Close, failed
	// accept).
	Detect *time.Time
	// Err is the error that ended the connection; Errno is its OS error number (0
	// when it carries none) and ErrnoName its name (ETIMEDOUT,
	// WSAECONNRESET, …), or "EOF" when the peer closed.
	Err       string
	Errno     int
	ErrnoName string
	// HZ is ServerConfig.HZ, copied so the record stands alone.
	HZ int
	// Note collects what went wrong or was unavailable (accept, option
	// read-back, ICMP monitor, no detection), "; "-separated.
	Note string
}

// Server is a running server role.
type Server struct {
	cfg    ServerConfig
	ln     *keepalive.Listener
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	rec  Record
	conn *net.TCPConn

	// echoMu allows one Echo at a time; echoIn carries what the read loop
	// receives to it (the client sends only echoes back).
	echoMu sync.Mutex
	echoIn chan []byte
}

// StartServer listens and serves one client in the background.
func StartServer(ctx context.Context, cfg ServerConfig) (*Server, error) {
	if cfg.Heartbeat.IsZero() {
		if err := cfg.Settings.Validate(keepalive.LocalPlatform()); err != nil {
			return nil, fmt.Errorf("server role %s: %w", cfg.Run, err)
		}
	} else if err := cfg.Heartbeat.Validate(); err != nil {
		return nil, fmt.Errorf("server role %s: %w", cfg.Run, err)
	}
	if err := wire.CheckNonce(cfg.Nonce); err != nil {
		return nil, fmt.Errorf("server role %s: %w", cfg.Run, err)
	}
	if cfg.TTL <= 0 {
		return nil, fmt.Errorf("server role %s: ttl %s must be positive", cfg.Run, cfg.TTL)
	}
	addr := netip.AddrPortFrom(cfg.ListenIP, 0).String()
	var ln *keepalive.Listener
	var err error
	if cfg.Heartbeat.IsZero() {
		ln, err = keepalive.Listen(ctx, "tcp", addr, cfg.Settings, cfg.Mode)
	} else {
		ln, err = keepalive.ListenOff(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("server role %s: %w", cfg.Run, err)
	}
	rctx, cancel := context.WithTimeout(context.Background(), cfg.TTL)
	s := &Server{cfg: cfg, ln: ln, cancel: cancel, done: make(chan struct{}), rec: Record{HZ: cfg.HZ}, echoIn: make(chan []byte, 64)}
	go s.serve(rctx)
	return s, nil
}

// Addr is where the server listens.
func (s *Server) Addr() netip.AddrPort {
	return s.ln.Addr().(*net.TCPAddr).AddrPort()
}

// Record returns a snapshot of the record.
func (s *Server) Record() Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec
}

// Done is closed when the role has ended (detection, TTL or Close).
func (s *Server) Done() <-chan struct{} { return s.done }

// Close ends the role; the record keeps what was seen.
func (s *Server) Close() {
	s.cancel()
	s.ln.Close()
	s.mu.Lock()
	if s.conn != nil {
		s.conn.Close()
	}
	s.mu.Unlock()
	<-s.done
}

func (s *Server) note(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec.Note != "" {
		s.rec.Note += "; "
	}
	s.rec.Note += fmt.Sprintf(format, args...)
}

func (s *Server) serve(ctx context.Context) {
	defer close(s.done)
	defer s.ln.Close()
	go func() { <-ctx.Done(); s.ln.Close() }()
	var conn *net.TCPConn
	for {
		c, err := s.ln.AcceptTCP()
		if err != nil {
			s.note("accept: %v", err)
			s.finish(ctx, nil, time.Time{}, fmt.Errorf("accept: %w", err), nil)
			return
		}
		peer := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
		if s.cfg.Client.IsValid() && peer != s.cfg.Client.Unmap() {
			c.Close() // only the run's client may take the slot
			continue
		}
		conn = c
		break
	}
	accepted := time.Now()
	s.mu.Lock()
	s.conn = conn
	s.rec.Accept = accepted
	s.mu.Unlock()
	s.event(wire.EventAccept, accepted, "from "+conn.RemoteAddr().String(), "", 0)
	go func() { <-ctx.Done(); conn.Close() }()
	defer conn.Close()

	if s.cfg.UserTimeout > 0 {
		if err := keepalive.SetUserTimeout(conn, s.cfg.UserTimeout); err != nil {
			s.note("%v", err)
		}
	}
	eff, err := keepalive.ReadBack(conn)
	if err != nil {
		s.note("%v", err)
	}
	s.mu.Lock()
	s.rec.Effective = eff
	s.mu.Unlock()
	s.event(wire.EventOptions, time.Now(), optionsText(eff, s.cfg.Heartbeat, err), "", 0)

	var mon *probe.Monitor
	if s.cfg.Client.IsValid() {
		var notify func(probe.Transition)
		if s.cfg.Events != nil {
			notify = s.icmpEvent
		}
		mon, err = probe.StartNotify(ctx, probe.Config{Target: s.cfg.Client, Interval: s.cfg.PingInterval}, notify)
		if err != nil {
			s.note("ICMP monitor unavailable: %v", err)
		}
	}
	if _, err := conn.Write(append(slices.Clone(Greeting), s.cfg.Nonce...)); err != nil {
		s.finishWithMonitor(ctx, conn, mon, time.Now(), fmt.Errorf("write greeting: %w", err), nil)
		return
	}
	s.event(wire.EventGreeting, time.Now(), "greeting and the run's nonce sent", "", 0)
	// Sample TCP_INFO while blocked: the peer's last activity is known to
	// a jiffy only, and the earliest estimate per activity is the closest.
	t0 := &t0Tracker{t: tcpinfo.NewTracker(s.cfg.HZ)}
	stopPoll := make(chan struct{})
	pollDone := make(chan struct{})
	probeDue := probeSchedule(eff)
	go func() {
		defer close(pollDone)
		timer := time.NewTimer(pollEvery)
		defer timer.Stop()
		for {
			select {
			case <-stopPoll:
				return
			case <-timer.C:
				next := pollEvery
				if i, err := tcpinfo.Get(conn); err == nil {
					s.sample(t0, i)
					next = pollDelay(i, probeDue, t0.lastPeer(), time.Now())
				}
				timer.Reset(next)
			}
		}
	}()
	var beat *heartbeat
	if !s.cfg.Heartbeat.IsZero() {
		beat = startHeartbeat(conn, s.cfg.Heartbeat)
		defer beat.stop()
	}
	// Block until the kernel says the peer is gone (or the TTL closes it).
	buf := make([]byte, 64)
	for {
		var n int
		n, err = conn.Read(buf)
		if beat != nil {
			if n > 0 {
				beat.answered(conn) // any byte back is an answer: the client only echoes
			}
			if err == nil {
				continue
			}
			err = beat.verdict(err)
			break
		}
		if n > 0 {
			// The client sends only what an Echo wrote; hand it over
			// (dropped when nobody waits and the buffer is full).
			select {
			case s.echoIn <- slices.Clone(buf[:n]):
			default:
			}
		}
		if err != nil {
			break
		}
	}
	at := time.Now()
	close(stopPoll)
	<-pollDone
	if beat != nil {
		beat.stop()
		t0 = nil // T0 is the last answer, not the last ACK
		if last := beat.last(); !last.IsZero() {
			s.mu.Lock()
			s.rec.LastPeer = &last
			s.mu.Unlock()
		}
	}
	s.finishWithMonitor(ctx, conn, mon, at, err, t0)
}

// EchoTimeout bounds how long Echo waits for the client to send its bytes
// back.
const EchoTimeout = 5 * time.Second

// echoPayload is what Echo writes: short, so it fits one segment.
var echoPayload = []byte("kalab-echo")

// Echo writes a few bytes on the accepted connection and waits (at most
// EchoTimeout, or until ctx ends) for the client to send them back, the
// proof that the connection outlived a healed fault. It returns the round
// trip from the write to the last byte read back. It fails when there is
// no connection, the role has ended, the write fails or the bytes do not
// come back whole.
func (s *Server) Echo(ctx context.Context) (rtt time.Duration, err error) {
	s.echoMu.Lock()
	defer s.echoMu.Unlock()
	defer func() { s.echoEvent(rtt, err) }()
	s.mu.Lock()
	conn, done := s.conn, s.rec.Done
	s.mu.Unlock()
	if conn == nil {
		return 0, errors.New("echo: no client connection was accepted")
	}
	if done {
		return 0, errors.New("echo: the connection had already ended")
	}
	for drained := false; !drained; { // stale bytes from an earlier echo
		select {
		case <-s.echoIn:
		default:
			drained = true
		}
	}
	start := time.Now()
	_ = conn.SetWriteDeadline(start.Add(EchoTimeout))
	if _, err := conn.Write(echoPayload); err != nil {
		return 0, fmt.Errorf("echo: write: %w", err)
	}
	timer := time.NewTimer(EchoTimeout)
	defer timer.Stop()
	var got []byte
	for len(got) < len(echoPayload) {
		select {
		case b := <-s.echoIn:
			got = append(got, b...)
		case <-s.done:
			return 0, errors.New("echo: the connection ended before the echo came back")
		case <-timer.C:
			return 0, fmt.Errorf("echo: %d of %d bytes back within %s", len(got), len(echoPayload), EchoTimeout)
		case <-ctx.Done():
			return 0, fmt.Errorf("echo: %w", ctx.Err())
		}
	}
	rtt = time.Since(start)
	if string(got) != string(echoPayload) {
		return 0, fmt.Errorf("echo: the client sent back %q, not %q", got, echoPayload)
	}
	return rtt, nil
}

// writePayload is what Write sends: short, so it fits one segment.
var writePayload = []byte("kalab-write")

// Write sends a few bytes on the accepted connection and returns when the
// kernel took them (the unacked scenario: with the peer silent they stay
// unacknowledged, so the retransmission timer, not keepalive, ends the
// connection and the blocked Read returns its error), with the smoothed
// RTT read just before (TCP_INFO; 0 where the OS has none), from which the
// first RTO is computed. It fails when there is no connection, the role
// has ended or the write fails.
func (s *Server) Write() (time.Time, time.Duration, error) {
	s.mu.Lock()
	conn, done := s.conn, s.rec.Done
	s.mu.Unlock()
	if conn == nil {
		return time.Time{}, 0, errors.New("write: no client connection was accepted")
	}
	if done {
		return time.Time{}, 0, errors.New("write: the connection had already ended")
	}
	var rtt time.Duration
	if i, err := tcpinfo.Get(conn); err == nil {
		rtt = i.RTT
	}
	at := time.Now()
	_ = conn.SetWriteDeadline(at.Add(EchoTimeout))
	if _, err := conn.Write(writePayload); err != nil {
		return at, rtt, fmt.Errorf("write: %w", err)
	}
	return at, rtt, nil
}

// t0Tracker is tcpinfo.Tracker shared between the sampling goroutine and
// finish, with the last sample kept for the probe count.
type t0Tracker struct {
	mu   sync.Mutex
	t    *tcpinfo.Tracker
	info tcpinfo.Info
	ok   bool
}

// add folds in one sample and says what it moved (tcpinfo.Moved).
func (t *t0Tracker) add(i tcpinfo.Info) tcpinfo.Moved {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.info, t.ok = i, true
	return t.t.Add(i)
}

// lastPeer is the current T0 estimate (zero before any sample).
func (t *t0Tracker) lastPeer() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	best, _ := t.t.T0()
	return best
}

func (t *t0Tracker) result() (tcpinfo.Info, time.Time, []time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	best, _ := t.t.T0()
	return t.info, best, t.t.ProbeTimes(), t.ok
}

func (s *Server) finishWithMonitor(ctx context.Context, conn *net.TCPConn, mon *probe.Monitor, at time.Time, err error, t0 *t0Tracker) {
	if t0 != nil {
		// The final sample, before anything slower: TCP_INFO stays
		// readable after the error until Close (docs/linux-lab.md §5).
		if i, ierr := tcpinfo.Get(conn); ierr == nil {
			s.sample(t0, i)
		}
	}
	if mon != nil {
		r := mon.Stop()
		s.mu.Lock()
		s.rec.PingMode = r.Mode
		if !r.LossAt.IsZero() && r.LossAt.Before(at.Add(time.Second)) {
			loss := r.LossAt
			s.rec.PingLoss = &loss
		}
		s.mu.Unlock()
	}
	s.finish(ctx, conn, at, err, t0)
}

// finish completes the record and tells the role's last event: the
// detection, or why the role ended without one.
func (s *Server) finish(ctx context.Context, conn *net.TCPConn, at time.Time, err error, t0 *t0Tracker) {
	detected := s.settle(conn, at, err, t0)
	if !detected {
		s.event(wire.EventEnded, time.Now(), endReason(ctx, err), "", 0)
		return
	}
	s.mu.Lock()
	text, errno := s.rec.Err, s.rec.ErrnoName
	s.mu.Unlock()
	s.event(wire.EventDetection, at, text, errno, 0)
}

// settle marks the record done and fills in the detection, if the role
// ended with one (reported).
func (s *Server) settle(conn *net.TCPConn, at time.Time, err error, t0 *t0Tracker) (detected bool) {
	var info *tcpinfo.Info
	var lastPeer time.Time
	var probeTimes []time.Time
	if t0 != nil {
		if i, best, pt, ok := t0.result(); ok {
			info, lastPeer, probeTimes = &i, best, pt
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.Done = true
	if conn == nil || at.IsZero() {
		return false
	}
	closedByUs := errors.Is(err, net.ErrClosed)
	if closedByUs {
		s.rec.Note = joinNote(s.rec.Note, "no detection before the role ended")
		return false
	}
	d := at
	s.rec.Detect = &d
	if err != nil {
		s.rec.Err = err.Error()
		if errors.Is(err, io.EOF) {
			s.rec.ErrnoName = "EOF"
		} else {
			s.rec.Errno, s.rec.ErrnoName = errnoOf(err)
		}
	}
	if errors.Is(err, errHeartbeatTimeout) {
		s.rec.Errno, s.rec.ErrnoName = 0, results.HeartbeatTimeout
	}
	if info != nil {
		s.rec.LastPeer = &lastPeer
		s.rec.ProbeTimes = probeTimes
		p := int(info.Probes)
		s.rec.Probes = &p
	}
	return true
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
