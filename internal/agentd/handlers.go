package agentd

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/kalab-dev/kalab/internal/fault"
	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/role"
	"github.com/kalab-dev/kalab/internal/wire"
)

func (a *Agent) prepareServer(ctx context.Context, req wire.PrepareServerReq) (any, error) {
	d, err := ttl(req.TTLMS)
	if err != nil {
		return nil, err
	}
	hb, err := heartbeatOf(req)
	if err != nil {
		return nil, err
	}
	var mode keepalive.Mode
	if hb.IsZero() {
		if mode, err = keepalive.ParseMode(req.Mode); err != nil {
			return nil, err
		}
	}
	client, err := netip.ParseAddr(req.ClientAddr)
	if err != nil {
		return nil, fmt.Errorf("client_addr %q: %w", req.ClientAddr, err)
	}
	if err := wire.CheckNonce(req.Nonce); err != nil {
		return nil, err
	}
	st, err := a.state(req.Run, d)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if st.server != nil { // a retry with a new id: still one server per run
		return wire.PrepareServerResp{Addr: st.server.Addr().String()}, nil
	}
	s := keepalive.Settings{Idle: time.Duration(req.Keepalive.IdleMS) * time.Millisecond,
		Interval: time.Duration(req.Keepalive.IntervalMS) * time.Millisecond, Count: req.Keepalive.Count}
	if req.UserTimeoutMS < 0 {
		return nil, fmt.Errorf("user_timeout_ms %d: must not be negative", req.UserTimeoutMS)
	}
	uto := time.Duration(req.UserTimeoutMS) * time.Millisecond
	srv, err := role.StartServer(ctx, role.ServerConfig{Run: req.Run, Nonce: req.Nonce, Settings: s, Mode: mode, ListenIP: a.ip, Client: client, TTL: d, HZ: a.hz, UserTimeout: uto, Heartbeat: hb,
		Events: st.log.add})
	if err != nil {
		return nil, err
	}
	st.server = srv
	go func() { <-srv.Done(); st.log.poke() }() // the pusher sends Done
	return wire.PrepareServerResp{Addr: srv.Addr().String()}, nil
}

// heartbeatOf reads a prepare-server request's heartbeat: none when
// heartbeat_ms is 0, otherwise both fields checked (keepalive.Heartbeat).
func heartbeatOf(req wire.PrepareServerReq) (keepalive.Heartbeat, error) {
	if req.HeartbeatMS == 0 && req.Misses == 0 {
		return keepalive.Heartbeat{}, nil
	}
	if req.HeartbeatMS < 0 || req.HeartbeatMS > keepalive.HeartbeatMaxPeriod.Milliseconds() {
		return keepalive.Heartbeat{}, fmt.Errorf("heartbeat_ms %d: allowed 1..%d", req.HeartbeatMS, keepalive.HeartbeatMaxPeriod.Milliseconds())
	}
	hb := keepalive.Heartbeat{Period: time.Duration(req.HeartbeatMS) * time.Millisecond, Misses: req.Misses}
	if err := hb.Validate(); err != nil {
		return keepalive.Heartbeat{}, fmt.Errorf("heartbeat_ms %d, misses %d: %w", req.HeartbeatMS, req.Misses, err)
	}
	return hb, nil
}

func (a *Agent) prepareClient(ctx context.Context, req wire.PrepareClientReq) (any, error) {
	d, err := ttl(req.TTLMS)
	if err != nil {
		return nil, err
	}
	server, err := netip.ParseAddrPort(req.ServerAddr)
	if err != nil {
		return nil, fmt.Errorf("server_addr %q: %w", req.ServerAddr, err)
	}
	if req.Target && req.ServerNode == "" {
		if err := a.checkOutsideTarget(server); err != nil {
			return nil, err
		}
	} else if err := a.checkServerTarget(req.ServerNode, server); err != nil {
		return nil, err
	}
	st, err := a.state(req.Run, d)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	if c := st.client; c != nil {
		a.mu.Unlock()
		return wire.PrepareClientResp{Local: c.Local.String(), Remote: c.Remote.String(), PID: c.PID()}, nil
	}
	a.mu.Unlock()
	var c *role.Client
	if req.Target {
		if len(req.Hello) > wire.MaxHello || len(req.Expect) > wire.MaxExpect {
			return nil, fmt.Errorf("hello of %d and expect of %d bytes: at most %d and %d", len(req.Hello), len(req.Expect), wire.MaxHello, wire.MaxExpect)
		}
		c, err = role.StartTargetClient(ctx, server, d, req.Hello, req.Expect)
	} else {
		c, err = role.StartClient(ctx, server, d, req.Nonce)
	}
	if err != nil {
		return nil, err
	}
	a.log.Info("client role started", "run", req.Run, "pid", c.PID(), "server", server, "unprivileged", c.Unprivileged)
	a.mu.Lock()
	st.client = c
	a.mu.Unlock()
	go func() { <-c.Exited(); st.log.poke() }() // the pusher sends Done
	return wire.PrepareClientResp{Local: c.Local.String(), Remote: c.Remote.String(), PID: c.PID()}, nil
}

func (a *Agent) applyFault(_ context.Context, req wire.FaultReq) (any, error) {
	d, err := ttl(req.TTLMS)
	if err != nil {
		return nil, err
	}
	hold := time.Duration(req.HoldMS) * time.Millisecond
	switch {
	case req.HoldMS < 0 || (req.HoldMS > 0 && hold >= d):
		return nil, fmt.Errorf("fault hold %dms: allowed 1ms up to the fault's ttl (%s)", req.HoldMS, d)
	case req.HoldMS > 0 && req.Kind == results.KindKill:
		return nil, errors.New("fault hold: a kill cannot be held (nothing heals it)")
	}
	st, err := a.lookup(req.Run)
	if err != nil {
		return nil, err
	}
	// Reserve the run's fault slot under the lock, apply outside it: an
	// external command (hypervisor hook, pfctl) must never stall the agent.
	a.mu.Lock()
	switch {
	case st.client == nil:
		err = fmt.Errorf("run %s has no client on this agent", req.Run)
	case st.applying || (st.fault != nil && !closed(st.fault.Done())):
		// One fault at a time; a session applies the next once the
		// previous one healed.
		err = fmt.Errorf("run %s already has a %s fault", req.Run, st.kind)
	}
	if err != nil {
		a.mu.Unlock()
		return nil, err
	}
	st.applying = true
	client := st.client
	a.mu.Unlock()
	f, resp, journal, err := a.silence(req, client, d)
	by := new(string)
	a.mu.Lock()
	st.applying = false
	if err == nil {
		// The previous fault's held-heal record goes with it: the heal
		// command now answers for this one.
		st.fault, st.kind, st.journal, st.healed, st.healBy = f, req.Kind, journal, nil, by
	}
	a.mu.Unlock()
	if err != nil {
		dropJournal(journal)
		return nil, err
	}
	at := time.Now()
	resp.AtNS = at.UnixNano()
	st.log.add(wire.EventFault, at, faultText(req, resp.How), "", 0)
	if f != nil {
		go a.watchHeal(st, f, by)
	}
	if hold > 0 && f != nil {
		time.AfterFunc(hold, func() { a.endHold(req.Run, st, f) })
	}
	return resp, nil
}

// endHold heals a held fault when its hold runs out, on the agent's own
// timer, and keeps the heal record for the coordinator's heal command.
func (a *Agent) endHold(run string, st *runState, f *fault.Active) {
	select {
	case <-f.Done():
		return // healed already (by a heal command, the deadman or cleanup)
	default:
	}
	a.healing(st, f, "the hold")
	resp := a.healRecord(run, st, f)
	resp.ByHold = !resp.ByDeadman
	a.mu.Lock()
	if st.fault == f { // not a later fault's record
		st.healed = &resp
	}
	a.mu.Unlock()
	if err := f.Err(); err != nil {
		a.log.Warn("held fault did not heal cleanly", "run", run, "err", err)
	}
}

// silence applies one fault to the run's client: journal first, then the
// fault, then (where the OS cannot heal it without the agent) a watchdog.
func (a *Agent) silence(req wire.FaultReq, client *role.Client, d time.Duration) (*fault.Active, wire.FaultResp, string, error) {
	var resp wire.FaultResp
	kind, scope := req.Kind, req.Scope
	hook := kind == results.KindVMPause && a.cfg.Hypervisor.Configured()
	emulated := kind == results.KindVMPause && !hook && a.cfg.LabEmulateVM
	switch {
	case kind == results.KindDrop && (scope == results.ScopeFlow || scope == ""),
		kind == results.KindPause && scope == "", kind == results.KindKill && scope == "",
		kind == results.KindVMPause && scope == "" && (hook || emulated):
	case kind == results.KindDrop && scope == results.ScopeHost:
	default:
		return nil, resp, "", fmt.Errorf("fault %q scope %q: not available on agent %s (caps %s)", kind, scope, a.cfg.Name, a.caps())
	}
	// A direction narrows a drop (flow or host) to one way; it means
	// nothing for the other kinds, so it is refused there rather than
	// ignored.
	dir, err := fault.ParseDirection(req.Direction)
	switch {
	case err != nil:
		return nil, resp, "", fmt.Errorf("fault %q scope %q: %w", kind, scope, err)
	case kind != results.KindDrop && req.Direction != "":
		return nil, resp, "", fmt.Errorf("fault %q direction %q: only a drop has a direction", kind, req.Direction)
	}
	peer := client.Remote.Addr()
	if scope == results.ScopeHost || emulated {
		if err := a.checkHostDropPeer(peer); err != nil {
			return nil, resp, "", err
		}
	}
	var journal string
	if kind != results.KindKill {
		e := journalEntry{Run: req.Run, Kind: kind, Scope: scope, Deadline: time.Now().Add(d), ClientPID: client.PID()}
		if hook {
			e.Resume = a.cfg.Hypervisor.ResumeArgv()
		}
		var err error
		if journal, err = a.writeJournal(e); err != nil {
			return nil, resp, "", err
		}
	}
	var f *fault.Active
	switch {
	case kind == results.KindDrop && scope == results.ScopeHost:
		f, err = fault.DropHost(fault.HostDropSpec{Run: req.Run, Peer: peer, KeepPort: a.serfPort, Direction: dir, TTL: d})
	case kind == results.KindDrop:
		// This agent is the client's: to-server is its outgoing side.
		f, err = fault.Drop(fault.DropSpec{Run: req.Run, Flow: fault.Flow{Local: client.Local, Remote: client.Remote}, Direction: dir, TTL: d})
	case kind == results.KindPause:
		f, err = fault.Pause(req.Run, client.Process(), d)
	case kind == results.KindKill:
		resp.How, err = fault.Kill(client.Process())
	case hook:
		f, err = fault.PauseVM(req.Run, a.cfg.Hypervisor, d)
	default: // emulated vm-pause: the lab has no VMs
		// A host-scope drop + SIGSTOP of the client, not a cut link (the
		// cut host's own timers would kill its connections;
		// docs/linux-lab.md §4).
		var drop, pause *fault.Active
		if drop, err = fault.DropHost(fault.HostDropSpec{Run: req.Run, Peer: peer, KeepPort: a.serfPort, TTL: d}); err == nil {
			if pause, err = fault.Pause(req.Run, client.Process(), d); err != nil {
				_ = drop.Heal()
			} else {
				f = fault.Combine(results.KindVMPause, req.Run, d, drop, pause)
			}
		}
		resp.Emulated = true
	}
	if err != nil {
		return nil, resp, journal, err
	}
	if f != nil {
		resp.How = f.How
		if resp.Emulated {
			resp.How = "emulated VM pause: " + resp.How
		}
		// The journal entry goes once the fault is healed, by whoever heals.
		go func() { <-f.Done(); dropJournal(journal) }()
	}
	if journal != "" && needsWatchdog(kind, hook) {
		if err := startWatchdog(journal); err != nil {
			a.log.Warn("no fault watchdog: the fault heals only while this agent lives", "run", req.Run, "err", err)
		}
	}
	return f, resp, journal, nil
}

func (a *Agent) heal(_ context.Context, req wire.HealReq) (any, error) {
	st, err := a.lookup(req.Run)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	f, held := st.fault, st.healed
	a.mu.Unlock()
	if held != nil {
		return *held, nil
	}
	if f != nil {
		a.healing(st, f, "the heal command")
	}
	resp := a.healRecord(req.Run, st, f)
	if f != nil {
		if err := f.Err(); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// healRecord reads the run's drop counters (just before the rules go),
// heals its fault if any, and says when and by whom it was healed.
func (a *Agent) healRecord(run string, st *runState, f *fault.Active) wire.HealResp {
	resp := wire.HealResp{}
	a.mu.Lock()
	kind := st.kind // a later fault may replace it once f healed
	a.mu.Unlock()
	if kind == results.KindDrop || (kind == results.KindVMPause && a.cfg.LabEmulateVM && !a.cfg.Hypervisor.Configured()) {
		if cs, err := fault.DropCounters(run, 0); err == nil {
			resp.InPackets, resp.OutPackets, resp.Counted = cs.InPackets, cs.OutPackets, cs.Known
			resp.Evidence = wire.Truncate(cs.Evidence, 120)
		} else {
			resp.Evidence = wire.Truncate("counters unreadable: "+err.Error(), 120)
		}
	}
	if f != nil {
		_ = f.Heal() // its error stays on f (f.Err) for the caller
		at, byDeadman := f.HealedAt()
		resp.AtNS, resp.ByDeadman = at.UnixNano(), byDeadman
	} else {
		resp.AtNS = time.Now().UnixNano()
	}
	return resp
}

func ns(t *time.Time) *int64 {
	if t == nil || t.IsZero() {
		return nil
	}
	v := t.UnixNano()
	return &v
}

func (a *Agent) collect(_ context.Context, req wire.CollectReq) (any, error) {
	if ob := a.observerOf(req.Run); ob != nil {
		return observed(ob.Record()), nil
	}
	srv, err := a.serverOf(req.Run)
	if err != nil {
		return nil, err
	}
	r := srv.Record()
	resp := wire.CollectResp{
		Done: r.Done, Options: options(r.Effective), LastPeerNS: ns(r.LastPeer), PingLossNS: ns(r.PingLoss),
		PingMode: r.PingMode, DetectNS: ns(r.Detect), Err: wire.Truncate(r.Err, 160), Errno: r.Errno, ErrnoName: r.ErrnoName,
		Probes: r.Probes, HZ: r.HZ, Note: wire.Truncate(r.Note, 160),
	}
	if !r.Accept.IsZero() {
		resp.AcceptNS = r.Accept.UnixNano()
	}
	if r.LastPeer != nil {
		for _, pt := range r.ProbeTimes {
			if len(resp.ProbesMS) == wire.MaxProbeTimes {
				break
			}
			resp.ProbesMS = append(resp.ProbesMS, pt.Sub(*r.LastPeer).Milliseconds())
		}
	}
	return resp, nil
}

// serverOf is the run's server role, or why there is none.
func (a *Agent) serverOf(run string) (*role.Server, error) {
	st, err := a.lookup(run)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if st.server == nil {
		return nil, fmt.Errorf("run %s has no server on this agent", run)
	}
	return st.server, nil
}

// echo has the run's server send a few bytes on its connection and wait
// for the client to send them back (role.Server.Echo); a failed echo is
// the answer's Err, not a command error.
func (a *Agent) echo(ctx context.Context, req wire.EchoReq) (any, error) {
	srv, err := a.serverOf(req.Run)
	if err != nil {
		return nil, err
	}
	rtt, err := srv.Echo(ctx)
	if err != nil {
		return wire.EchoResp{Err: wire.Truncate(err.Error(), 160)}, nil
	}
	return wire.EchoResp{OK: true, RTTNS: rtt.Nanoseconds()}, nil
}

// write has the run's server write a few bytes on its connection
// (role.Server.Write); a failed write is the answer's Err.
func (a *Agent) write(_ context.Context, req wire.WriteReq) (any, error) {
	srv, err := a.serverOf(req.Run)
	if err != nil {
		return nil, err
	}
	at, rtt, err := srv.Write()
	resp := wire.WriteResp{AtNS: at.UnixNano()}
	if err != nil {
		resp.Err = wire.Truncate(err.Error(), 160)
	}
	if rtt > 0 {
		us := rtt.Microseconds()
		resp.RTTUS = &us
	}
	// The host's values, read now: what the kernel will apply to this
	// write's retransmissions (a partial read keeps the defaults it says).
	if limits, lerr := keepalive.LocalRetransmitLimits(); len(limits.Values) > 0 {
		resp.Retransmit = &limits
		if lerr != nil {
			resp.RetransmitErr = wire.Truncate(lerr.Error(), 160)
		}
	}
	return resp, nil
}

func options(e keepalive.Effective) wire.Options {
	var o wire.Options
	if e.Enabled.Known {
		o.Enabled = &e.Enabled.Value
	}
	ms := func(v keepalive.Opt[time.Duration]) *int64 {
		if !v.Known {
			return nil
		}
		x := v.Value.Milliseconds()
		return &x
	}
	o.IdleMS, o.IntervalMS, o.UserTimeoutMS = ms(e.Idle), ms(e.Interval), ms(e.UserTimeout)
	if e.Count.Known {
		o.Count = &e.Count.Value
	}
	return o
}

func (a *Agent) cleanup(_ context.Context, req wire.CleanupReq) (any, error) {
	a.mu.Lock()
	st, ok := a.runs[req.Run]
	delete(a.runs, req.Run)
	a.mu.Unlock()
	if ok {
		st.cleanup()
	}
	return wire.Empty{}, nil
}
