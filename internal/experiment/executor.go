package experiment

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/wire"
)

// Progress is told when runs start and end (terminal bars or plain lines).
// Runs are named by their readable name (results.Result.Name).
type Progress interface {
	// Planned says how many runs there will be and about how long they
	// take together (the typical durations at the experiment's parallelism).
	Planned(runs int, about time.Duration)
	// Start says a run began; expected is the plan's duration for it.
	Start(name string, expected time.Duration)
	// Phase says what a running run is doing now, for people: "settling"
	// (the connection idles so that probes cycle) until the fault, then
	// "silenced" with the model's window after the fault (a zero window
	// when the run expects no detection).
	Phase(name string, phase Phase)
	// Done says a run ended with this result.
	Done(name string, res results.Result)
}

// Phase is a running run's state as progress shows it.
type Phase struct {
	// Name is "settling" or "silenced".
	Name string
	// Since is when the phase began (coordinator's clock).
	Since time.Time
	// Until is when the phase is planned to end: the fault for settling,
	// the model's latest detection for silenced (zero: no detection is
	// expected, or none modelled).
	Until time.Time
	// Window is the model's detection window after the fault (silenced
	// runs that expect a detection).
	Window keepalive.Window
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
	// Stagger is RunOptions.Stagger: run i of the plan starts no earlier
	// than i × Stagger after the first.
	Stagger time.Duration
	// Store receives every result as its run ends; an append error is
	// returned by Run but does not stop the other runs. Required.
	Store *results.Store
	// Lab is copied into every result (results.Result.Lab): true when the
	// agents are hosts of the Linux netns lab, not real machines.
	Lab bool
	// Progress is told when runs start and end; nil runs silently.
	Progress Progress
	// LabService describes the service the lab started for the
	// experiment's [target]; nil on real hosts.
	LabService *LabService
	// Log receives the executor's own records (agents found, failed runs).
	// Required: Run does not check for nil (experiment.Run passes a
	// discarding logger when its caller has none).
	Log *slog.Logger
	// Execution is the nonce in every run id (results.Result.Execution):
	// empty starts a new execution with a random one; a resumed execution
	// passes the interrupted one's, so the same runs get the same ids.
	Execution string
	// Hash is recorded in every result (results.Result.ExperimentHash);
	// see ExperimentHash.
	Hash string
	// BootCheck is how often a run asks both its agents for their boot id
	// (a changed one fails the run at once); 0 means every 2 s.
	BootCheck time.Duration
}

// ClockSamples is how many status round trips each agent's clock offset
// takes (the shortest kept; cluster.ClockOffset): 16 spread over the
// gossip round bring the bound to ~1–3 ms in the lab, for ~0.3 s per agent.
const ClockSamples = 16

// agentInfo is an agent chosen for runs, with its clock offset.
type agentInfo struct {
	Member cluster.Member
	IP     netip.Addr
	Host   results.Host
	Offset cluster.Offset
	// Outside marks a [target] with no agent on its host (bisection): no
	// command goes to it.
	Outside bool

	mu   sync.Mutex
	boot string // the agent process's boot id (StatusResp.BootID); "" unknown
}

// A resumed run is sent to agents as its id + "-r" + resumeNonceBytes
// random bytes in hex, so that agents that remember the first attempt's
// commands act anew.
const (
	resumeNonceBytes = 2
	resumeSuffixLen  = 2 + 2*resumeNonceBytes
)

// plannedRun is one run of the matrix.
type plannedRun struct {
	// ID is unique (for results files); Name is readable.
	ID, Name string
	// Key names the run to the agents (wire Run fields, command ids): ID,
	// or ID plus an attempt suffix when a resumed execution runs it again,
	// so no agent replays its remembered answers for the first attempt.
	Key            string
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
		srv, cli := matches(e.Config.Server, m), matches(e.Config.Client, m)
		if t := e.Config.Target; t != nil {
			// The service's host serves; it never acts as a client.
			srv, cli = srv && m.Name == t.Agent, cli && m.Name != t.Agent
		}
		if !srv && !cli {
			continue
		}
		host, _, _ := net.SplitHostPort(m.Addr)
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return nil, fmt.Errorf("agent %s address %q: %w", m.Name, m.Addr, err)
		}
		off, err := e.Node.ClockOffset(ctx, m.Name, ClockSamples)
		if err != nil {
			return nil, fmt.Errorf("clock offset of %s: %w", m.Name, err)
		}
		st := off.Status
		a := &agentInfo{Member: m, IP: ip.Unmap(), Offset: off, boot: st.BootID, Host: results.Host{
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
	if t := e.Config.Target; t != nil && t.Address != "" {
		servers = []*agentInfo{outsideTarget(*t)} // no agent there: bisection from the clients
	}
	if len(servers) == 0 || len(clients) == 0 {
		return nil, fmt.Errorf("no agents for the experiment: %d match the server selection %v, %d the client selection %v",
			len(servers), e.Config.Server.Select, len(clients), e.Config.Client.Select)
	}
	if e.Execution == "" {
		e.Execution = newNonce(3)
	}
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
				if cell.Skip == "" {
					cell.Skip = missingCap(c, results.Capability(cell.Fault.Kind, cell.Fault.Scope))
				}
				for rep := 1; rep <= e.Config.Repetitions; rep++ {
					id := fmt.Sprintf("%s-%s-%s-%s-%d-%d", e.Config.Name, e.Execution, s.Member.Name, c.Member.Name, ci+1, rep)
					if len(id)+resumeSuffixLen > wire.MaxRunIDLen {
						return nil, fmt.Errorf("run id %q is %d bytes; agents take at most %d (with %d for a resume): shorten the experiment name or the agents' names",
							id, len(id), wire.MaxRunIDLen, resumeSuffixLen)
					}
					runs = append(runs, plannedRun{ID: id, Key: id, Name: RunName(cell, s.Member.Name, c.Member.Name, rep),
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

// about estimates the wall time of runs: their typical durations spread
// over the experiment's parallelism, never less than the longest one.
func (e *Executor) about(runs []plannedRun) time.Duration {
	var sum, longest time.Duration
	for _, r := range runs {
		sum += r.Cell.Expected
		longest = max(longest, r.Cell.Expected)
	}
	return max(sum/time.Duration(max(e.Config.Parallel, 1)), longest)
}

// phase tells progress what run r is doing.
func (e *Executor) phase(r plannedRun, p Phase) {
	if e.Progress != nil {
		e.Progress.Phase(r.Name, p)
	}
}

// missingCap says why client agent c cannot apply a fault needing the caps
// entry kind (results.Capability), or "" when its caps tag lists it: a run it could not silence is planned
// as skipped with the reason, not sent to fail at the fault.
func missingCap(c *agentInfo, kind string) string {
	if slices.Contains(strings.Split(c.Host.Caps, ","), kind) {
		return ""
	}
	caps := c.Host.Caps
	if caps == "" {
		caps = "none"
	}
	return fmt.Sprintf("the client agent %s cannot apply %s (its caps: %s); `agent doctor` on that host says what is missing", c.Member.Name, kind, caps)
}

// newNonce returns n random bytes in hex.
func newNonce(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// matches reports whether member m satisfies every expression of s's
// selection; the name tag is matched against the member's node name.
func matches(s Side, m cluster.Member) bool {
	for tag, expr := range s.Select {
		v := m.Tags[tag]
		if tag == cluster.TagName {
			v = m.Name
		}
		re, err := Anchored(expr)
		if err != nil || !re.MatchString(v) {
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

// Run plans and executes every run, at most Config.Parallel at a time,
// appending each result as soon as it ends. It returns the results; a run
// that fails is recorded, not fatal. ctx cancellation stops starting new
// runs (they are not recorded) and cuts the running ones short: they are
// recorded as results.OutcomeInterrupted, and the error wraps ctx.Err().
func (e *Executor) Run(ctx context.Context) ([]results.Result, error) {
	runs, err := e.plan(ctx)
	if err != nil {
		return nil, err
	}
	rs, notStarted, err := e.runPlanned(ctx, runs)
	if ctx.Err() != nil && (notStarted > 0 || slices.ContainsFunc(rs, interrupted)) {
		err = errors.Join(err, fmt.Errorf("experiment interrupted: %d of %d runs ended, %d cut short: %w",
			len(rs), len(runs), notStarted, ctx.Err()))
	}
	return rs, err
}

func interrupted(r results.Result) bool { return r.Outcome == results.OutcomeInterrupted }

// runPlanned executes runs; it returns their results, sorted by id, how
// many were never started (ctx ended first) and the store's errors.
func (e *Executor) runPlanned(ctx context.Context, runs []plannedRun) ([]results.Result, int, error) {
	e.Log.Info("experiment", "name", e.Config.Name, "execution", e.Execution, "runs", len(runs), "parallel", e.Config.Parallel)
	if e.Progress != nil {
		e.Progress.Planned(len(runs), e.about(runs))
	}
	var (
		mu      sync.Mutex
		results []results.Result
		wg      sync.WaitGroup
		locks   hostLocks
		sem     = make(chan struct{}, e.Config.Parallel)
		errs    []error
		started int
		first   = time.Now()
	)
	for i, r := range runs {
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
			if e.Stagger > 0 {
				_ = sleep(ctx, time.Until(first.Add(time.Duration(i)*e.Stagger)))
			}
			if ctx.Err() != nil {
				return // never started: not recorded
			}
			mu.Lock()
			started++
			mu.Unlock()
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
	return results, len(runs) - started, errors.Join(errs...)
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
		Schema: results.Schema, Experiment: e.Config.Name, Run: r.ID, Name: r.Name, ExperimentHash: e.Hash, Execution: e.Execution,
		Cell: r.CellIdx, Rep: r.Rep, StartedAt: time.Now(), Lab: e.Lab, Server: r.Server.Host, Client: r.Client.Host,
		Requested: cell.Settings, Mode: cell.Mode, FaultKind: cell.Fault.Kind, FaultScope: cell.Fault.Scope,
		FaultDirection: cell.Fault.Direction, Expect: cell.Expect, Hold: cell.Fault.Hold, UserTimeout: cell.UserTimeout,
	}
	if cell.Scenario != keepalive.ScenarioIdle {
		res.Scenario = cell.Scenario
	}
	if !cell.Heartbeat.IsZero() {
		hb := cell.Heartbeat
		res.Heartbeat = &hb
	}
	if cell.Skip != "" {
		m := cell.Model
		res.Model, res.EndedAt, res.Outcome, res.Why = &m, res.StartedAt, results.OutcomeSkipped, cell.Skip
		return res
	}
	// runCtx ends with the experiment (Ctrl-C) or when an agent of the run
	// restarted (its cause is then a *restartError).
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	w := e.newBootWatch(ctx, r)
	go func() {
		if err := w.loop(runCtx); err != nil {
			cancel(err)
		}
	}()
	fail := func(step string, err error) results.Result {
		res.EndedAt = time.Now()
		res.Outcome, res.Failure = failure(step, err, context.Cause(runCtx), ctx.Err() != nil)
		e.Log.Warn("run "+res.Outcome, "run", r.ID, "step", step, "err", err, "failure", res.Failure)
		return res
	}
	srv, cli := r.Server.Member.Name, r.Client.Member.Name
	roleTTL := cell.Settle + cell.Observe + time.Minute
	call := func(node, step, cmd string, body, out any, opts ...cluster.CallOptions) error {
		var o cluster.CallOptions
		if len(opts) > 0 {
			o = opts[0]
		}
		err := e.Node.Call(runCtx, node, r.Key+"/"+step, cmd, body, out, o)
		if err != nil && runCtx.Err() == nil {
			// A command failed: did the agent restart and lose the run?
			if rerr := w.check(ctx, node); rerr != nil {
				cancel(rerr)
				return rerr
			}
		}
		return err
	}
	defer func() {
		// Cleanup on both agents, even when ctx is cancelled (Ctrl-C).
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, a := range []*agentInfo{r.Client, r.Server} {
			if !a.Outside {
				_ = e.Node.Call(cctx, a.Member.Name, r.Key+"/cleanup", wire.CmdCleanup, wire.CleanupReq{Run: r.Key}, nil, cluster.CallOptions{Attempts: 2})
			}
		}
	}()
	if t := e.Config.Target; t != nil && t.Bisect != nil {
		return e.bisect(runCtx, r, res, call, fail)
	}

	// The greeting nonce: the client reports ready only on this run's
	// server, whatever else listens at the address it was given.
	var nb [wire.NonceLen / 2]byte
	_, _ = rand.Read(nb[:])
	nonce := hex.EncodeToString(nb[:])
	var ps wire.PrepareServerResp
	if t := e.Config.Target; t != nil {
		ps.Addr = netip.AddrPortFrom(r.Server.IP, uint16(t.Port)).String()
	} else if err := call(srv, "prepare-server", wire.CmdPrepareServer, wire.PrepareServerReq{
		Run: r.Key, Mode: string(cell.Mode), ClientAddr: r.Client.IP.String(), TTLMS: roleTTL.Milliseconds(), Nonce: nonce, UserTimeoutMS: cell.UserTimeout.Milliseconds(),
		HeartbeatMS: cell.Heartbeat.Period.Milliseconds(), Misses: cell.Heartbeat.Misses,
		Keepalive: wire.Keepalive{IdleMS: cell.Settings.Idle.Milliseconds(), IntervalMS: cell.Settings.Interval.Milliseconds(), Count: cell.Settings.Count},
	}, &ps); err != nil {
		return fail("prepare server", err)
	}
	var pc wire.PrepareClientResp
	pr := wire.PrepareClientReq{Run: r.Key, ServerAddr: ps.Addr, ServerNode: srv, Nonce: nonce, TTLMS: roleTTL.Milliseconds()}
	if t := e.Config.Target; t != nil {
		pr.Nonce, pr.Target, pr.Hello, pr.Expect = "", true, []byte(t.Hello), []byte(t.Expect)
	}
	if err := call(cli, "prepare-client", wire.CmdPrepareClient, pr, &pc); err != nil {
		return fail("prepare client", err)
	}
	res.ClientEnd, res.ServerEnd = pc.Local, pc.Remote
	if t := e.Config.Target; t != nil {
		var ob wire.ObserveResp
		if err := call(srv, "observe", wire.CmdObserve, wire.ObserveReq{Run: r.Key, Local: ps.Addr, Remote: pc.Local, TTLMS: roleTTL.Milliseconds()}, &ob); err != nil {
			return fail("observe the target", err)
		}
		res.Target = e.targetOf(ob)
	}
	var early wire.CollectResp
	if err := call(srv, "collect-effective", wire.CmdCollect, wire.CollectReq{Run: r.Key}, &early); err != nil {
		return fail("read back options", err)
	}
	if err := e.refuseLongRun(r, effective(early.Options)); err != nil && e.Config.Target == nil {
		res.Effective = effective(early.Options)
		return fail("refused", err)
	}
	e.phase(r, Phase{Name: "settling", Since: time.Now(), Until: time.Now().Add(cell.Settle)})
	if err := sleep(runCtx, cell.Settle); err != nil {
		return fail("settle", err)
	}
	var fr wire.FaultResp
	if err := call(cli, "fault", wire.CmdFault, faultReq(r.Key, cell), &fr); err != nil {
		return fail("fault", err)
	}
	faultLocal := time.Now()
	silenced := Phase{Name: "silenced", Since: faultLocal}
	if cell.Expect == results.ExpectDetected {
		silenced.Window, silenced.Until = cell.Model.AfterFault, faultLocal.Add(cell.Model.AfterFault.Max)
	}
	e.phase(r, silenced)
	res.Emulated, res.FaultHow = fr.Emulated, fr.How
	faultSrv := r.serverClock(fr.AtNS)
	res.Anchors.Fault = &faultSrv
	res.Anchors.FaultBound = r.Client.Offset.Bound + r.Server.Offset.Bound
	if cell.Scenario == keepalive.ScenarioUnacked {
		// The server writes now: with the peer silent the data stays
		// unacknowledged and the retransmission timer decides.
		var wr wire.WriteResp
		if err := call(srv, "write", wire.CmdWrite, wire.WriteReq{Run: r.Key}, &wr); err != nil {
			return fail("write", err)
		}
		at := time.Unix(0, wr.AtNS)
		res.Anchors.Write = &at
		if wr.Err != "" {
			res.Note = addNote(res.Note, "write after the fault: "+wr.Err)
		}
		hostRetransmit(&res, wr)
	}

	var col wire.CollectResp
	healed := false
	heal := func() error {
		var hr wire.HealResp
		if err := call(cli, "heal", wire.CmdHeal, wire.HealReq{Run: r.Key}, &hr); err != nil {
			return err
		}
		healed = true
		res.FaultInPackets, res.FaultOutPackets = hr.InPackets, hr.OutPackets
		res.FaultCounted, res.FaultEvidence = hr.Counted, hr.Evidence
		at := r.serverClock(hr.AtNS)
		res.Anchors.Healed = &at
		return nil
	}
	// A fault with a hold heals at faultLocal + hold, while the server is
	// still observed; a survives run then stops observing and echoes.
	deadline := faultLocal.Add(cell.Observe)
	healAt := faultLocal.Add(cell.Fault.Hold)
	hold := cell.Fault.Hold > 0 && cell.Fault.Kind != results.KindKill
	for i := 0; ; i++ {
		if err := call(srv, fmt.Sprintf("collect-%d", i), wire.CmdCollect, wire.CollectReq{Run: r.Key}, &col); err != nil {
			return fail("collect", err)
		}
		if col.Done {
			break
		}
		if time.Now().After(deadline) {
			// One more look: under load the last answer may have left the
			// agent well before the deadline, and a detection the agent
			// recorded inside the window must not be lost to that lag.
			if err := call(srv, "collect-last", wire.CmdCollect, wire.CollectReq{Run: r.Key}, &col); err != nil {
				return fail("collect", err)
			}
			break
		}
		if hold && !healed && !time.Now().Before(healAt) {
			if err := heal(); err != nil {
				return fail("heal", err)
			}
			if cell.Expect == results.ExpectSurvives {
				break
			}
		}
		wait := 250 * time.Millisecond
		if hold && !healed {
			wait = max(0, min(wait, time.Until(healAt)))
		}
		if err := sleep(runCtx, wait); err != nil {
			return fail("observe", err)
		}
	}
	if cell.Fault.Kind != results.KindKill && !healed {
		if err := heal(); err != nil {
			return fail("heal", err)
		}
	}
	if cell.Expect == results.ExpectSurvives && !col.Done {
		if err := e.echo(&res, call, srv, r.Key); err != nil {
			return fail("echo", err)
		}
		if err := call(srv, "collect-final", wire.CmdCollect, wire.CollectReq{Run: r.Key}, &col); err != nil {
			return fail("collect", err)
		}
	}
	e.record(&res, r, col)
	res.EndedAt = time.Now()
	return res
}

// echo asks the run's server, after the heal, to send a few bytes on the
// connection and wait for the client to send them back, and records the
// round trip (or why it failed) in res. Only a command that could not be
// carried out is an error; a lost echo is the run's measurement.
func (e *Executor) echo(res *results.Result, call callFunc, srv, run string) error {
	var er wire.EchoResp
	// The server waits up to 5 s for the echo: a query timeout of 10 s
	// leaves room for the trip.
	if err := call(srv, "echo", wire.CmdEcho, wire.EchoReq{Run: run}, &er, cluster.CallOptions{Timeout: 10 * time.Second, Attempts: 2}); err != nil {
		return err
	}
	if er.OK {
		res.EchoRTT = ptrDur(time.Duration(er.RTTNS))
		res.Survived = true
	} else {
		res.EchoErr = wire.Truncate(er.Err, 160)
	}
	return nil
}

// callFunc sends one command of a run to an agent (execute's call).
type callFunc func(node, step, cmd string, body, out any, opts ...cluster.CallOptions) error

// faultReq is the fault command for a run of cell. A drop both ways is
// sent without a direction (the agent's default), so agents from before
// directions still take it; a one-way drop names its direction, which such
// an agent refuses as an unknown field instead of dropping both ways.
func faultReq(run string, cell Cell) wire.FaultReq {
	req := wire.FaultReq{Run: run, Kind: cell.Fault.Kind, Scope: cell.Fault.Scope, TTLMS: (cell.Observe + 30*time.Second).Milliseconds()}
	if cell.Fault.Hold > 0 && cell.Fault.Kind != results.KindKill {
		// The agent ends the outage on its own clock; the heal command
		// that follows only collects the counters.
		req.HoldMS = cell.Fault.Hold.Milliseconds()
	}
	if cell.Fault.Direction != results.DirectionBoth {
		req.Direction = cell.Fault.Direction
	}
	return req
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
	if !ok || r.Cell.Expect == results.ExpectSurvives {
		return nil // nothing read back, or the hold bounds the run: the plan's prediction stands
	}
	plat := keepalive.Platform{OS: r.Server.Host.OS, Build: r.Server.Host.Build}
	limits, err := keepalive.RetransmitDefaults(plat)
	if err != nil {
		return nil
	}
	p, err := CellModel(plat, eff, keepalive.PhaseCycling, r.Server.Host.HZ, r.Cell.Scenario, r.Cell.UserTimeout, limits, PlanRTT)
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
	if col.AcceptNS != 0 { // an observed service's accept is not seen
		res.Anchors.Accept = ptrTime(&col.AcceptNS)
	}
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
	if t := res.Target; t != nil {
		t.Ended, t.Timer, t.EffectiveFrom = col.Ended, col.Timer, col.EffectiveFrom
	}

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
	if r.Cell.Scenario == keepalive.ScenarioHeartbeat {
		if pred, err := keepalive.PredictHeartbeat(plat, r.Cell.Heartbeat, PlanRTT); err == nil {
			res.Model = &pred
		}
	} else if r.Cell.Scenario == keepalive.ScenarioUnacked {
		res.Model = unackedModel(res, plat, eff, phase, hz, uto)
	} else if pred, err := keepalive.Predict(plat, eff, phase, keepalive.ModelOptions{HZ: hz, UserTimeout: uto}); err == nil {
		res.Model = &pred
	}
	a := res.Anchors
	if a.Detection != nil {
		if a.LastPeer != nil {
			res.Measured.FromT0 = ptrDur(a.Detection.Sub(*a.LastPeer))
			if res.Model != nil && r.Cell.Expect == results.ExpectDetected && r.Cell.Scenario != keepalive.ScenarioUnacked &&
				(results.IsKeepaliveDetection(res.ErrnoName) || res.ErrnoName == results.HeartbeatTimeout) {
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

// addNote appends one remark to a result's "; "-separated Note.
func addNote(note, s string) string {
	if note == "" {
		return s
	}
	return note + "; " + s
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

// restartError fails a run whose agent restarted: the new process knows
// nothing of the run, so waiting for it would only time out.
type restartError struct{ agent string }

func (e *restartError) Error() string {
	return fmt.Sprintf("agent %s restarted (boot id changed)", e.agent)
}

// failure decides how a run that stopped at step is recorded: failed
// with the restart when an agent restarted (err or the run context's
// cause says so), interrupted when the experiment was stopped (Ctrl-C),
// otherwise failed with step and err.
func failure(step string, err, cause error, stopped bool) (outcome, why string) {
	var re *restartError
	if errors.As(err, &re) || errors.As(cause, &re) {
		return results.OutcomeFailed, re.Error()
	}
	if stopped {
		return results.OutcomeInterrupted, "experiment stopped during " + step
	}
	return results.OutcomeFailed, fmt.Sprintf("%s: %v", step, err)
}

// bootChanged reports whether an agent's status shows another process
// than the one with boot id want. An agent that reports no boot id (older
// than boot ids) is never taken for restarted; one that stops reporting
// it after having one is.
func bootChanged(want string, st wire.StatusResp) bool {
	return want != "" && st.BootID != want
}

// statusFunc asks an agent for its status (Node.Call with CmdStatus).
type statusFunc func(ctx context.Context, node, id string) (wire.StatusResp, error)

// bootWatch notices, during one run, that one of its agents restarted.
type bootWatch struct {
	run    string
	every  time.Duration
	status statusFunc
	agents []*agentInfo
	want   map[string]string // agent name → boot id when the run started
	n      atomic.Int64      // command ids
	log    *slog.Logger
}

// newBootWatch takes the run's agents' boot ids as they are now: an agent
// that restarted since the plan (between runs) has lost nothing of this
// run, and its new process serves it.
func (e *Executor) newBootWatch(ctx context.Context, r plannedRun) *bootWatch {
	agents := []*agentInfo{r.Server, r.Client}
	if r.Server.Outside {
		agents = agents[1:] // a service with no agent: nothing to ask
	}
	w := &bootWatch{run: r.Key, every: cmp.Or(e.BootCheck, 2*time.Second), agents: agents,
		want: map[string]string{}, log: e.Log, status: func(ctx context.Context, node, id string) (wire.StatusResp, error) {
			var st wire.StatusResp
			err := e.Node.Call(ctx, node, id, wire.CmdStatus, wire.StatusReq{}, &st, cluster.CallOptions{Attempts: 1, Timeout: 2 * time.Second})
			return st, err
		}}
	w.start(ctx)
	return w
}

// start records each agent's current boot id (the planned one when the
// agent does not answer), updating the agent's when it changed.
func (w *bootWatch) start(ctx context.Context) {
	for _, a := range w.agents {
		a.mu.Lock()
		boot := a.boot
		a.mu.Unlock()
		if st, err := w.ask(ctx, a.Member.Name); err == nil && bootChanged(boot, st) {
			w.log.Warn("agent restarted since the plan; its new process takes this run", "agent", a.Member.Name, "run", w.run)
			boot = st.BootID
			a.mu.Lock()
			a.boot = boot
			a.mu.Unlock()
		}
		w.want[a.Member.Name] = boot
	}
}

func (w *bootWatch) ask(ctx context.Context, node string) (wire.StatusResp, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return w.status(ctx, node, fmt.Sprintf("%s/status-%d", w.run, w.n.Add(1)))
}

// check asks one agent of the run for its boot id: a *restartError when
// it changed (the agent's new boot id then stands for later runs), nil
// when it did not or the agent did not answer (a paused VM, a cut link:
// the run's own commands tell).
func (w *bootWatch) check(ctx context.Context, node string) error {
	want, ok := w.want[node]
	if !ok || want == "" {
		return nil
	}
	st, err := w.ask(ctx, node)
	if err != nil || !bootChanged(want, st) {
		return nil
	}
	for _, a := range w.agents {
		if a.Member.Name == node {
			a.mu.Lock()
			if a.boot == want {
				a.boot = st.BootID
			}
			a.mu.Unlock()
		}
	}
	w.log.Warn("agent restarted during a run", "agent", node, "run", w.run)
	return &restartError{agent: node}
}

// loop checks both agents every w.every until ctx ends (nil) or one of
// them restarted (its *restartError).
func (w *bootWatch) loop(ctx context.Context) error {
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for _, a := range w.agents {
			if err := w.check(ctx, a.Member.Name); err != nil && ctx.Err() == nil {
				return err
			}
		}
	}
}

// hostRetransmit keeps what the server's agent reported with its write:
// the smoothed RTT and the host's retransmission values. Values for
// another OS than the server's (a confused or old agent) are dropped, so
// the model falls back to stock values and says so.
func hostRetransmit(res *results.Result, wr wire.WriteResp) {
	if wr.RTTUS != nil && *wr.RTTUS >= 0 && *wr.RTTUS <= time.Minute.Microseconds() {
		rtt := time.Duration(*wr.RTTUS) * time.Microsecond
		res.RTT = &rtt
	}
	if l := wr.Retransmit; l != nil {
		if l.OS != res.Server.OS {
			res.Note = addNote(res.Note, fmt.Sprintf("the server's agent reported retransmission values for %q, not %q: ignored", l.OS, res.Server.OS))
		} else {
			res.Retransmit = l
		}
	}
	if wr.RetransmitErr != "" {
		res.Note = addNote(res.Note, "some retransmission values could not be read on the server (their defaults stand): "+wr.RetransmitErr)
	}
}

// unackedModel predicts an unacked run from the server host's
// retransmission values and the RTT its agent reported, or the OS's stock
// values and PlanRTT where it reported none (Note says which), shifted
// from the write to the fault.
func unackedModel(res *results.Result, plat keepalive.Platform, eff keepalive.Settings, phase keepalive.Phase, hz int, uto time.Duration) *keepalive.Prediction {
	rtt, rttFrom := PlanRTT, "assumed "+keepalive.ShortDuration(PlanRTT)+" (the server's OS has no TCP_INFO)"
	if res.RTT != nil {
		rtt, rttFrom = *res.RTT, "measured "+res.RTT.String()+" (TCP_INFO)"
	}
	var limits keepalive.RetransmitLimits
	from := "the server's values"
	if res.Retransmit != nil {
		limits = *res.Retransmit
	} else {
		var err error
		if limits, err = keepalive.RetransmitDefaults(plat); err != nil {
			return nil
		}
		from = "stock values (no usable values from the server's agent)"
	}
	pred, err := CellModel(plat, eff, phase, hz, keepalive.ScenarioUnacked, uto, limits, rtt)
	if err != nil && res.Retransmit != nil {
		// Values the model cannot use: say so and use the stock ones.
		res.Note = addNote(res.Note, "the server's retransmission values do not fit the model ("+err.Error()+"): stock values used")
		if limits, err = keepalive.RetransmitDefaults(plat); err != nil {
			return nil
		}
		from = "stock values"
		pred, err = CellModel(plat, eff, phase, hz, keepalive.ScenarioUnacked, uto, limits, rtt)
	}
	if err != nil {
		return nil
	}
	names := make([]string, len(limits.Values))
	for i, v := range limits.Values {
		names[i] = v.Name + " = " + v.Value + " (" + v.Source + ")"
	}
	res.Note = addNote(res.Note, "retransmission model with "+from+": "+strings.Join(names, ", ")+"; RTT "+rttFrom)
	if a := res.Anchors; a.Write != nil && a.Fault != nil {
		// The model runs from the write: shift it to the fault.
		d := a.Write.Sub(*a.Fault)
		pred.AfterFault = keepalive.Window{Min: pred.AfterFault.Min + d, Max: pred.AfterFault.Max + d}
	}
	return &pred
}
