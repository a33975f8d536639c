package observe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/wire"
)

// DefaultPoll is how often the socket table is read when Config.Poll is 0:
// the same 20 ms the server role samples TCP_INFO at, so observed and own
// runs have the same resolution.
const DefaultPoll = 20 * time.Millisecond

// Config says which connection to watch.
type Config struct {
	// Local is the target's side of the connection (the server's ip:port,
	// e.g. redis-server's 10.0.0.5:6379) and Remote the client's. Both need
	// an address and a port. An IPv4 pair also matches a dual-stack socket
	// that holds it as IPv4-mapped IPv6.
	Local  netip.AddrPort
	Remote netip.AddrPort
	// Poll is the interval between two reads of the socket table; 0 means
	// DefaultPoll. Every instant the observer records is known to ±Poll.
	Poll time.Duration
	// HZ is the host's kernel tick rate (keepalive.DetectHZ), used to tell
	// new peer activity from the jiffy rounding of tcp_info ages; 0 assumes
	// the coarsest common tick (HZ=100, 10 ms).
	HZ int
	// TTL ends the observation if the connection has not ended by then.
	TTL time.Duration
	// Events, when set, is told what the observer sees as it sees it (the
	// options read back, the client's last sign of life, unanswered
	// probes, the end), for a live timeline; nil tells nothing.
	Events EventFunc
}

// Owner is the process that holds the target's socket.
type Owner struct {
	// PID is the process id; 0 when unknown.
	PID int
	// Name is the process's short name (Linux /proc/<pid>/comm, the image
	// file name on Windows, p_comm on macOS): the product a report names.
	Name string
}

// Ended values: how the target's side of the connection ended (the
// results package's names, which results and verdicts use).
const (
	// EndedKeepaliveTimeout: the socket vanished (or went to CLOSE) while
	// keepalive probes were unanswered; Linux sends an RST then.
	EndedKeepaliveTimeout = results.EndedKeepalive
	// EndedRetransmitTimeout: it vanished with retransmissions outstanding.
	EndedRetransmitTimeout = results.EndedRetransmit
	// EndedClosedByTarget: it moved to FIN_WAIT1/FIN_WAIT2/CLOSING/TIME_WAIT:
	// the target's application closed first.
	EndedClosedByTarget = results.EndedByTarget
	// EndedClosedByPeer: it moved to CLOSE_WAIT or LAST_ACK: the client
	// closed first (a FIN arrived).
	EndedClosedByPeer = results.EndedByPeer
	// EndedResetByPeer: it vanished with nothing outstanding while the
	// target still held its descriptor, so the kernel, not the application,
	// ended it: an RST from the peer (or an administrator's sock_destroy).
	EndedResetByPeer = results.EndedReset
	// EndedGone: it vanished and the cause cannot be told (no tcp_info on
	// this OS, or the target had already closed its descriptor too).
	EndedGone = results.EndedGone
)

// Timer values: the socket's timer as sock_diag reports it (idiag_timer).
const (
	TimerNone       = "none"       // 0: no timer pending
	TimerRetransmit = "retransmit" // 1: retransmission (or loss probe)
	TimerKeepalive  = "keepalive"  // 2: keepalive (sk_timer)
	TimerTimeWait   = "time-wait"  // 3: TIME_WAIT
	TimerProbe0     = "probe0"     // 4: zero-window probe
)

// EffectiveSocket is Record.EffectiveFrom when the options were read from
// the target's own socket.
const EffectiveSocket = "socket"

// Record is the observer's account of the connection. It mirrors
// role.Record where the kernel's socket table allows.
type Record struct {
	// Done is true once the observation has ended: the connection ended,
	// the TTL passed or Close was called.
	Done bool
	// Found is true once the connection was seen in the socket table.
	Found bool
	// FirstSeen is when it was first seen; zero until Found.
	FirstSeen time.Time
	// LastPeer is T0: the last ACK or data from the peer, from the tcp_info
	// ages of the polls while ESTABLISHED (the earliest estimate since the
	// peer's last activity, as the server role computes it); nil where the
	// OS gives no tcp_info for another process's socket (Windows, macOS).
	LastPeer *time.Time
	// ProbeTimes are when the poller saw the unanswered-probe counter rise
	// (±Poll): one per keepalive probe the peer ignored.
	ProbeTimes []time.Time
	// Probes is the unanswered keepalive probe count at the last poll that
	// saw the connection ESTABLISHED; nil without tcp_info.
	Probes *int
	// LastSeen is the last poll that saw the connection ESTABLISHED: the end
	// lies between LastSeen and Detect.
	LastSeen *time.Time
	// Detect is the first poll that saw the socket out of ESTABLISHED or
	// gone from the table. The change happened after LastSeen and at or
	// before Detect, so Detect is late by up to Poll (plus the time one
	// table read takes); nil when the observation ended without one (TTL,
	// Close, or the connection was already over when first seen).
	Detect *time.Time
	// State is the TCP state Detect saw ("FIN_WAIT1", "CLOSE_WAIT", …,
	// named as in Linux's tcp_states.h), or "" when the socket was gone.
	State string
	// Ended is how the target's side ended (the Ended* constants); "" until
	// then.
	Ended string
	// Timer is the socket's timer at the last poll that saw it ESTABLISHED
	// (the Timer* constants): the timer that was running when it ended; ""
	// where the OS does not report timers.
	Timer string
	// Effective are the keepalive options of the target's socket, read once
	// when the connection was found; all unknown unless EffectiveFrom is
	// EffectiveSocket.
	Effective keepalive.Effective
	// EffectiveFrom is EffectiveSocket, or "unknown: <reason>".
	EffectiveFrom string
	// Owner is the process holding the target's socket; zero when unknown.
	Owner Owner
	// HZ is Config.HZ, copied so the record stands alone.
	HZ int
	// Note collects what went wrong or was unavailable, "; "-separated.
	Note string
}

// Observer watches one connection in the background.
type Observer struct {
	cfg    Config
	src    source
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	rec Record
}

// source is one OS's view of the socket table (observe_<os>.go).
type source interface {
	// poll reads the connection's row once; an error means the table could
	// not be read (not that the connection is absent).
	poll() (sample, error)
	// identify is called once, with the first sample that found the
	// connection: who owns it and what its keepalive options are.
	identify(s sample) (Owner, keepalive.Effective, string, []string)
	// held reports, once the row has vanished, whether the owner still
	// holds the socket's descriptor.
	held() heldState
	close()
}

// Start validates cfg and starts watching. The table is read in the
// network namespace of the calling thread at Start (on Linux the netlink
// socket is opened here), so an agent that runs inside the target host's
// namespace sees the target's sockets. Start does not wait for the
// connection to exist: until it is found, its absence is not an end.
func Start(ctx context.Context, cfg Config) (*Observer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Poll == 0 {
		cfg.Poll = DefaultPoll
	}
	src, err := openSource(cfg)
	if err != nil {
		return nil, fmt.Errorf("observe %s<-%s: %w", cfg.Local, cfg.Remote, err)
	}
	rctx, cancel := context.WithTimeout(ctx, cfg.TTL)
	o := &Observer{cfg: cfg, src: src, cancel: cancel, done: make(chan struct{}), rec: Record{HZ: cfg.HZ}}
	go o.run(rctx)
	return o, nil
}

func (c Config) validate() error {
	if !c.Local.IsValid() || !c.Remote.IsValid() || c.Local.Port() == 0 || c.Remote.Port() == 0 {
		return fmt.Errorf("observe: local %s and remote %s both need an address and a non-zero port", c.Local, c.Remote)
	}
	if c.Local.Addr().Unmap().Is4() != c.Remote.Addr().Unmap().Is4() {
		return fmt.Errorf("observe: local %s and remote %s mix IPv4 and IPv6", c.Local, c.Remote)
	}
	if c.Poll < 0 {
		return fmt.Errorf("observe: poll %s must not be negative", c.Poll)
	}
	if c.TTL <= 0 {
		return fmt.Errorf("observe: ttl %s must be positive", c.TTL)
	}
	return nil
}

// Record returns a snapshot of the record.
func (o *Observer) Record() Record {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.rec
}

// Done is closed when the observation has ended.
func (o *Observer) Done() <-chan struct{} { return o.done }

// Close ends the observation; the record keeps what was seen.
func (o *Observer) Close() {
	o.cancel()
	<-o.done
}

func (o *Observer) run(ctx context.Context) {
	defer close(o.done)
	defer o.src.close()
	tr := newTracker(o.cfg.HZ)
	var notes []string
	var errs int
	tick := time.NewTicker(o.cfg.Poll)
	defer tick.Stop()
	for {
		s, err := o.src.poll()
		switch {
		case err != nil:
			// A failed read says nothing about the connection: note the
			// first failure and keep trying until the TTL.
			if errs == 0 {
				notes = append(notes, fmt.Sprintf("reading the socket table: %v", err))
			}
			errs++
		default:
			if tr.found && (!s.Present || s.State == stClose) {
				s.Held = o.src.held()
			}
			wasFound := tr.found
			ended := tr.add(s)
			if tr.found && !wasFound {
				owner, eff, from, ns := o.src.identify(s)
				o.mu.Lock()
				o.rec.Owner, o.rec.Effective, o.rec.EffectiveFrom = owner, eff, from
				o.mu.Unlock()
				notes = append(notes, ns...)
				// First, as the server role tells its options before any
				// sign of life from the client.
				o.event(wire.EventOptions, time.Now(), optionsEventText(eff, from), "", 0)
			}
			o.moved(tr.moved)
			if ended {
				o.finish(tr, notes, "")
				return
			}
		}
		o.publish(tr, notes, false)
		select {
		case <-ctx.Done():
			why, ended := "the observation was closed", "the observation was closed"
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				why, ended = "the TTL passed", "the observation's TTL ran out"
			}
			if !tr.found {
				notes = append(notes, "connection not found in the socket table before "+why)
			} else {
				notes = append(notes, "no detection before "+why)
			}
			if errs > 1 {
				notes = append(notes, fmt.Sprintf("%d socket table reads failed", errs))
			}
			o.finish(tr, notes, ended)
			return
		case <-tick.C:
		}
	}
}

// finish publishes the final record and tells the last event (endEvent;
// why says how an observation that saw no end stopped). Done closes only
// after it, so that whoever sees Done has every event already.
func (o *Observer) finish(tr *tracker, notes []string, why string) {
	o.publish(tr, notes, true)
	if o.cfg.Events != nil {
		kind, at, text, errno := endEvent(o.Record(), why, time.Now())
		o.event(kind, at, text, errno, 0)
	}
}

// publish copies the tracker's view into the record.
func (o *Observer) publish(tr *tracker, notes []string, done bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	owner, eff, from := o.rec.Owner, o.rec.Effective, o.rec.EffectiveFrom
	o.rec = tr.record()
	o.rec.HZ = o.cfg.HZ
	o.rec.Owner, o.rec.Effective, o.rec.EffectiveFrom = owner, eff, from
	o.rec.Note = joinNotes(append(notes, tr.notes...))
	o.rec.Done = done
}

func joinNotes(ns []string) string {
	out := ""
	for _, n := range ns {
		if n == "" {
			continue
		}
		if out != "" {
			out += "; "
		}
		out += n
	}
	return out
}

// unknownFrom is Record.EffectiveFrom when the options could not be read.
func unknownFrom(reason string) string { return "unknown: " + reason }
