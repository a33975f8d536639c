// Package clusterbench measures kalab's control plane: how long the
// coordinator takes to see every agent alive, the latency of a command
// (wire.CmdStatus) sent alone and many at once, the clock-offset estimate
// per agent, and how long one command chain to every ordered agent pair
// takes when all pairs are dispatched at once. It runs inside the
// coordinator's cluster member (`coordinator bench cluster --lab` runs it
// in the netns lab). The figures are data to publish
// (docs/benchmarks.md), not a pass/fail check.
package clusterbench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/wire"
)

// Options say what to measure.
type Options struct {
	// Join is how the coordinator joins; its ExpectAgents is the number of
	// agents the join waits for, and every alive agent is measured.
	Join experiment.JoinOptions
	// Commands is how many status commands each latency phase sends
	// (spread round-robin over the agents).
	Commands int
	// Parallel is how many commands the concurrent phase keeps in flight
	// (0: one per agent).
	Parallel int
	// Samples is how many status round trips each clock offset takes
	// (0: 5).
	Samples int
}

// Report is bench.json. Durations are in milliseconds.
type Report struct {
	// Date is when the bench started (UTC); CPUs the machine's logical
	// CPUs; Agents the agents alive after the join.
	Date   time.Time `json:"date"`
	CPUs   int       `json:"cpus"`
	Agents int       `json:"agents"`
	// JoinMS is the wall time of experiment.JoinCluster: from starting the
	// coordinator's serf node until ExpectAgents agents are alive in its
	// member list (polled every 250 ms, so up to 250 ms late).
	JoinMS float64 `json:"join_ms"`
	// Sequential is one status command at a time; Concurrent the same
	// count with Parallel in flight.
	Sequential Latency `json:"sequential"`
	Concurrent Latency `json:"concurrent"`
	// Clock is cluster.ClockOffset for every agent, one after another.
	Clock Clock `json:"clock"`
	// Dispatch is the all-pairs chain (see Dispatch).
	Dispatch Dispatch `json:"dispatch"`
}

// Latency is the distribution of one phase's command round trips, each
// timed around cluster.Node.Call (signing, the serf query, the agent's
// answer, decoding; retries included: default CallOptions, 5 s × 4).
type Latency struct {
	// Parallel is how many commands were in flight; N how many answered;
	// Failed how many did not (Errors holds up to 5 of their errors).
	Parallel int      `json:"parallel"`
	N        int      `json:"n"`
	Failed   int      `json:"failed"`
	Errors   []string `json:"errors,omitempty"`
	// Retried counts the answered commands that took ≥ RetryAfter: their
	// first attempt got no answer.
	Retried int `json:"retried"`
	// WallMS is the phase's wall time; Stats the answered round trips.
	WallMS float64 `json:"wall_ms"`
	Stats
}

// Stats is a distribution in milliseconds (percentiles by nearest rank).
type Stats struct {
	// P50MS, P95MS, P99MS and MaxMS are its percentiles and maximum.
	P50MS float64 `json:"p50_ms"`
	P95MS float64 `json:"p95_ms"`
	P99MS float64 `json:"p99_ms"`
	MaxMS float64 `json:"max_ms"`
}

// Clock is the clock-offset estimate of every agent.
type Clock struct {
	// Samples is the round trips per estimate; Agents each agent's result.
	Samples int           `json:"samples"`
	Agents  []AgentOffset `json:"agents"`
	// AbsOffset is the distribution of |offset|, Bound that of the bounds
	// (half the best round trip); WithinBound counts agents whose |offset|
	// ≤ bound. In the lab every host reads the same clock, so the true
	// offset is 0 and |offset| is the estimate's error.
	AbsOffset   Stats `json:"abs_offset"`
	Bound       Stats `json:"bound"`
	WithinBound int   `json:"within_bound"`
	// MS is the wall time of all the estimates.
	MS float64 `json:"ms"`
}

// AgentOffset is one agent's estimate.
type AgentOffset struct {
	// Agent is its name; OffsetMS its clock − the coordinator's; BoundMS
	// the estimate's ± bound; Err why there is none.
	Agent    string  `json:"agent"`
	OffsetMS float64 `json:"offset_ms"`
	BoundMS  float64 `json:"bound_ms"`
	Err      string  `json:"error,omitempty"`
}

// Dispatch is one chain per ordered agent pair (server, client): a status
// to the server, then one to the client (the order of a run's
// prepare-server and prepare-client), all N×(N−1) chains started at once.
type Dispatch struct {
	// Pairs is N×(N−1); Failed the chains with a failed command (Errors
	// holds up to 5 of their errors).
	Pairs  int      `json:"pairs"`
	Failed int      `json:"failed"`
	Errors []string `json:"errors,omitempty"`
	// AloneMS is the median of AloneN chains run one at a time before
	// the matrix (pairs in matrix order): a chain without contention,
	// the shortest the whole matrix could take.
	AloneMS float64 `json:"alone_ms"`
	AloneN  int     `json:"alone_n"`
	// WallMS is from the matrix's start until its last chain ended;
	// LongestMS its longest chain (wall can be no shorter; all chains
	// start at once, so the two differ only by start-up); SumMS all
	// chains' durations added; Ratio WallMS/LongestMS; AloneRatio
	// WallMS/AloneMS.
	WallMS     float64 `json:"wall_ms"`
	LongestMS  float64 `json:"longest_ms"`
	SumMS      float64 `json:"sum_ms"`
	Ratio      float64 `json:"wall_over_longest"`
	AloneRatio float64 `json:"wall_over_alone"`
	// Retried counts the matrix's answered commands that took ≥
	// RetryAfter.
	Retried int `json:"retried"`
	// Chain is the distribution of the chains' durations, Command that
	// of their single commands under this load.
	Chain   Stats `json:"chain"`
	Command Stats `json:"command"`
}

// RetryAfter is the per-attempt timeout of the default
// cluster.CallOptions the bench sends with: a command that took at least
// this long was answered only on a retry.
const RetryAfter = 5 * time.Second

// retried counts the durations ≥ RetryAfter.
func retried(ds ...time.Duration) int {
	n := 0
	for _, d := range ds {
		if d >= RetryAfter {
			n++
		}
	}
	return n
}

// Run joins, measures every phase, leaves, and returns the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Commands < 1 {
		return nil, errors.New("clusterbench: commands must be ≥ 1")
	}
	if o.Samples < 1 {
		o.Samples = 5
	}
	rep := &Report{Date: time.Now().UTC(), CPUs: runtime.NumCPU()}
	start := time.Now()
	node, err := experiment.JoinCluster(ctx, o.Join)
	if err != nil {
		return nil, err
	}
	rep.JoinMS = ms(time.Since(start))
	defer func() {
		_ = node.Leave()
		_ = node.Shutdown()
	}()
	var agents []string
	for _, m := range node.Members() {
		if m.Tags[cluster.TagRole] == "agent" {
			agents = append(agents, m.Name)
		}
	}
	rep.Agents = len(agents)
	if len(agents) == 0 {
		return nil, errors.New("clusterbench: no agent alive")
	}
	if o.Parallel < 1 {
		o.Parallel = len(agents)
	}
	b := &bench{node: node, prefix: "bench-" + randHex()}
	rep.Sequential = b.latency(ctx, agents, o.Commands, 1)
	rep.Concurrent = b.latency(ctx, agents, o.Commands, o.Parallel)
	rep.Clock = clock(ctx, node, agents, o.Samples)
	rep.Dispatch = b.dispatch(ctx, agents)
	return rep, ctx.Err()
}

// bench sends status commands with unique ids.
type bench struct {
	node   *cluster.Node
	prefix string
	mu     sync.Mutex
	seq    int
}

// status sends one status command to agent and times it.
func (b *bench) status(ctx context.Context, agent string) (time.Duration, error) {
	b.mu.Lock()
	b.seq++
	id := fmt.Sprintf("%s-%d", b.prefix, b.seq)
	b.mu.Unlock()
	var st wire.StatusResp
	t := time.Now()
	err := b.node.Call(ctx, agent, id, wire.CmdStatus, wire.StatusReq{}, &st, cluster.CallOptions{})
	return time.Since(t), err
}

func randHex() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
