// Package concbench measures what many measured connections cost kalab
// and whether they cost it accuracy: one server agent and one client
// agent carry Conns experiment runs at once (keepalive 1s/1s/3, a flow
// drop each, starts staggered so the faults are too), after one run alone
// for comparison, then Consecutive runs one after another. Between the
// phases it asks both agents for their own resource use (wire.StatusReq
// Self): peak RSS, CPU time, goroutines and open descriptors, so a leak
// shows as growth from one quiet point to the next. `coordinator bench
// concurrency --lab` runs it inside the netns lab with a packet capture,
// and compares the concurrent runs with the capture afterwards
// (internal/fidelity). The figures are data to publish
// (docs/benchmarks.md), not a pass/fail check.
package concbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/clusterbench"
	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/wire"
)

// The lab agents the bench uses: the server role on the first, the client
// role (and its faults) on the second.
const (
	ServerAgent = "lab-agent-1"
	ClientAgent = "lab-agent-2"
)

// MaxConns is the most runs an agent holds at once (the agent's
// max_runs limit, agentd.MaxMaxRuns): the concurrent phase's ceiling.
const MaxConns = 1024

// AgentMaxRuns is the --max-runs the lab's agents need for conns runs at
// once: at least the agents' default (64).
func AgentMaxRuns(conns int) int { return max(conns, 64) }

// Phase directories under Options.Out, each an experiment output directory
// (results.jsonl and the report).
const (
	SingleDir      = "single"
	ConcurrentDir  = "concurrent"
	ConsecutiveDir = "consecutive"
)

// Options say how much to run.
type Options struct {
	// Join is how the coordinator joins (it must find ServerAgent and
	// ClientAgent).
	Join experiment.JoinOptions
	// Conns is how many runs the concurrent phase carries at once (≥ 1).
	Conns int
	// Consecutive is how many runs the leak phase carries one after
	// another (0 skips it).
	Consecutive int
	// Stagger spreads the concurrent runs' starts (experiment
	// RunOptions.Stagger); 0 picks 10 ms.
	Stagger time.Duration
	// Out is the output directory: one experiment directory per phase.
	Out string
	// Lab marks the results as measured in the netns lab.
	Lab bool
	// Status receives a progress line every few seconds (nil: none).
	Status io.Writer
}

// Report is bench.json. Durations are in milliseconds.
type Report struct {
	// Date is when the bench started (UTC); CPUs the machine's logical CPUs.
	Date time.Time `json:"date"`
	CPUs int       `json:"cpus"`
	// Settings is the keepalive every run used and Fault its fault.
	Settings string `json:"settings"`
	Fault    string `json:"fault"`
	// Phases in the order they ran: single, concurrent, consecutive.
	Phases []Phase `json:"phases"`
}

// Phase is one execution and what it cost the agents.
type Phase struct {
	// Name is "single", "concurrent" or "consecutive"; Parallel how many
	// runs were in flight at most; StaggerMS the concurrent starts'
	// spacing.
	Name      string  `json:"name"`
	Parallel  int     `json:"parallel"`
	StaggerMS float64 `json:"stagger_ms,omitempty"`
	// Planned is how many runs the phase set out to do; Outcomes the
	// recorded runs per outcome; Lost the planned runs with no record.
	Planned  int            `json:"planned"`
	Outcomes map[string]int `json:"outcomes"`
	Lost     int            `json:"lost"`
	// Failures are up to 5 distinct failure texts of failed runs.
	Failures []string `json:"failures,omitempty"`
	// WallMS is the execution's wall time (planning included); RunMS the
	// distribution of the runs' own durations (StartedAt to EndedAt).
	WallMS float64 `json:"wall_ms"`
	RunMS  Stats   `json:"run_ms"`
	// Detection is the distribution of detection − the fault
	// (Measured.AfterFault) over the runs that measured it.
	Detection Stats `json:"after_fault_ms"`
	// Agents are both agents' usage before and after the phase (each
	// "after" taken once their runs were cleaned up and SettleAfter had
	// passed).
	Agents []AgentUsage `json:"agents"`
	// Dir is the phase's experiment output directory.
	Dir string `json:"dir"`
}

// AgentUsage is one agent's resource use around a phase.
type AgentUsage struct {
	// Agent is its name and Role "server" or "client".
	Agent string `json:"agent"`
	Role  string `json:"role"`
	// Before and After are its StatusResp.Self readings.
	Before wire.Usage `json:"before"`
	After  wire.Usage `json:"after"`
	// ActiveAfter is how many runs it still held state for afterwards
	// (StatusResp.Active): non-zero is a leftover.
	ActiveAfter int `json:"active_after"`
}

// Stats is a distribution in milliseconds (percentiles by nearest rank)
// and its sample count.
type Stats struct {
	// N is how many values the distribution has.
	N int `json:"n"`
	clusterbench.Stats
}

func distribution(ds []time.Duration) Stats {
	return Stats{N: len(ds), Stats: clusterbench.Distribution(ds)}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// SettleAfter is how long the bench waits after a phase before reading the
// agents' usage: client children exit and their goroutines end.
const SettleAfter = 3 * time.Second

// Settings and fault of every run.
const (
	settings = "1s/1s/3"
	fault    = "drop (flow, both ways)"
)

// Config is the experiment file of every phase: repetitions of one drop
// run between the two lab agents. An experiment file allows at most 100
// repetitions and parallel 64; the bench sets the phase's real counts on
// the loaded config (runPhase).
func Config(name string, reps int) string {
	return fmt.Sprintf(`# Written by coordinator bench concurrency.
name = %q
description = "1s/1s/3 x flow drop, %d repetitions"
repetitions = %d
parallel = 1
max_run = "2m"
margin = "1s"

[server]
select = { os = "linux", name = %q }

[client]
select = { os = "linux", name = %q }

[[settings]]
idle = "1s"
interval = "1s"
count = 3

[[faults]]
kind = "drop"
`, name, reps, min(reps, 100), ServerAgent, ClientAgent)
}

// Run joins, carries out the phases, leaves, and returns the report. A
// phase that could not run at all is an error; runs that failed are data.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Conns < 1 || o.Consecutive < 0 {
		return nil, errors.New("concbench: conns must be ≥ 1 and consecutive ≥ 0")
	}
	if o.Stagger == 0 {
		o.Stagger = 10 * time.Millisecond
	}
	if o.Status == nil {
		o.Status = io.Discard
	}
	rep := &Report{Date: time.Now().UTC().Truncate(time.Second), CPUs: runtime.NumCPU(), Settings: settings, Fault: fault}
	node, err := experiment.JoinCluster(ctx, o.Join)
	if err != nil {
		return nil, err
	}
	defer func() { node.Leave(); node.Shutdown() }()
	for _, p := range []struct {
		name           string
		reps, parallel int
		stagger        time.Duration
	}{
		{SingleDir, 1, 1, 0},
		{ConcurrentDir, o.Conns, o.Conns, o.Stagger},
		{ConsecutiveDir, o.Consecutive, 1, 0},
	} {
		if p.reps == 0 {
			continue
		}
		ph, err := runPhase(ctx, node, o, p.name, p.reps, p.parallel, p.stagger)
		if err != nil {
			return rep, fmt.Errorf("%s phase: %w", p.name, err)
		}
		rep.Phases = append(rep.Phases, ph)
	}
	return rep, nil
}

// runPhase reads the agents' usage, runs one execution, waits SettleAfter
// and reads it again.
func runPhase(ctx context.Context, node *cluster.Node, o Options, name string, reps, parallel int, stagger time.Duration) (Phase, error) {
	ph := Phase{Name: name, Parallel: parallel, Planned: reps, Outcomes: map[string]int{}, Dir: filepath.Join(o.Out, name)}
	if stagger > 0 {
		ph.StaggerMS = ms(stagger)
	}
	before, _, err := usage(ctx, node)
	if err != nil {
		return ph, err
	}
	if err := os.MkdirAll(ph.Dir, 0o755); err != nil {
		return ph, err
	}
	path := filepath.Join(ph.Dir, "bench-concurrency.toml")
	if err := os.WriteFile(path, []byte(Config("bench-concurrency-"+name, reps)), 0o644); err != nil {
		return ph, err
	}
	c, _, err := experiment.LoadPlan(path)
	if err != nil {
		return ph, err
	}
	c.Repetitions, c.Parallel = reps, parallel
	_ = os.Remove(filepath.Join(ph.Dir, experiment.ResultsFile)) // a fresh execution, not a merge with the last
	prog := newCounter(o.Status, name, reps)
	start := time.Now()
	sum, err := experiment.Run(ctx, experiment.RunOptions{Config: c, Out: ph.Dir, Node: node, Lab: o.Lab, Stagger: stagger, Progress: prog})
	ph.WallMS = ms(time.Since(start))
	prog.stop()
	if err != nil && len(sum.Results) == 0 {
		return ph, err
	}
	ph.Lost = reps - len(sum.Results)
	var runs, det []time.Duration
	for _, r := range sum.Results {
		ph.Outcomes[r.Outcome]++
		runs = append(runs, r.EndedAt.Sub(r.StartedAt))
		if r.Measured.AfterFault != nil {
			det = append(det, *r.Measured.AfterFault)
		}
		if r.Failure != "" && len(ph.Failures) < 5 && !slices.Contains(ph.Failures, r.Failure) {
			ph.Failures = append(ph.Failures, r.Failure)
		}
	}
	ph.RunMS, ph.Detection = distribution(runs), distribution(det)
	select {
	case <-time.After(SettleAfter):
	case <-ctx.Done():
		return ph, ctx.Err()
	}
	after, active, err := usage(ctx, node)
	if err != nil {
		return ph, err
	}
	for i, a := range []string{ServerAgent, ClientAgent} {
		ph.Agents = append(ph.Agents, AgentUsage{Agent: a, Role: []string{"server", "client"}[i], Before: before[a], After: after[a], ActiveAfter: active[a]})
	}
	return ph, nil
}

// usage asks both agents for their own resource use.
func usage(ctx context.Context, node *cluster.Node) (map[string]wire.Usage, map[string]int, error) {
	u, active := map[string]wire.Usage{}, map[string]int{}
	for _, a := range []string{ServerAgent, ClientAgent} {
		var st wire.StatusResp
		id := fmt.Sprintf("bench-usage-%s-%d", a, time.Now().UnixNano())
		if err := node.Call(ctx, a, id, wire.CmdStatus, wire.StatusReq{Self: true}, &st, cluster.CallOptions{}); err != nil {
			return nil, nil, fmt.Errorf("usage of %s: %w", a, err)
		}
		if st.Self == nil {
			return nil, nil, fmt.Errorf("usage of %s: the agent does not report its own usage (kalab %s is older than the bench)", a, st.Kalab)
		}
		u[a], active[a] = *st.Self, st.Active
	}
	return u, active, nil
}

// counter is the bench's progress: how many runs of the phase ended, by
// outcome, every 5 s (a thousand progress bars would be unreadable).
type counter struct {
	mu    sync.Mutex
	done  map[string]int
	ended int
	halt  chan struct{}
	wg    sync.WaitGroup
}

func newCounter(w io.Writer, phase string, planned int) *counter {
	c := &counter{done: map[string]int{}, halt: make(chan struct{})}
	start := time.Now()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-c.halt:
				return
			case <-t.C:
				c.mu.Lock()
				fmt.Fprintf(w, "%s: %d of %d runs ended after %s (%d pass, %d deviation, %d unconfirmed, %d failed)\n", phase, c.ended, planned,
					time.Since(start).Round(time.Second), c.done[results.OutcomePass], c.done[results.OutcomeDeviation], c.done[results.OutcomeUnconfirmed], c.done[results.OutcomeFailed])
				c.mu.Unlock()
			}
		}
	}()
	return c
}

func (c *counter) stop() { close(c.halt); c.wg.Wait() }

func (c *counter) Planned(int, time.Duration)     {}
func (c *counter) Start(string, time.Duration)    {}
func (c *counter) Phase(string, experiment.Phase) {}
func (c *counter) Done(_ string, res results.Result) {
	c.mu.Lock()
	c.done[res.Outcome]++
	c.ended++
	c.mu.Unlock()
}
