package agentd

import (
	"context"
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
	mode, err := keepalive.ParseMode(req.Mode)
	if err != nil {
		return nil, err
	}
	client, err := netip.ParseAddr(req.ClientAddr)
	if err != nil {
		return nil, fmt.Errorf("client_addr %q: %w", req.ClientAddr, err)
	}
	st := a.state(req.Run)
	a.mu.Lock()
	defer a.mu.Unlock()
	if st.server != nil { // a retry with a new id: still one server per run
		return wire.PrepareServerResp{Addr: st.server.Addr().String()}, nil
	}
	s := keepalive.Settings{Idle: time.Duration(req.Keepalive.IdleMS) * time.Millisecond,
		Interval: time.Duration(req.Keepalive.IntervalMS) * time.Millisecond, Count: req.Keepalive.Count}
	srv, err := role.StartServer(ctx, role.ServerConfig{Run: req.Run, Settings: s, Mode: mode, ListenIP: a.ip, Client: client, TTL: d, HZ: a.hz})
	if err != nil {
		return nil, err
	}
	st.server = srv
	return wire.PrepareServerResp{Addr: srv.Addr().String()}, nil
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
	st := a.state(req.Run)
	a.mu.Lock()
	if c := st.client; c != nil {
		a.mu.Unlock()
		return wire.PrepareClientResp{Local: c.Local.String(), Remote: c.Remote.String(), PID: c.PID()}, nil
	}
	a.mu.Unlock()
	c, err := role.StartClient(ctx, server, d)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	st.client = c
	a.mu.Unlock()
	return wire.PrepareClientResp{Local: c.Local.String(), Remote: c.Remote.String(), PID: c.PID()}, nil
}

func (a *Agent) applyFault(_ context.Context, req wire.FaultReq) (any, error) {
	d, err := ttl(req.TTLMS)
	if err != nil {
		return nil, err
	}
	st, err := a.lookup(req.Run)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if st.client == nil {
		return nil, fmt.Errorf("run %s has no client on this agent", req.Run)
	}
	if st.fault != nil {
		return nil, fmt.Errorf("run %s already has a %s fault", req.Run, st.kind)
	}
	resp := wire.FaultResp{}
	switch {
	case req.Kind == results.KindDrop && (req.Scope == results.ScopeFlow || req.Scope == ""):
		st.fault, err = fault.Drop(fault.DropSpec{Run: req.Run, Flow: fault.Flow{Local: st.client.Local, Remote: st.client.Remote}, TTL: d})
	case req.Kind == results.KindDrop && req.Scope == results.ScopeHost:
		st.fault, err = fault.DropHost(fault.HostDropSpec{Run: req.Run, Peer: st.client.Remote.Addr(), KeepPort: a.serfPort, TTL: d})
	case req.Kind == results.KindPause && req.Scope == "":
		st.fault, err = fault.Pause(req.Run, st.client.Process(), d)
	case req.Kind == results.KindKill && req.Scope == "":
		resp.How, err = fault.Kill(st.client.Process())
	case req.Kind == results.KindVMPause && req.Scope == "" && a.cfg.Hypervisor.Configured():
		st.fault, err = fault.PauseVM(req.Run, a.cfg.Hypervisor, d)
	case req.Kind == results.KindVMPause && req.Scope == "" && a.cfg.LabEmulateVM:
		// The lab has no VMs: a host-scope drop + SIGSTOP of the client,
		// not a cut link (the cut host's own timers would kill its
		// connections; docs/linux-lab.md §4).
		var drop, pause *fault.Active
		if drop, err = fault.DropHost(fault.HostDropSpec{Run: req.Run, Peer: st.client.Remote.Addr(), KeepPort: a.serfPort, TTL: d}); err == nil {
			if pause, err = fault.Pause(req.Run, st.client.Process(), d); err != nil {
				_ = drop.Heal()
			} else {
				st.fault = fault.Combine(results.KindVMPause, req.Run, d, drop, pause)
			}
		}
		resp.Emulated = true
	default:
		return nil, fmt.Errorf("fault %q scope %q: not available on agent %s (caps %s)", req.Kind, req.Scope, a.cfg.Name, a.caps())
	}
	if st.fault != nil {
		resp.How = st.fault.How
		if resp.Emulated {
			resp.How = "emulated VM pause: " + resp.How
		}
	}
	if err != nil {
		return nil, err
	}
	st.kind = req.Kind
	resp.AtNS = time.Now().UnixNano()
	return resp, nil
}

func (a *Agent) heal(_ context.Context, req wire.HealReq) (any, error) {
	st, err := a.lookup(req.Run)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	f := st.fault
	a.mu.Unlock()
	resp := wire.HealResp{}
	if st.kind == results.KindDrop || (st.kind == results.KindVMPause && a.cfg.LabEmulateVM && !a.cfg.Hypervisor.Configured()) {
		if cs, err := fault.DropCounters(req.Run, 0); err == nil {
			resp.InPackets, resp.OutPackets, resp.Counted = cs.InPackets, cs.OutPackets, cs.Known
			resp.Evidence = wire.Truncate(cs.Evidence, 120)
		} else {
			resp.Evidence = wire.Truncate("counters unreadable: "+err.Error(), 120)
		}
	}
	if f != nil {
		if err := f.Heal(); err != nil {
			return nil, err
		}
		at, byDeadman := f.HealedAt()
		resp.AtNS, resp.ByDeadman = at.UnixNano(), byDeadman
	} else {
		resp.AtNS = time.Now().UnixNano()
	}
	return resp, nil
}

func ns(t *time.Time) *int64 {
	if t == nil || t.IsZero() {
		return nil
	}
	v := t.UnixNano()
	return &v
}

func (a *Agent) collect(_ context.Context, req wire.CollectReq) (any, error) {
	st, err := a.lookup(req.Run)
	if err != nil {
		return nil, err
	}
	if st.server == nil {
		return nil, fmt.Errorf("run %s has no server on this agent", req.Run)
	}
	r := st.server.Record()
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
