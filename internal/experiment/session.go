package experiment

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/wire"
)

// Session is one connection between two agents driven by hand
// (`coordinator session start`, `fault`, `watch`, `session save`): the
// same roles, commands and safety as an experiment run, with the fault
// chosen on command instead of by a plan. Its state lives on the agents
// (the run's roles, faults and events, all bounded by TTL) and in this
// record, which the coordinator keeps between commands (internal/session).
type Session struct {
	// ID names the session to people; Key is its run key on the agents.
	ID  string `json:"id"`
	Key string `json:"key"`
	// Server and Client are the agents, as results record hosts (with
	// their clock offsets to the coordinator that started the session).
	Server results.Host `json:"server"`
	Client results.Host `json:"client"`
	// ServerAddr is the server role's listening ip:port; ClientEnd and
	// ServerEnd the connection's ends as the client saw them.
	ServerAddr string `json:"server_addr"`
	ClientEnd  string `json:"client_end"`
	ServerEnd  string `json:"server_end"`
	// Settings and Mode are what the server was asked to apply.
	Settings keepalive.Settings `json:"settings"`
	Mode     keepalive.Mode     `json:"mode"`
	// StartedAt is when the connection was set up (coordinator clock);
	// ExpiresAt when the agents drop it by themselves (the TTL).
	StartedAt time.Time `json:"started_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Faults are the faults applied on command, in order.
	Faults []SessionFault `json:"faults,omitempty"`
	// Target is the real service the session's client is connected to
	// (Server is then its host's agent, which observes the service's
	// socket); nil for kalab's own server role.
	Target *results.Target `json:"target,omitempty"`
	// Hello and Expect are what the client sent the service and the
	// prefix of its answer; a heal sends Hello again to prove the
	// connection survived.
	Hello  string `json:"hello,omitempty"`
	Expect string `json:"expect,omitempty"`
}

// SessionFault is one fault applied to a session's client.
type SessionFault struct {
	// Kind, Scope and Direction as in an experiment's [[faults]].
	Kind      string `json:"kind"`
	Scope     string `json:"scope,omitempty"`
	Direction string `json:"direction,omitempty"`
	// At is when it took effect and Healed when it was removed (nil: in
	// force, or a kill), both on the server's clock.
	At     time.Time  `json:"at"`
	Healed *time.Time `json:"healed,omitempty"`
	// How is the client agent's account of the mechanism.
	How string `json:"how,omitempty"`
	// InPackets and OutPackets are the drop rules' counters at the heal.
	InPackets  uint64 `json:"in_pkts,omitempty"`
	OutPackets uint64 `json:"out_pkts,omitempty"`
}

// SessionSpec is what `session start` asks for.
type SessionSpec struct {
	// Server and Client are agent node names.
	Server, Client string
	// Settings and Mode for the server role.
	Settings keepalive.Settings
	Mode     keepalive.Mode
	// TTL is how long the agents keep the session at most.
	TTL time.Duration
	// ID names the session (empty: a new random one); the session's
	// lab, when one was built for it first, already carries it.
	ID string
	// Target, when set, connects the client to a real service on the
	// server agent's host instead of kalab's server role; Settings and
	// Mode are then ignored (the service applies its own).
	Target *SessionTarget
}

// SessionTarget is a real service as the session's server.
type SessionTarget struct {
	// Port is the service's TCP port on the server agent's address.
	Port int
	// Process names the program that owns its socket (for the record).
	Process string
	// Hello and Expect as in an experiment's [target].
	Hello, Expect string
	// Lab describes the service when the lab started it (product,
	// version, configuration lines).
	Lab *LabService
}

// MaxSessionTTL is the longest session: the agents' role TTL limit.
const MaxSessionTTL = 6 * time.Hour

// sessionPrefix starts every session's run key on the agents.
const sessionPrefix = "session-"

// StartSession sets up a session's connection: the server role on
// spec.Server, the client role on spec.Client, connected and greeted.
func StartSession(ctx context.Context, node *cluster.Node, spec SessionSpec) (*Session, error) {
	if spec.Server == spec.Client {
		return nil, fmt.Errorf("server and client are both %s: a session needs two agents", spec.Server)
	}
	if spec.TTL <= 0 || spec.TTL > MaxSessionTTL {
		return nil, fmt.Errorf("session ttl %s: allowed up to %s", spec.TTL, MaxSessionTTL)
	}
	srv, err := sessionAgent(ctx, node, spec.Server)
	if err != nil {
		return nil, err
	}
	if err := spec.Settings.Validate(keepalive.Platform{OS: srv.Host.OS, Build: srv.Host.Build, Version: srv.Host.OSVersion}); err != nil && spec.Target == nil {
		return nil, fmt.Errorf("settings for %s (%s): %w", spec.Server, srv.Host.OS, err)
	}
	cli, err := sessionAgent(ctx, node, spec.Client)
	if err != nil {
		return nil, err
	}
	id := cmp.Or(spec.ID, newNonce(4))
	s := &Session{ID: id, Key: sessionPrefix + id, Server: srv.Host, Client: cli.Host, Settings: spec.Settings, Mode: spec.Mode,
		StartedAt: time.Now(), ExpiresAt: time.Now().Add(spec.TTL)}
	if t := spec.Target; t != nil {
		return s, s.startTarget(ctx, node, srv, cli, *t, spec.TTL)
	}
	nonce := newNonce(8)
	var ps wire.PrepareServerResp
	if err := s.call(ctx, node, spec.Server, "prepare-server", wire.CmdPrepareServer, wire.PrepareServerReq{
		Run: s.Key, Mode: string(spec.Mode), ClientAddr: cli.IP.String(), TTLMS: spec.TTL.Milliseconds(), Nonce: nonce,
		Keepalive: wire.Keepalive{IdleMS: spec.Settings.Idle.Milliseconds(), IntervalMS: spec.Settings.Interval.Milliseconds(), Count: spec.Settings.Count},
	}, &ps); err != nil {
		return nil, err
	}
	var pc wire.PrepareClientResp
	if err := s.call(ctx, node, spec.Client, "prepare-client", wire.CmdPrepareClient, wire.PrepareClientReq{
		Run: s.Key, ServerAddr: ps.Addr, ServerNode: spec.Server, Nonce: nonce, TTLMS: spec.TTL.Milliseconds()}, &pc); err != nil {
		s.Stop(ctx, node)
		return nil, err
	}
	s.ServerAddr, s.ClientEnd, s.ServerEnd = ps.Addr, pc.Local, pc.Remote
	return s, nil
}

// startTarget connects the client to the service at the server agent's
// address and has that agent observe the service's side of it.
func (s *Session) startTarget(ctx context.Context, node *cluster.Node, srv, cli *agentInfo, t SessionTarget, ttl time.Duration) error {
	if t.Port < 1 || t.Port > 65535 {
		return fmt.Errorf("target port %d: allowed 1..65535", t.Port)
	}
	if len(t.Hello) > wire.MaxHello || len(t.Expect) > wire.MaxExpect || (t.Expect != "" && t.Hello == "") {
		return fmt.Errorf("target hello (%d bytes) and expect (%d bytes): at most %d and %d, and an expect needs a hello", len(t.Hello), len(t.Expect), wire.MaxHello, wire.MaxExpect)
	}
	s.Hello, s.Expect, s.Mode = t.Hello, t.Expect, "" // the service sets its own keepalive, wherever it does
	s.ServerAddr = netip.AddrPortFrom(srv.IP, uint16(t.Port)).String()
	var pc wire.PrepareClientResp
	if err := s.call(ctx, node, cli.Member.Name, "prepare-client", wire.CmdPrepareClient, wire.PrepareClientReq{Run: s.Key, ServerAddr: s.ServerAddr,
		ServerNode: srv.Member.Name, Target: true, Hello: []byte(t.Hello), Expect: []byte(t.Expect), TTLMS: ttl.Milliseconds()}, &pc); err != nil {
		return err
	}
	s.ClientEnd, s.ServerEnd = pc.Local, pc.Remote
	var ob wire.ObserveResp
	if err := s.call(ctx, node, srv.Member.Name, "observe", wire.CmdObserve, wire.ObserveReq{Run: s.Key, Local: s.ServerAddr, Remote: pc.Local,
		TTLMS: ttl.Milliseconds()}, &ob); err != nil {
		_ = s.Stop(ctx, node)
		return err
	}
	rt := &results.Target{Agent: srv.Member.Name, Port: t.Port, Process: cmp.Or(ob.Process, t.Process), PID: ob.PID, Method: results.MethodObserved}
	if l := t.Lab; l != nil {
		rt.Product, rt.Version, rt.ConfigLines = l.Product, l.Version, l.ConfigLines
	}
	s.Target = rt
	if col, err := s.Collect(ctx, node); err == nil { // what the service applied, for the record and the model
		if set, ok := Effective(col).Settings(); ok {
			s.Settings = set
		}
	}
	return nil
}

// sessionAgent finds an alive agent by name, with its clock offset.
func sessionAgent(ctx context.Context, node *cluster.Node, name string) (*agentInfo, error) {
	var names []string
	for _, m := range node.Members() {
		if m.Tags[cluster.TagRole] != "agent" {
			continue
		}
		names = append(names, m.Name)
		if m.Name != name {
			continue
		}
		host, _, _ := net.SplitHostPort(m.Addr)
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return nil, fmt.Errorf("agent %s address %q: %w", m.Name, m.Addr, err)
		}
		off, err := node.ClockOffset(ctx, m.Name, ClockSamples)
		if err != nil {
			return nil, fmt.Errorf("clock offset of %s: %w", m.Name, err)
		}
		st := off.Status
		return &agentInfo{Member: m, IP: ip.Unmap(), Offset: off, Host: results.Host{
			Name: m.Name, OS: st.OS, Arch: m.Tags[cluster.TagArch], OSVersion: st.Version, Build: st.Build,
			Kalab: st.Kalab, HZ: st.HZ, Caps: st.Caps, ClockOffset: off.Offset, ClockBound: off.Bound,
		}}, nil
	}
	return nil, fmt.Errorf("no alive agent named %q (alive agents: %s)", name, strings.Join(names, ", "))
}

// call sends one of the session's commands; ids are unique per call, so a
// second fault is a new command, not a replay of the first.
func (s *Session) call(ctx context.Context, node *cluster.Node, agent, step, cmd string, body, out any) error {
	return node.Call(ctx, agent, fmt.Sprintf("%s/%s-%s", s.Key, step, newNonce(3)), cmd, body, out, cluster.CallOptions{})
}

// serverClock maps an instant on the client agent's clock to the server's.
func (s *Session) serverClock(clientNS int64) time.Time {
	return time.Unix(0, clientNS).Add(-s.Client.ClockOffset).Add(s.Server.ClockOffset)
}

// Fault applies a fault to the session's client (kind, scope and
// direction as in experiment files) with a deadman of ttl, and records it.
func (s *Session) Fault(ctx context.Context, node *cluster.Node, f SessionFault, ttl time.Duration) (SessionFault, error) {
	if n := len(s.Faults); n > 0 && s.Faults[n-1].Healed == nil && s.Faults[n-1].Kind != results.KindKill {
		return f, fmt.Errorf("session %s already has a %s fault in force: heal it first (coordinator fault heal --session %s)", s.ID, s.Faults[n-1].Kind, s.ID)
	}
	if ttl <= 0 || ttl > MaxSessionTTL {
		return f, fmt.Errorf("fault ttl %s: allowed up to %s", ttl, MaxSessionTTL)
	}
	req := wire.FaultReq{Run: s.Key, Kind: f.Kind, Scope: f.Scope, TTLMS: ttl.Milliseconds()}
	if f.Direction != "" && f.Direction != results.DirectionBoth {
		req.Direction = f.Direction
	}
	var fr wire.FaultResp
	if err := s.call(ctx, node, s.Client.Name, "fault", wire.CmdFault, req, &fr); err != nil {
		return f, err
	}
	f.At, f.How = s.serverClock(fr.AtNS), fr.How
	s.Faults = append(s.Faults, f)
	return f, nil
}

// Healed is what a heal found: the fault as healed, and whether the
// connection still carried data afterwards.
type Healed struct {
	// Fault is the fault as healed (its Healed instant and counters set).
	Fault SessionFault
	// Survived is true when the connection carried an echo (kalab's
	// server) or the service answered the hello again (a target); RTT is
	// the echo's round trip (nil for a target); Why says why not.
	Survived bool
	RTT      *time.Duration
	Why      string
}

// Heal removes the fault in force and, while the server still holds the
// connection, sends data across it: an echo through kalab's server role,
// or the hello again to a real service.
func (s *Session) Heal(ctx context.Context, node *cluster.Node) (Healed, error) {
	var h Healed
	n := len(s.Faults)
	if n == 0 || s.Faults[n-1].Healed != nil || s.Faults[n-1].Kind == results.KindKill {
		return h, fmt.Errorf("session %s has no fault in force to heal", s.ID)
	}
	var hr wire.HealResp
	if err := s.call(ctx, node, s.Client.Name, "heal", wire.CmdHeal, wire.HealReq{Run: s.Key}, &hr); err != nil {
		return h, err
	}
	f := &s.Faults[n-1]
	at := s.serverClock(hr.AtNS)
	f.Healed, f.InPackets, f.OutPackets = &at, hr.InPackets, hr.OutPackets
	h.Fault = *f
	col, err := s.Collect(ctx, node)
	if err != nil {
		return h, err
	}
	if col.Done {
		h.Why = "the server had already closed the connection (" + cmp.Or(col.ErrnoName, col.Err) + ")"
		return h, nil
	}
	if s.Target != nil {
		if s.Hello == "" {
			h.Why = "the target has no hello to send again (start the session with --hello)"
			return h, nil
		}
		var rr wire.RecheckResp
		if err := s.call(ctx, node, s.Client.Name, "recheck", wire.CmdRecheck, wire.RecheckReq{Run: s.Key}, &rr); err != nil {
			return h, err
		}
		h.Survived, h.Why = rr.Answered, rr.Why
		return h, nil
	}
	var er wire.EchoResp
	if err := node.Call(ctx, s.Server.Name, fmt.Sprintf("%s/echo-%s", s.Key, newNonce(3)), wire.CmdEcho, wire.EchoReq{Run: s.Key}, &er,
		cluster.CallOptions{Timeout: 10 * time.Second, Attempts: 2}); err != nil {
		return h, err
	}
	if !er.OK {
		h.Why = er.Err
		return h, nil
	}
	rtt := time.Duration(er.RTTNS)
	h.Survived, h.RTT = true, &rtt
	return h, nil
}

// Stop heals any fault and removes the session from both agents. Errors
// are joined: an agent that is gone has dropped the session anyway.
func (s *Session) Stop(ctx context.Context, node *cluster.Node) error {
	var errs []error
	for _, a := range []string{s.Client.Name, s.Server.Name} {
		if err := s.call(ctx, node, a, "cleanup", wire.CmdCleanup, wire.CleanupReq{Run: s.Key}, nil); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Collect reads the server's record of the connection.
func (s *Session) Collect(ctx context.Context, node *cluster.Node) (wire.CollectResp, error) {
	var col wire.CollectResp
	err := s.call(ctx, node, s.Server.Name, "collect", wire.CmdCollect, wire.CollectReq{Run: s.Key}, &col)
	return col, err
}

// Events fetches an agent's events of the session after seq (every page),
// subscribing subscriber (a node name, "" none) to the later ones.
func (s *Session) Events(ctx context.Context, node *cluster.Node, agent string, after int64, subscriber string) ([]wire.Event, bool, error) {
	var all []wire.Event
	for {
		var er wire.EventsResp
		if err := s.call(ctx, node, agent, "events", wire.CmdEvents, wire.EventsReq{Run: s.Key, After: after, Subscribe: subscriber}, &er); err != nil {
			return all, false, err
		}
		all = append(all, er.Events...)
		if len(er.Events) > 0 {
			after = er.Events[len(er.Events)-1].Seq
		}
		if !er.More || len(er.Events) == 0 {
			return all, er.Done, nil
		}
	}
}

// Origin is the session's start on the server's clock: where a watch's
// timeline counts from.
func (s *Session) Origin() time.Time { return s.StartedAt.Add(s.Server.ClockOffset) }

// ToServerClock maps an event instant of agent onto the server's clock.
func (s *Session) ToServerClock(agent string, atNS int64) time.Time {
	if agent == s.Client.Name {
		return s.serverClock(atNS)
	}
	return time.Unix(0, atNS)
}

// Effective is the server's read-back options in col.
func Effective(col wire.CollectResp) keepalive.Effective { return effective(col.Options) }

// Predict is the model's detection window for the session's settings on
// the server's OS, from what the server applied (eff, when known) with
// probes cycling (the connection idled past one idle time).
func (s *Session) Predict(eff keepalive.Effective) (keepalive.Prediction, error) {
	set, ok := eff.Settings()
	if !ok {
		set = s.Settings
	}
	plat := keepalive.Platform{OS: s.Server.OS, Build: s.Server.Build, Version: s.Server.OSVersion}
	return keepalive.Predict(plat, set, keepalive.PhaseCycling, keepalive.ModelOptions{HZ: s.Server.HZ})
}

// Result turns the session and the server's record into a result record
// (experiment "session"), judged like an experiment run against its last
// fault, so that `coordinator report` shows it beside experiment runs.
func (s *Session) Result(col wire.CollectResp, lab bool) results.Result {
	var last SessionFault
	if n := len(s.Faults); n > 0 {
		last = s.Faults[n-1]
	}
	kind := cmp.Or(last.Kind, results.KindDrop)
	cell := Cell{OS: s.Server.OS, Settings: s.Settings, Mode: s.Mode, Scenario: keepalive.ScenarioIdle,
		Fault: FaultEntry{Kind: kind, Scope: last.Scope, Direction: last.Direction}, Expect: results.Expect(kind, keepalive.ScenarioIdle)}
	if !last.At.IsZero() {
		cell.Settle = last.At.Sub(s.StartedAt)
	}
	if last.Healed != nil && kind != results.KindKill {
		cell.Fault.Hold = last.Healed.Sub(last.At)
		if col.DetectNS == nil {
			cell.Expect = results.ExpectSurvives
		}
	}
	res := results.Result{Schema: results.Schema, Experiment: "session", Run: s.Key, Name: "session " + s.ID + "·" + RunName(cell, s.Server.Name, s.Client.Name, 1),
		Execution: s.ID, Cell: 1, Rep: 1, StartedAt: s.StartedAt, EndedAt: time.Now(), Lab: lab, Server: s.Server, Client: s.Client,
		Requested: s.Settings, Mode: s.Mode, FaultKind: kind, FaultScope: last.Scope, FaultDirection: last.Direction, Expect: cell.Expect,
		Hold: cell.Fault.Hold, ClientEnd: s.ClientEnd, ServerEnd: s.ServerEnd, FaultHow: last.How,
		FaultInPackets: last.InPackets, FaultOutPackets: last.OutPackets}
	if s.Target != nil {
		t := *s.Target
		res.Target = &t
	}
	if !last.At.IsZero() {
		at := last.At
		res.Anchors.Fault = &at
		res.Anchors.FaultBound = s.Client.ClockBound + s.Server.ClockBound
	}
	res.Anchors.Healed = last.Healed
	(&Executor{}).record(&res, plannedRun{Cell: cell, Server: &agentInfo{Host: s.Server}, Client: &agentInfo{Host: s.Client}}, col)
	if len(s.Faults) == 0 {
		res.Outcome, res.Why = results.OutcomeUnconfirmed, "no fault was applied during the session"
	}
	return res
}
