package experiment

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/wire"
)

// bisect measures an experiment's [target] without watching its sockets:
// each trial connects anew, exchanges the hello, drops the flow for an
// outage D at once (so the service's last sign of life is the hello),
// heals, and rechecks on the same connection. Survived trials raise the
// bracket's low end, detected ones lower its high end, halving until it is
// no wider than the resolution. The result holds the bracket, never a
// point: Detection and the measured times stay empty.
func (e *Executor) bisect(ctx context.Context, r plannedRun, res results.Result, call callFunc, fail func(string, error) results.Result) results.Result {
	t := e.Config.Target
	b := *t.Bisect
	res.Target = &results.Target{Agent: t.Agent, Port: t.Port, Process: t.Process, Method: results.MethodBisection}
	if s := e.LabService; s != nil {
		res.Target.Product, res.Target.Version, res.Target.ConfigLines = s.Product, s.Version, s.ConfigLines
	}
	m := r.Cell.Model
	res.Model = &m
	addr := netip.AddrPortFrom(r.Server.IP, uint16(t.Port)).String()
	if t.Address != "" {
		addr = t.Address
	}
	trials := 0
	trial := func(d time.Duration) (bool, error) {
		trials++
		survived, why, err := e.trial(ctx, r, call, addr, d, trials)
		e.Log.Info("bisection trial", "run", r.ID, "outage", d, "survived", survived, "why", why, "err", err)
		return survived, err
	}
	lo, hi := b.Min, b.Max
	if ok, err := trial(hi); err != nil {
		return fail(fmt.Sprintf("bisection trial %d", trials), err)
	} else if ok {
		res.Outcome, res.Why, res.EndedAt = results.OutcomeDeviation, fmt.Sprintf("the service survived a %s outage, the search's upper bound: its detection lies beyond; raise max", hi), time.Now()
		return res
	}
	if ok, err := trial(lo); err != nil {
		return fail(fmt.Sprintf("bisection trial %d", trials), err)
	} else if !ok {
		res.Outcome, res.Why, res.EndedAt = results.OutcomeDeviation, fmt.Sprintf("the service dropped the connection after a %s outage, the search's lower bound: lower min", lo), time.Now()
		return res
	}
	for hi-lo > b.Resolution {
		mid := lo + (hi-lo)/2
		ok, err := trial(mid)
		if err != nil {
			return fail(fmt.Sprintf("bisection trial %d", trials), err)
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	res.Target.Bracket, res.Target.Trials = &keepalive.Window{Min: lo, Max: hi}, trials
	res.Detected, res.EndedAt = true, time.Now()
	res.Outcome, res.Why = results.Judge(res, r.Server.Host.HZ)
	return res
}

// trial is one outage of d on a fresh connection: connect and exchange the
// hello, drop the flow, wait d, heal, ask the client to send the hello
// again, clean up. It reports whether the service answered.
func (e *Executor) trial(ctx context.Context, r plannedRun, call callFunc, addr string, d time.Duration, n int) (bool, string, error) {
	t := e.Config.Target
	cli := r.Client.Member.Name
	step := func(s string) string { return fmt.Sprintf("t%d-%s", n, s) }
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Node.Call(cctx, cli, r.Key+"/"+step("cleanup"), wire.CmdCleanup, wire.CleanupReq{Run: r.Key}, nil, cluster.CallOptions{Attempts: 2})
	}()
	var pc wire.PrepareClientResp
	node := r.Server.Member.Name
	if t.Address != "" {
		node = "" // outside the cluster: the client agent's own targets must list addr
	}
	req := wire.PrepareClientReq{Run: r.Key, ServerAddr: addr, ServerNode: node, TTLMS: (d + time.Minute).Milliseconds(),
		Target: true, Hello: []byte(t.Hello), Expect: []byte(t.Expect)}
	if err := call(cli, step("prepare-client"), wire.CmdPrepareClient, req, &pc); err != nil {
		return false, "", err
	}
	fr := faultReq(r.Key, r.Cell)
	fr.TTLMS = (d + 30*time.Second).Milliseconds()
	if err := call(cli, step("fault"), wire.CmdFault, fr, &wire.FaultResp{}); err != nil {
		return false, "", err
	}
	if err := sleep(ctx, d); err != nil {
		return false, "", err
	}
	if err := call(cli, step("heal"), wire.CmdHeal, wire.HealReq{Run: r.Key}, &wire.HealResp{}); err != nil {
		return false, "", err
	}
	var rc wire.RecheckResp
	if err := call(cli, step("recheck"), wire.CmdRecheck, wire.RecheckReq{Run: r.Key}, &rc); err != nil {
		return false, "", err
	}
	return rc.Answered, rc.Why, nil
}

// outsideTarget stands in for the server agent of a [target] that has
// none: its address, and the OS the experiment says it runs. Its clock is
// never asked: bisection times only the client's outages.
func outsideTarget(t Target) *agentInfo {
	ap := netip.MustParseAddrPort(t.Address) // validateAddress checked it
	name := "target " + t.Address
	return &agentInfo{Member: cluster.Member{Name: name, Addr: t.Address}, IP: ap.Addr().Unmap(), Outside: true,
		Host: results.Host{Name: name, OS: t.TargetOS()}}
}
