package experiment

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/wire"
)

// Progress is told when runs start and end (terminal bars or plain lines).
// Runs are named by their readable name (results.Result.Name).
type Progress interface {
	// Planned says how many runs there will be.
	Planned(runs int)
	// Start says a run began; expected is the plan's duration for it.
	Start(name string, expected time.Duration)
	// Done says a run ended with this result.
	Done(name string, res results.Result)
}

// Executor runs an experiment against the cluster the node belongs to.
type Executor struct {
	// Node is the coordinator's started serf member: runs go to the alive
	// members tagged role=agent that the selections match, and every
	// command to them goes through Node.Call. Required.
	Node *cluster.Node
	// Config is the parsed and validated experiment (Load or Parse).
	// Required.
	Config *Config
	// Store receives every result as its run ends; an append error is
	// returned by Run but does not stop the other runs. Required.
	Store *results.Store
	// Lab is copied into every result (results.Result.Lab): true when the
	// agents are hosts of the Linux netns lab, not real machines.
	Lab bool
	// Progress is told when runs start and end; nil runs silently.
	Progress Progress
	// Log receives the executor's own records (agents found, failed runs).
	// Required: Run does not check for nil (experiment.Run passes a
	// discarding logger when its caller has none).
	Log *slog.Logger
}

// agentInfo is an agent chosen for runs, with its clock offset.
type agentInfo struct {
	Member cluster.Member
	IP     netip.Addr
	Host   results.Host
	Offset cluster.Offset
}

// plannedRun is one run of the matrix.
type plannedRun struct {
	// ID is unique (for agents and results files); Name is readable.
	ID, Name       string
	CellIdx, Rep   int
	Cell           Cell
	Server, Client *agentInfo
}

// Plan chooses agents and expands the matrix: every matching server ×
// every matching client (never the same agent) × cells of the server's OS
// × repetitions.
func (e *Executor) plan(ctx context.Context) ([]plannedRun, error) {
	cells, err := e.Config.Cells()
	if err != nil {
		return nil, err
	}
	var servers, clients []*agentInfo
	for _, m := range e.Node.Members() {
		if m.Tags[cluster.TagRole] != "agent" {
			continue
		}
		srv, cli := matches(e.Config.Server, m.Tags), matches(e.Config.Client, m.Tags)
		if !srv && !cli {
			continue
		}
		host, _, _ := net.SplitHostPort(m.Addr)
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return nil, fmt.Errorf("agent %s address %q: %w", m.Name, m.Addr, err)
		}
		off, err := e.Node.ClockOffset(ctx, m.Name, 8)
		if err != nil {
			return nil, fmt.Errorf("clock offset of %s: %w", m.Name, err)
		}
		st := off.Status
		a := &agentInfo{Member: m, IP: ip.Unmap(), Offset: off, Host: results.Host{
			Name: m.Name, OS: st.OS, Arch: m.Tags[cluster.TagArch], OSVersion: st.Version, Build: st.Build,
			Kalab: st.Kalab, HZ: st.HZ, Caps: st.Caps, ClockOffset: off.Offset, ClockBound: off.Bound,
		}}
		e.Log.Info("agent", "name", m.Name, "os", st.OS, "os_version", st.Version, "hz", st.HZ, "caps", st.Caps,
			"clock_offset", off.Offset, "bound", off.Bound)
		if srv {
			servers = append(servers, a)
		}
		if cli {
			clients = append(clients, a)
		}
	}
	if len(servers) == 0 || len(clients) == 0 {
		return nil, fmt.Errorf("no agents for the experiment: %d match the server selection %v, %d the client selection %v",
			len(servers), e.Config.Server.Select, len(clients), e.Config.Client.Select)
	}
	var nonce [3]byte
	_, _ = rand.Read(nonce[:])
	var runs []plannedRun
	for _, s := range servers {
		for _, c := range clients {
			if s.Member.Name == c.Member.Name {
				continue
			}
			for ci, cell := range cells {
				if cell.OS != s.Host.OS {
					continue
				}
				for rep := 1; rep <= e.Config.Repetitions; rep++ {
					id := fmt.Sprintf("%s-%x-%s-%s-%d-%d", e.Config.Name, nonce, s.Member.Name, c.Member.Name, ci+1, rep)
					runs = append(runs, plannedRun{ID: id, Name: RunName(cell, s.Member.Name, c.Member.Name, rep),
						CellIdx: ci + 1, Rep: rep, Cell: cell, Server: s, Client: c})
				}
			}
		}
	}
	if len(runs) == 0 {
		return nil, errors.New("no runs: the server agents' OSes have no cells (check server.select)")
	}
	return runs, nil
}

func matches(s Side, tags map[string]string) bool {
	for tag, expr := range s.Select {
		re, err := Anchored(expr)
		if err != nil || !re.MatchString(tags[tag]) {
			return false
		}
	}
	return true
}

// hostScope reports faults that silence the whole client host: no other
// run may use that host meanwhile.
func hostScope(f FaultEntry) bool {
	return f.Kind == results.KindVMPause || (f.Kind == results.KindDrop && f.Scope == "host")
}

// hostLocks serialises host-scope faults against every other run on the
// same host.
type hostLocks struct {
	mu sync.Mutex
	m  map[string]*sync.RWMutex
}

func (h *hostLocks) get(name string) *sync.RWMutex {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[string]*sync.RWMutex{}
	}
	if h.m[name] == nil {
		h.m[name] = &sync.RWMutex{}
	}
	return h.m[name]
}

// lock takes the run's host locks in name order (no deadlock) and returns
// the unlock.
func (h *hostLocks) lock(r plannedRun) func() {
	names := []string{r.Server.Member.Name, r.Client.Member.Name}
	sort.Strings(names)
	var undo []func()
	for _, n := range names {
		l := h.get(n)
		if hostScope(r.Cell.Fault) && n == r.Client.Member.Name {
			l.Lock()
			undo = append(undo, l.Unlock)
		} else {
			l.RLock()
			undo = append(undo, l.RUnlock)
		}
	}
	return func() {
		for _, u := range slices.Backward(undo) {
			u()
		}
	}
}

// Run executes every run, at most Config.Parallel at a time, appending
// each result as soon as it ends. It returns the results; a run that fails
// is recorded, not fatal. ctx cancellation stops starting new runs and
// cleans up the running ones.
func (e *Executor) Run(ctx context.Context) ([]results.Result, error) {
	runs, err := e.plan(ctx)
	if err != nil {
		return nil, err
	}
	e.Log.Info("experiment", "name", e.Config.Name, "runs", len(runs), "parallel", e.Config.Parallel)
	if e.Progress != nil {
		e.Progress.Planned(len(runs))
	}
	var (
		mu      sync.Mutex
		results []results.Result
		wg      sync.WaitGroup
		locks   hostLocks
		sem     = make(chan struct{}, e.Config.Parallel)
		errs    []error
	)
	for _, r := range runs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			unlock := locks.lock(r)
			defer unlock()
			if e.Progress != nil {
				e.Progress.Start(r.Name, r.Cell.Expected)
			}
			res := e.execute(ctx, r)
			if e.Progress != nil {
				e.Progress.Done(r.Name, res)
			}
			err := e.Store.Append(res)
			mu.Lock()
			results = append(results, res)
			if err != nil {
				errs = append(errs, err)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(results, func(i, j int) bool { return results[i].Run < results[j].Run })
	if ctx.Err() != nil {
		errs = append(errs, fmt.Errorf("experiment interrupted after %d of %d runs: %w", len(results), len(runs), ctx.Err()))
	}
	return results, errors.Join(errs...)
}

func ptrTime(ns *int64) *time.Time {
	if ns == nil {
		return nil
	}
	t := time.Unix(0, *ns)
	return &t
}

func ptrDur(d time.Duration) *time.Duration { return &d }

// execute carries out one run and always returns a results.Result.
func (e *Executor) execute(ctx context.Context, r plannedRun) results.Result {
	cell := r.Cell
	res := results.Result{
		Schema: results.Schema, Experiment: e.Config.Name, Run: r.ID, Name: r.Name, Cell: r.CellIdx, Rep: r.Rep,
		StartedAt: time.Now(), Lab: e.Lab, Server: r.Server.Host, Client: r.Client.Host,
		Requested: cell.Settings, Mode: cell.Mode, FaultKind: cell.Fault.Kind, FaultScope: cell.Fault.Scope, Expect: cell.Expect,
	}
	fail := func(step string, err error) results.Result {
		res.Outcome, res.Failure, res.EndedAt = results.OutcomeFailed, fmt.Sprintf("%s: %v", step, err), time.Now()
		e.Log.Warn("run failed", "run", r.ID, "step", step, "err", err)
		return res
	}
	srv, cli := r.Server.Member.Name, r.Client.Member.Name
	roleTTL := cell.Settle + cell.Observe + time.Minute
	call := func(node, step, cmd string, body, out any) error {
		return e.Node.Call(ctx, node, r.ID+"/"+step, cmd, body, out, cluster.CallOptions{})
	}
	defer func() {
		// Cleanup on both agents, even when ctx is cancelled (Ctrl-C).
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, n := range []string{cli, srv} {
			_ = e.Node.Call(cctx, n, r.ID+"/cleanup", wire.CmdCleanup, wire.CleanupReq{Run: r.ID}, nil, cluster.CallOptions{Attempts: 2})
		}
	}()

	var ps wire.PrepareServerResp
	if err := call(srv, "prepare-server", wire.CmdPrepareServer, wire.PrepareServerReq{
		Run: r.ID, Mode: string(cell.Mode), ClientAddr: r.Client.IP.String(), TTLMS: roleTTL.Milliseconds(),
		Keepalive: wire.Keepalive{IdleMS: cell.Settings.Idle.Milliseconds(), IntervalMS: cell.Settings.Interval.Milliseconds(), Count: cell.Settings.Count},
	}, &ps); err != nil {
		return fail("prepare server", err)
	}
	var pc wire.PrepareClientResp
	if err := call(cli, "prepare-client", wire.CmdPrepareClient, wire.PrepareClientReq{Run: r.ID, ServerAddr: ps.Addr, TTLMS: roleTTL.Milliseconds()}, &pc); err != nil {
		return fail("prepare client", err)
	}
	var early wire.CollectResp
	if err := call(srv, "collect-effective", wire.CmdCollect, wire.CollectReq{Run: r.ID}, &early); err != nil {
		return fail("read back options", err)
	}
	if err := e.refuseLongRun(r, effective(early.Options)); err != nil {
		res.Effective = effective(early.Options)
		return fail("refused", err)
	}
	if err := sleep(ctx, cell.Settle); err != nil {
		return fail("settle", err)
	}
	var fr wire.FaultResp
	if err := call(cli, "fault", wire.CmdFault, wire.FaultReq{Run: r.ID, Kind: cell.Fault.Kind, Scope: cell.Fault.Scope, TTLMS: (cell.Observe + 30*time.Second).Milliseconds()}, &fr); err != nil {
		return fail("fault", err)
	}
	faultLocal := time.Now()
	res.Emulated, res.FaultHow = fr.Emulated, fr.How
	faultSrv := r.serverClock(fr.AtNS)
	res.Anchors.Fault = &faultSrv
	res.Anchors.FaultBound = r.Client.Offset.Bound + r.Server.Offset.Bound

	var col wire.CollectResp
	deadline := faultLocal.Add(cell.Observe)
	for i := 0; ; i++ {
		if err := call(srv, fmt.Sprintf("collect-%d", i), wire.CmdCollect, wire.CollectReq{Run: r.ID}, &col); err != nil {
			return fail("collect", err)
		}
		if col.Done || time.Now().After(deadline) {
			break
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return fail("observe", err)
		}
	}
	if cell.Fault.Kind != results.KindKill {
		var hr wire.HealResp
		if err := call(cli, "heal", wire.CmdHeal, wire.HealReq{Run: r.ID}, &hr); err != nil {
			return fail("heal", err)
		}
		res.FaultInPackets, res.FaultOutPackets = hr.InPackets, hr.OutPackets
		res.FaultCounted, res.FaultEvidence = hr.Counted, hr.Evidence
		healed := r.serverClock(hr.AtNS)
		res.Anchors.Healed = &healed
	}
	e.record(&res, r, col)
	res.EndedAt = time.Now()
	return res
}

// serverClock maps an instant the client agent reported (ns on its clock)
// to the server's clock: client → coordinator → server through both
// offsets. The error bound is the sum of the two offsets' bounds.
func (r plannedRun) serverClock(clientNS int64) time.Time {
	return time.Unix(0, clientNS).Add(-r.Client.Offset.Offset).Add(r.Server.Offset.Offset)
}

// refuseLongRun re-predicts the run from what the server's OS really
// applied (macOS may drop the listener's idle; Go may overwrite it): a run
// the model says outlasts max_run is refused instead of hanging for hours.
func (e *Executor) refuseLongRun(r plannedRun, applied keepalive.Effective) error {
	eff, ok := applied.Settings()
	if !ok {
		return nil // nothing read back: the plan's prediction stands
	}
	plat := keepalive.Platform{OS: r.Server.Host.OS, Build: r.Server.Host.Build}
	p, err := keepalive.Predict(plat, eff, keepalive.PhaseCycling, keepalive.ModelOptions{HZ: r.Server.Host.HZ})
	if err != nil {
		return nil
	}
	need := setupOverhead + max(r.Cell.Settle, 2*max(eff.Idle, eff.Interval)) + p.AfterFault.Max + e.Config.Margin
	if need <= e.Config.MaxRun {
		return nil
	}
	hint := ""
	if keepalive.LosesListenerIdle(plat, r.Cell.Mode) {
		hint = "; " + keepalive.ListenerIdleAdvice
	}
	return fmt.Errorf("the server applied %s (asked %s): predicted run %s exceeds max_run %s%s",
		eff.Short(), r.Cell.Settings.Short(), need.Round(time.Second), e.Config.MaxRun, hint)
}

// record turns the server's record into anchors, measurements, the
// model's prediction from what the OS really applied, and the outcome.
func (e *Executor) record(res *results.Result, r plannedRun, col wire.CollectResp) {
	res.Anchors.Accept = ptrTime(&col.AcceptNS)
	res.Anchors.LastPeer = ptrTime(col.LastPeerNS)
	if res.Anchors.LastPeer != nil {
		for _, ms := range col.ProbesMS {
			res.Anchors.Probes = append(res.Anchors.Probes, res.Anchors.LastPeer.Add(time.Duration(ms)*time.Millisecond))
		}
	}
	res.Anchors.PingLoss = ptrTime(col.PingLossNS)
	res.Anchors.Detection = ptrTime(col.DetectNS)
	res.Effective = effective(col.Options)
	res.Err, res.Errno, res.ErrnoName, res.Probes, res.PingMode = col.Err, col.Errno, col.ErrnoName, col.Probes, col.PingMode
	res.Detected = col.DetectNS != nil

	eff, ok := res.Effective.Settings()
	if !ok {
		eff = res.Requested
	}
	hz := col.HZ
	if hz == 0 {
		hz = r.Server.Host.HZ
	}
	phase := keepalive.PhaseCycling
	if r.Cell.Settle < eff.Idle {
		phase = keepalive.PhaseFirstIdle
	}
	plat := keepalive.Platform{OS: r.Server.Host.OS, Build: r.Server.Host.Build, Version: r.Server.Host.OSVersion}
	var uto time.Duration
	if res.Effective.UserTimeout.Known {
		uto = res.Effective.UserTimeout.Value
	}
	if pred, err := keepalive.Predict(plat, eff, phase, keepalive.ModelOptions{HZ: hz, UserTimeout: uto}); err == nil {
		res.Model = &pred
	}
	a := res.Anchors
	if a.Detection != nil {
		if a.LastPeer != nil {
			res.Measured.FromT0 = ptrDur(a.Detection.Sub(*a.LastPeer))
			if res.Model != nil && r.Cell.Expect == results.ExpectDetected && results.IsKeepaliveDetection(res.ErrnoName) {
				res.Measured.Lateness = ptrDur(*res.Measured.FromT0 - res.Model.FromT0.Min)
			}
		}
		if a.Fault != nil {
			res.Measured.AfterFault = ptrDur(a.Detection.Sub(*a.Fault))
		}
		if a.PingLoss != nil {
			res.Measured.AfterPingLoss = ptrDur(a.Detection.Sub(*a.PingLoss))
		}
	}
	res.Outcome, res.Why = results.Judge(*res, hz)
}

func effective(o wire.Options) keepalive.Effective {
	var e keepalive.Effective
	if o.Enabled != nil {
		e.Enabled = keepalive.Opt[bool]{Value: *o.Enabled, Known: true}
	}
	dur := func(ms *int64) keepalive.Opt[time.Duration] {
		if ms == nil {
			return keepalive.Opt[time.Duration]{}
		}
		return keepalive.Opt[time.Duration]{Value: time.Duration(*ms) * time.Millisecond, Known: true}
	}
	e.Idle, e.Interval, e.UserTimeout = dur(o.IdleMS), dur(o.IntervalMS), dur(o.UserTimeoutMS)
	if o.Count != nil {
		e.Count = keepalive.Opt[int]{Value: *o.Count, Known: true}
	}
	return e
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
