// Package agentd is the agent daemon: a cluster member that answers typed
// commands by playing the server or client role and applying faults to its
// own client processes. It keeps per-run state, answers duplicates from its
// record (cluster does that per command id), heals every fault by deadman,
// and sweeps what a previous agent left behind when it starts.
package agentd

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kalab-dev/kalab/internal/privilege"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/fault"
	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/observe"
	"github.com/kalab-dev/kalab/internal/role"
	"github.com/kalab-dev/kalab/internal/selfusage"
	"github.com/kalab-dev/kalab/internal/version"
	"github.com/kalab-dev/kalab/internal/wire"
)

// maxRoleTTL bounds every role and fault an agent will accept.
const maxRoleTTL = fault.MaxTTL

// Agent is the daemon.
type Agent struct {
	cfg      Config
	log      *slog.Logger
	node     *cluster.Node
	plat     keepalive.Platform
	hz       int
	ip       netip.Addr
	serfPort uint16

	bootID   string
	stop     chan struct{}
	stopOnce sync.Once

	mu   sync.Mutex
	runs map[string]*runState
}

// runState is what the agent holds for one run until cleanup or its TTL.
type runState struct {
	server *role.Server
	// observer watches a real service's side of the run's connection (an
	// experiment's [target] on this host), instead of a server role.
	observer *observe.Observer
	client   *role.Client
	fault    *fault.Active
	kind     string
	// applying is set while a fault is being applied outside the lock.
	applying bool
	// until is when the run's roles end at the latest (the largest TTL
	// asked for); the janitor removes the state after it.
	until time.Time
	// journal is the fault's journal entry (empty without data_dir).
	journal string
	// healed is the heal record taken when the agent ended a held fault
	// by itself (FaultReq.HoldMS): its counters were read just before the
	// rules went, so the coordinator's later heal returns them.
	healed *wire.HealResp
	// healBy says who is healing the fault in force, for its heal event
	// (healing, watchHeal); a new one per fault, so that an earlier
	// fault's heal event never takes a later fault's healer.
	healBy *string
	// log is the run's events (CmdEvents and the subscriber's pushes).
	log *eventLog
}

// New validates the config; no side effects.
func New(cfg Config) (*Agent, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	ap, _ := cfg.ServeAddr() // Validate checked it
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	return &Agent{cfg: cfg, log: lg.With("agent", cfg.Name), ip: ap.Addr(), serfPort: ap.Port(), runs: map[string]*runState{},
		bootID: newBootID(), stop: make(chan struct{})}, nil
}

// capabilities and isPrivileged are variables so tests can fake the OS.
var (
	capabilities = fault.Capabilities
	isPrivileged = privilege.Elevated
)

// caps says what this host can do, for the caps tag: the fault kinds it
// can apply now, and "root"/"admin" when it has the privileges.
func (a *Agent) caps() string {
	var c []string
	for _, k := range capabilities(a.cfg.Hypervisor, a.cfg.LabEmulateVM) {
		if k.OK {
			c = append(c, k.Kind)
		}
	}
	if isPrivileged() {
		c = append(c, "privileged")
	}
	return strings.Join(c, ",")
}

// Start sweeps leftovers, joins the cluster and starts answering.
func (a *Agent) Start() error {
	if a.cfg.DataDir != "" {
		if err := os.MkdirAll(a.cfg.DataDir, 0o700); err != nil {
			return fmt.Errorf("agent: data dir: %w", err)
		}
		_ = os.WriteFile(filepath.Join(a.cfg.DataDir, "agent.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
	}
	if a.cfg.DataDir != "" {
		fault.SetStateDir(a.cfg.DataDir)
	}
	// Sweep: a crashed agent may have left drop rules or pf references (its
	// clients died with it: Pdeathsig on Linux, the job object on Windows).
	if isPrivileged() {
		if err := fault.Sweep(0); err != nil {
			a.log.Warn("sweep of old faults failed", "err", err)
		}
	}
	a.plat = keepalive.LocalPlatform()
	if hz, src, err := keepalive.DetectHZ(); err == nil {
		a.hz = hz
		a.log.Info("kernel tick rate", "hz", hz, "source", src)
	}
	a.replayJournal()
	key, err := cluster.ReadKeyFile(a.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	verify, err := ReadCoordinatorKey(a.cfg.CoordinatorKey)
	if err != nil {
		return fmt.Errorf("agent: coordinator_key: %w", err)
	}
	node, err := cluster.New(cluster.Config{
		Name: a.cfg.Name, Bind: a.cfg.Bind, Advertise: a.cfg.Advertise, Key: key, Logger: a.log, VerifyKey: verify,
		Tags: map[string]string{
			cluster.TagRole: "agent", cluster.TagOS: runtime.GOOS, cluster.TagArch: runtime.GOARCH,
			cluster.TagVersion: a.plat.Version, cluster.TagKalab: version.Version, cluster.TagCaps: a.caps(),
		},
	})
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	a.node = node
	a.register()
	if err := node.Start(); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	go a.janitor(a.stop)
	go a.retryJoin(a.stop)
	a.log.Info("agent started", "bind", a.cfg.Bind, "caps", a.caps(), "os", a.plat.String(), "boot_id", a.bootID)
	return nil
}

// retryJoin joins the configured members, retrying with backoff (1 s
// doubling to 1 min) until this agent has a peer, so services start in any
// order (serf's and Consul's retry_join).
func (a *Agent) retryJoin(stop <-chan struct{}) {
	if len(a.cfg.Join) == 0 {
		return
	}
	wait := time.Second
	for {
		err := a.node.Join(a.cfg.Join)
		if err == nil && len(a.node.Members()) > 1 {
			a.log.Info("joined the cluster", "via", a.cfg.Join, "members", len(a.node.Members()))
			return
		}
		a.log.Warn("join failed; retrying", "join", a.cfg.Join, "in", wait, "err", err)
		select {
		case <-stop:
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}

// Stop ends every run (healing faults, killing clients), leaves the
// cluster and shuts down. Idempotent.
func (a *Agent) Stop() {
	a.stopOnce.Do(func() { close(a.stop) })
	a.mu.Lock()
	runs := a.runs
	a.runs = map[string]*runState{}
	a.mu.Unlock()
	for _, st := range runs {
		st.cleanup()
	}
	// Leave nothing behind on a clean stop: the table (or WFP filters, pf
	// anchors) the faults used, empty now, goes too.
	if err := fault.Sweep(0); err != nil {
		a.log.Warn("sweep on stop", "err", err)
	}
	if a.node != nil {
		_ = a.node.Leave()
		_ = a.node.Shutdown()
	}
}

// Run starts the agent and stops it when ctx ends.
func Run(ctx context.Context, cfg Config) error {
	a, err := New(cfg)
	if err != nil {
		return err
	}
	if err := a.Start(); err != nil {
		a.Stop()
		return err
	}
	<-ctx.Done()
	a.log.Info("agent stopping")
	a.Stop()
	return nil
}

func (st *runState) cleanup() {
	if st.fault != nil {
		_ = st.fault.Heal()
	}
	if st.client != nil {
		st.client.Kill()
	}
	if st.server != nil {
		st.server.Close()
	}
	if st.observer != nil {
		st.observer.Close()
	}
	st.log.close() // last: the heals above are still logged
}

// state returns the run's state, creating it (within the run cap) and
// extending its lifetime to ttl from now.
func (a *Agent) state(run string, ttl time.Duration) (*runState, error) {
	if err := checkRunID(run); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	st, ok := a.runs[run]
	if !ok {
		if max := a.maxRuns(); len(a.runs) >= max {
			return nil, fmt.Errorf("agent %s already holds %d runs (max_runs): refusing run %s", a.cfg.Name, len(a.runs), run)
		}
		st = &runState{log: newEventLog()}
		a.runs[run] = st
	}
	if until := time.Now().Add(ttl); until.After(st.until) {
		st.until = until
	}
	return st, nil
}

func (a *Agent) lookup(run string) (*runState, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st, ok := a.runs[run]
	if !ok {
		return nil, fmt.Errorf("run %q unknown on agent %s", run, a.cfg.Name)
	}
	return st, nil
}

func ttl(ms int64) (time.Duration, error) {
	d := time.Duration(ms) * time.Millisecond
	if d <= 0 || d > maxRoleTTL {
		return 0, fmt.Errorf("ttl %dms: allowed 1ms..%s", ms, maxRoleTTL)
	}
	return d, nil
}

func handle[Req any](a *Agent, cmd string, f func(context.Context, Req) (any, error)) {
	a.node.Handle(cmd, func(ctx context.Context, req wire.Request) (_ any, err error) {
		defer a.recovered(cmd, req.ID, &err)
		var body Req
		if err := wire.DecodeBody(req.Body, &body); err != nil {
			return nil, err
		}
		resp, err := f(ctx, body)
		if err != nil {
			a.log.Warn("command failed", "cmd", cmd, "id", req.ID, "err", err)
		} else {
			a.log.Debug("command done", "cmd", cmd, "id", req.ID)
		}
		return resp, err
	})
}

func (a *Agent) register() {
	handle(a, wire.CmdStatus, a.status)
	handle(a, wire.CmdPrepareServer, a.prepareServer)
	handle(a, wire.CmdPrepareClient, a.prepareClient)
	handle(a, wire.CmdFault, a.applyFault)
	handle(a, wire.CmdHeal, a.heal)
	handle(a, wire.CmdCollect, a.collect)
	handle(a, wire.CmdCleanup, a.cleanup)
	handle(a, wire.CmdEcho, a.echo)
	handle(a, wire.CmdWrite, a.write)
	handle(a, wire.CmdObserve, a.observe)
	handle(a, wire.CmdRecheck, a.recheck)
	handle(a, wire.CmdEvents, a.events)
}

func (a *Agent) status(_ context.Context, req wire.StatusReq) (any, error) {
	var self *wire.Usage
	if req.Self { // read first: NowNS stays the instant of the answer
		u := selfusage.Read()
		self = &wire.Usage{Goroutines: u.Goroutines, OpenFDs: u.OpenFDs, RSSBytes: u.RSSBytes, PeakRSSBytes: u.PeakRSSBytes, CPUNS: u.CPUNS}
	}
	a.mu.Lock()
	n := len(a.runs)
	a.mu.Unlock()
	return wire.StatusResp{Name: a.cfg.Name, NowNS: time.Now().UnixNano(), OS: a.plat.OS, Version: a.plat.Version,
		Build: a.plat.Build, HZ: a.hz, Caps: a.caps(), Kalab: version.Version, Active: n, BootID: a.bootID, Self: self}, nil
}
