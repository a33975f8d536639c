package agentd

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/kalab-dev/kalab/internal/observe"
	"github.com/kalab-dev/kalab/internal/wire"
)

// observe starts watching a real service's side of a run's connection on
// this host (an experiment's [target]): only the socket table is read, the
// service is never attached to or changed. Local must be this agent's own
// address, so a coordinator cannot point it at sockets it has no business
// with elsewhere.
func (a *Agent) observe(ctx context.Context, req wire.ObserveReq) (any, error) {
	d, err := ttl(req.TTLMS)
	if err != nil {
		return nil, err
	}
	local, err := netip.ParseAddrPort(req.Local)
	if err != nil {
		return nil, fmt.Errorf("local %q: %w", req.Local, err)
	}
	remote, err := netip.ParseAddrPort(req.Remote)
	if err != nil {
		return nil, fmt.Errorf("remote %q: %w", req.Remote, err)
	}
	if local.Addr().Unmap() != a.ip {
		return nil, fmt.Errorf("observe %s: not this agent's address (%s)", local, a.ip)
	}
	st, err := a.state(req.Run, d)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if st.observer == nil {
		// The run's log takes the observer's events as it takes a server
		// role's: an interactive session against a real service shows
		// the same live timeline.
		ob, err := observe.Start(context.Background(), observe.Config{Local: local, Remote: remote, HZ: a.hz, TTL: d, Events: st.log.add})
		if err != nil {
			return nil, err
		}
		st.observer = ob
		go func() { <-ob.Done(); st.log.poke() }() // the pusher sends Done
	}
	r := st.observer.Record()
	return wire.ObserveResp{Process: r.Owner.Name, PID: r.Owner.PID}, nil
}

// observerOf is the run's observer, or nil.
func (a *Agent) observerOf(run string) *observe.Observer {
	st, err := a.lookup(run)
	if err != nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return st.observer
}

// observed turns an observer's record into the collect answer the
// coordinator reads for kalab's own server.
func observed(r observe.Record) wire.CollectResp {
	resp := wire.CollectResp{
		Done: r.Done, Options: options(r.Effective), LastPeerNS: ns(r.LastPeer), DetectNS: ns(r.Detect),
		Probes: r.Probes, Ended: r.Ended, Timer: r.Timer, EffectiveFrom: r.EffectiveFrom, Note: wire.Truncate(r.Note, 160),
	}
	if r.Detect != nil {
		resp.Err = "the service's socket ended: " + r.Ended
	}
	if r.LastPeer != nil {
		for _, pt := range r.ProbeTimes {
			if len(resp.ProbesMS) == wire.MaxProbeTimes {
				break
			}
			resp.ProbesMS = append(resp.ProbesMS, pt.Sub(*r.LastPeer).Milliseconds())
		}
	}
	return resp
}

// recheck has the run's target client send its hello again and says
// whether the service answered (bisection's probe after an outage).
func (a *Agent) recheck(ctx context.Context, req wire.RecheckReq) (any, error) {
	st, err := a.lookup(req.Run)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	c := st.client
	a.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("run %s has no client on this agent", req.Run)
	}
	ok, why, err := c.Recheck(ctx)
	if err != nil {
		return nil, err
	}
	return wire.RecheckResp{Answered: ok, Why: wire.Truncate(why, 160)}, nil
}
