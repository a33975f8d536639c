// Package probe is a continuous ICMP echo monitor of one target host, built
// on pro-bing. The keepalive server agent runs one against the client host
// so a run's result carries the "ping loss" anchor: the first ICMP timeout
// after the last reply (DESIGN.md, timing anchors). The package records
// reply/loss transitions with local timestamps; it does not decide outcomes.
//
// pro-bing (v0.9.1) has neither a receive timestamp on its Packet
// (ping.go:270-291) nor a loss callback (issue #138), so the monitor takes
// its own time.Now() in the callbacks and runs a watchdog ticker at
// Interval/4 that declares a loss once no reply came for StallAfter.
//
// Source lines cited as ping.go:N refer to
// $GOMODCACHE/github.com/prometheus-community/pro-bing@v0.9.1/ping.go.
package probe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"time"

	probing "github.com/prometheus-community/pro-bing"
)

// Limits and defaults of Config.
const (
	// DefaultInterval is the echo interval when Config.Interval is zero.
	DefaultInterval = 20 * time.Millisecond
	// MinInterval and MaxInterval bound Config.Interval: below 10ms the
	// watchdog's Interval/4 tick costs more than it buys; above 1s the loss
	// anchor is too coarse to compare with keepalive detection.
	MinInterval = 10 * time.Millisecond
	MaxInterval = time.Second
	// DefaultStallFactor × Interval is StallAfter when it is zero: one or
	// two lost echoes are jitter, five in a row are a loss
	// (docs/cluster-and-probing.md §2.3).
	DefaultStallFactor = 5
	// MinStallFactor × Interval is the shortest StallAfter allowed: a
	// shorter one fires between two healthy replies.
	MinStallFactor = 2
	// MaxStallAfter bounds StallAfter; longer gaps are not "the first ICMP
	// timeout" any more.
	MaxStallAfter = time.Minute
)

// Report.Mode values: which kind of socket pro-bing used.
const (
	ModeUnprivileged = "unprivileged" // ICMP datagram socket (SetPrivileged(false), "udp4"/"udp6")
	ModePrivileged   = "privileged"   // raw ICMP socket (SetPrivileged(true), "ip4:icmp"/"ip6:ipv6-icmp")
)

// Config says what to monitor and how finely.
type Config struct {
	// Target is the host to ping, IPv4 or IPv6 (an IPv4-mapped IPv6
	// address is pinged as IPv4). Required.
	Target netip.Addr
	// Interval between echo requests. Default 20ms (DefaultInterval);
	// allowed 10ms..1s. The loss anchor is at best Interval/4 late
	// (the watchdog tick).
	Interval time.Duration
	// StallAfter is how long a gap without replies must last to count as
	// a loss. Default 5×Interval; allowed 2×Interval..1m. Too short and a
	// single dropped echo or a scheduling hiccup shows as a loss.
	StallAfter time.Duration
}

// withDefaults fills zero fields and validates. Errors name the field, the
// value and the allowed range.
func (c Config) withDefaults() (Config, error) {
	if !c.Target.IsValid() {
		return c, errors.New("probe Config.Target is not set: need an IPv4 or IPv6 address")
	}
	c.Target = c.Target.Unmap()
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Interval < MinInterval || c.Interval > MaxInterval {
		return c, fmt.Errorf("probe Config.Interval = %v: allowed %v..%v", c.Interval, MinInterval, MaxInterval)
	}
	if c.StallAfter == 0 {
		c.StallAfter = DefaultStallFactor * c.Interval
	}
	if lo := MinStallFactor * c.Interval; c.StallAfter < lo || c.StallAfter > MaxStallAfter {
		return c, fmt.Errorf("probe Config.StallAfter = %v: allowed %v..%v (%d×Interval..%v)",
			c.StallAfter, lo, MaxStallAfter, MinStallFactor, MaxStallAfter)
	}
	return c, nil
}

// Transition is a change between "replies arriving" and "replies stopped".
type Transition struct {
	// At: for Up=false, when the watchdog saw the gap since the last reply
	// exceed StallAfter (the first ICMP timeout after the last reply, as
	// observed: lastReply+StallAfter, up to Interval/4 late); for Up=true,
	// when the first reply after the loss was received.
	At time.Time
	// Up is true when replies resumed, false when they stopped.
	Up bool
}

// Report is a snapshot of a Monitor. Times come from time.Now() in this
// process, so comparisons with other time.Now() values of the same process
// use the monotonic clock; JSON carries wall-clock time only.
type Report struct {
	// Mode is ModeUnprivileged or ModePrivileged: which socket pro-bing used.
	Mode string
	// Sent counts echo requests written to the socket; Received counts
	// distinct echo replies (pro-bing drops duplicates, ping.go:882-894).
	Sent, Received int
	// LastReply is when the latest reply was received; zero if none.
	LastReply time.Time
	// LossAt is the first loss after at least one reply: the moment the
	// watchdog saw the gap exceed StallAfter (the "ping loss" anchor: first
	// ICMP timeout after the last reply). Zero if never.
	LossAt time.Time
	// Transitions in order: false (stopped) and true (resumed) alternate,
	// starting with false. There is none before the first reply.
	Transitions []Transition
	// Err is set when pinging ended on its own before Stop (e.g. a socket
	// read error); nothing after it was observed. Empty otherwise.
	Err string
}

// Monitor pings one target until Stop.
type Monitor struct {
	cfg    Config
	mode   string
	pinger *probing.Pinger
	cancel context.CancelFunc
	t      *tracker

	runDone   chan struct{} // closed when RunWithContext returned (runErr set)
	runErr    error
	watchDone chan struct{} // closed when the watchdog exited
	stopOnce  sync.Once
}

// PrivilegeOrder lists the socket kinds to try on goos, in order
// (docs/cluster-and-probing.md §2.1, after blackbox_exporter
// prober/icmp.go:105-130): Windows has no ICMP datagram socket ("requested
// protocol has not been configured"), so only raw; Linux and macOS try the
// unprivileged datagram socket first (Linux: only if the gid is inside
// net.ipv4.ping_group_range, which is per network namespace and "1 0" by
// default, so root in a fresh namespace falls back to raw).
// The agent's monitor and `agent doctor` both follow it.
func PrivilegeOrder(goos string) []bool {
	if goos == "windows" {
		return []bool{true}
	}
	return []bool{false, true}
}

// ModeName names a socket kind as Report.Mode does.
func ModeName(privileged bool) string {
	if privileged {
		return ModePrivileged
	}
	return ModeUnprivileged
}

// Start validates cfg and starts pinging in the background. It returns once
// the ICMP socket is open and the first echo request went out, so a socket
// kind the process may not use, or a target it cannot send to, fails here.
// Cancelling ctx stops the monitor as Stop does (call Stop anyway to wait
// for it and get the final report).
//
// Which goroutine opens the socket: pro-bing opens it inside RunWithContext,
// on the goroutine that calls it (p.listen() at ping.go:551, which calls
// icmp.ListenPacket at ping.go:1003/1007), and that call blocks for the whole
// run, so it cannot be the caller's goroutine. On Linux a socket belongs to
// the network namespace of the thread that creates it, and a goroutine
// started by a caller that is locked into another namespace (lab.Host.Do)
// runs on an ordinary thread of the process's namespace. So RunWithContext
// runs on a goroutine that first moves its own, locked, thread into the
// caller's thread's namespace (goInCallerNetNS, probe_linux.go) when the two
// differ. When the whole process lives in one namespace (the agent) that is
// a no-op. On other OSes there are no namespaces and it is a plain goroutine.
func Start(ctx context.Context, cfg Config) (*Monitor, error) {
	return StartNotify(ctx, cfg, nil)
}

// StartNotify is Start with onChange told each Transition as it happens,
// in order (the same ones Report lists), so a live timeline need not poll
// Report. onChange runs on the monitor's own goroutines (pro-bing's send
// loop for a resume, the watchdog for a loss), so it must return quickly;
// it is never called after Stop returns. A nil onChange is Start.
//
// A separate entry point rather than a Config field keeps Config a
// comparable value.
func StartNotify(ctx context.Context, cfg Config, onChange func(Transition)) (*Monitor, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("start ICMP monitor of %s: %w", cfg.Target, err)
	}
	order := PrivilegeOrder(runtime.GOOS)
	var errs []error
	for i, priv := range order {
		m, opened, err := start(ctx, cfg, priv, onChange)
		if err == nil {
			return m, nil
		}
		errs = append(errs, fmt.Errorf("%s socket: %w", ModeName(priv), err))
		// Fall back only when the socket could not be opened: once it is
		// open, the other kind would fail the same way (route, target).
		if opened || ctx.Err() != nil || i == len(order)-1 {
			break
		}
	}
	if len(errs) == 2 {
		return nil, fmt.Errorf("start ICMP monitor of %s: %w; then %w", cfg.Target, errs[0], errs[1])
	}
	return nil, fmt.Errorf("start ICMP monitor of %s: %w", cfg.Target, errs[0])
}

// NewPinger sets up a pro-bing pinger of target with one socket kind the
// way kalab uses it everywhere (the monitor, `agent doctor`): no DNS, no
// unbounded RTT/TTL history, no log output. The caller sets Count,
// Timeout and callbacks.
func NewPinger(target netip.Addr, privileged bool, interval time.Duration) *probing.Pinger {
	// probing.New, not NewPinger: target is an address literal, which
	// RunWithContext resolves without DNS (net.ResolveIPAddr, ping.go:418).
	p := probing.New(target.String())
	if target.Is4() {
		p.SetNetwork("ip4")
	} else {
		p.SetNetwork("ip6")
	}
	p.SetPrivileged(privileged)
	p.Interval = interval
	// Both default to true and grow without bound (ping.go:118-119).
	p.RecordRtts, p.RecordTTLs = false, false
	// Send errors after the first are logged through Fatalf, which only
	// prints and goes on (ping.go:661-676); kalab has its own logs.
	p.SetLogger(probing.NoopLogger{})
	return p
}

// start runs one pinger with one socket kind and waits until its socket is
// open (OnSetup) and its first echo went out (OnSend), or until it failed.
// opened reports whether the socket had been opened when it failed.
func start(ctx context.Context, cfg Config, privileged bool, onChange func(Transition)) (m *Monitor, opened bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	p := NewPinger(cfg.Target, privileged, cfg.Interval)

	runCtx, cancel := context.WithCancel(ctx)
	m = &Monitor{
		cfg:       cfg,
		mode:      ModeName(privileged),
		pinger:    p,
		cancel:    cancel,
		t:         &tracker{stallAfter: cfg.StallAfter, onChange: onChange},
		runDone:   make(chan struct{}),
		watchDone: make(chan struct{}),
	}
	setup := make(chan struct{})
	firstSend := make(chan struct{})
	// All callbacks run on pro-bing's single runLoop goroutine, which also
	// sends (OnSend ping.go:975, OnRecv ping.go:901 via processPacket from
	// runLoop ping.go:661); they only take a short mutex so sends keep time.
	// OnSetup runs once the socket is open, before the send and receive
	// goroutines start (ping.go:603-605).
	p.OnSetup = func() { close(setup) }
	p.OnSend = func(*probing.Packet) {
		if m.t.onSend() == 1 {
			close(firstSend)
		}
	}
	p.OnRecv = func(*probing.Packet) { m.t.onRecv(time.Now()) }

	spawnErr := goInCallerNetNS(func(err error) {
		defer close(m.runDone)
		if err == nil {
			err = p.RunWithContext(runCtx)
		}
		m.runErr = err
	})
	if spawnErr != nil {
		cancel()
		return nil, false, spawnErr
	}

	// Wait for the socket, then for the first send. A failed listen makes
	// RunWithContext return before OnSetup (ping.go:551-553); a failed first
	// send makes it return after (ping.go:648-650).
	fail := func(opened bool) (*Monitor, bool, error) {
		<-m.runDone // ctx cancelled: runCtx is its child, RunWithContext returns
		cancel()
		select {
		case <-setup: // both ready at once: the socket did open
			opened = true
		default:
		}
		err := m.runErr
		if ctx.Err() != nil {
			err = ctx.Err()
		} else if err == nil {
			err = errors.New("pinger stopped before its first send")
		}
		return nil, opened, err
	}
	select {
	case <-setup:
	case <-m.runDone:
		return fail(false)
	case <-ctx.Done():
		return fail(false)
	}
	select {
	case <-firstSend:
	case <-m.runDone:
		return fail(true)
	case <-ctx.Done():
		return fail(true)
	}
	if ctx.Err() != nil { // select picked firstSend though both were ready
		return fail(true)
	}

	go m.watchdog(runCtx)
	return m, true, nil
}

// watchdog declares a loss when no reply came for StallAfter. It ticks at
// Interval/4, so a loss is seen at most Interval/4 after lastReply+StallAfter
// (plus scheduling delay). It stops with the pinger: once nothing is sent,
// silence means nothing.
func (m *Monitor) watchdog(ctx context.Context) {
	defer close(m.watchDone)
	tick := time.NewTicker(m.cfg.Interval / 4)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			m.t.check(time.Now())
		case <-ctx.Done():
			return
		case <-m.runDone:
			return
		}
	}
}

// Report returns a snapshot; safe to call concurrently and after Stop.
func (m *Monitor) Report() Report {
	r := m.t.report()
	r.Mode = m.mode
	select {
	case <-m.runDone:
		// runErr is written before runDone is closed.
		if m.runErr != nil && !errors.Is(m.runErr, context.Canceled) {
			r.Err = m.runErr.Error()
		}
	default:
	}
	return r
}

// Stop stops pinging, waits for pro-bing's goroutines and the watchdog to
// exit, and returns the final report. It is idempotent: later calls return
// the same report. Waiting takes up to one pro-bing read deadline (at most
// ~100ms, ping.go:753-788).
func (m *Monitor) Stop() Report {
	m.stopOnce.Do(func() {
		// Cancelling runCtx makes RunWithContext's errgroup call p.Stop
		// (ping.go:609-617); calling Stop directly too is harmless, it is
		// idempotent (ping.go:684-697).
		m.cancel()
		m.pinger.Stop()
		<-m.runDone
		<-m.watchDone
	})
	return m.Report()
}

// tracker is the monitor's state machine, fed by pro-bing's callbacks and
// the watchdog with explicit times so it can be tested without sockets.
type tracker struct {
	stallAfter time.Duration
	// onChange is StartNotify's. notify is held from a transition until
	// onChange returned: replies and watchdog checks come from two
	// goroutines, and a resume must never be told before the loss it ends.
	onChange func(Transition)
	notify   sync.Mutex

	mu          sync.Mutex
	sent        int
	received    int
	lastReply   time.Time
	lossAt      time.Time
	down        bool
	transitions []Transition
}

// onSend counts a sent echo and returns the count.
func (t *tracker) onSend() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sent++
	return t.sent
}

// onRecv records a reply received at now; the first after a loss is an Up
// transition.
func (t *tracker) onRecv(now time.Time) {
	t.change(func() (Transition, bool) {
		t.received++
		t.lastReply = now
		if !t.down {
			return Transition{}, false
		}
		t.down = false
		return Transition{At: now, Up: true}, true
	})
}

// check is the watchdog's look at now: a gap longer than stallAfter since
// the last reply, while up, is a Down transition at now. No reply yet means
// nothing to lose.
func (t *tracker) check(now time.Time) {
	t.change(func() (Transition, bool) {
		if t.down || t.lastReply.IsZero() || now.Sub(t.lastReply) <= t.stallAfter {
			return Transition{}, false
		}
		t.down = true
		if t.lossAt.IsZero() {
			t.lossAt = now
		}
		return Transition{At: now, Up: false}, true
	})
}

// change runs step under the state lock, records the transition it
// returns, if any, and tells onChange outside the state lock (so onChange
// may read a Report) but before any later transition.
func (t *tracker) change(step func() (Transition, bool)) {
	t.notify.Lock()
	defer t.notify.Unlock()
	t.mu.Lock()
	tr, changed := step()
	if changed {
		t.transitions = append(t.transitions, tr)
	}
	t.mu.Unlock()
	if changed && t.onChange != nil {
		t.onChange(tr)
	}
}

func (t *tracker) report() Report {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Report{
		Sent:        t.sent,
		Received:    t.received,
		LastReply:   t.lastReply,
		LossAt:      t.lossAt,
		Transitions: slices.Clone(t.transitions),
	}
}
