package agentd

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/wire"
)

// pushSink is a coordinator's receiver of the agent's event pushes.
type pushSink struct {
	mu     sync.Mutex
	pushes []wire.EventPush
}

func (p *pushSink) receive(from string, payload []byte) {
	var ep wire.EventPush
	if err := json.Unmarshal(payload, &ep); err != nil {
		ep.Run = "undecodable: " + err.Error()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pushes = append(p.pushes, ep)
}

// events returns the pushed events in order of arrival, duplicates (an
// acknowledgement lost) dropped, and whether a push said Done.
func (p *pushSink) events(t *testing.T, agent, run string) ([]wire.Event, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var evs []wire.Event
	done := false
	for _, ep := range p.pushes {
		if ep.Agent != agent || ep.Run != run {
			t.Fatalf("push %+v, want agent %s run %s", ep, agent, run)
		}
		for _, e := range ep.Events {
			if len(evs) == 0 || e.Seq > evs[len(evs)-1].Seq {
				evs = append(evs, e)
			}
		}
		done = done || ep.Done
	}
	return evs, done
}

// waitFor polls cond every 50 ms until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, limit)
		}
	}
}

// fetcher returns a CmdEvents caller for run, each call with a new
// command id (the agent answers a repeated id from its record).
func fetcher(t *testing.T, call func(id, cmd string, body, out any) error, run string) func(wire.EventsReq) wire.EventsResp {
	step := 0
	return func(req wire.EventsReq) wire.EventsResp {
		t.Helper()
		step++
		var resp wire.EventsResp
		if err := call(fmt.Sprintf("%s/events-%d", run, step), wire.CmdEvents, req, &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}
}

// kinds lists the events' kinds.
func kinds(evs []wire.Event) []string {
	var ks []string
	for _, e := range evs {
		ks = append(ks, e.Kind)
	}
	return ks
}

// checkSeqs fails unless evs run from Seq first without gaps.
func checkSeqs(t *testing.T, evs []wire.Event, first int64) {
	t.Helper()
	for i, e := range evs {
		if e.Seq != first+int64(i) {
			t.Fatalf("event %d has Seq %d, want %d (a gap): %+v", i, e.Seq, first+int64(i), evs)
		}
	}
}

// hasEvent finds the first event of kind whose text contains text.
func hasEvent(evs []wire.Event, kind, text string) bool {
	return slices.ContainsFunc(evs, func(e wire.Event) bool { return e.Kind == kind && strings.Contains(e.Text, text) })
}

// TestAgentEvents: a run's events come from the agent by command and by
// push. The server side's accept, options and greeting are there once the
// client holds the connection; a subscribed coordinator is pushed a held
// pause's fault and heal; a second fault on the same run is taken once
// the first healed (and refused while one is in force); the kill's
// detection ends the events with Done, by command and by push; cleanup
// forgets them.
func TestAgentEvents(t *testing.T) {
	var sink pushSink
	_, _, call := startAgent(t, func(n *cluster.Node) { n.HandlePush(wire.PushEvents, sink.receive) })
	const nonce = "00112233445566ff"
	var s wire.PrepareServerResp
	if err := call("e1/prepare-server", wire.CmdPrepareServer, wire.PrepareServerReq{Run: "e1", Keepalive: wire.Keepalive{IdleMS: 1000, IntervalMS: 1000, Count: 3},
		Mode: "listener", ClientAddr: "127.0.0.1", TTLMS: 60000, Nonce: nonce}, &s); err != nil {
		t.Fatal(err)
	}
	if err := call("e1/prepare-client", wire.CmdPrepareClient, wire.PrepareClientReq{Run: "e1", ServerAddr: s.Addr, ServerNode: "agent-t", Nonce: nonce, TTLMS: 60000}, nil); err != nil {
		t.Fatal(err)
	}
	fetch := fetcher(t, call, "e1")
	var got wire.EventsResp
	waitFor(t, 5*time.Second, "greeting event", func() bool {
		got = fetch(wire.EventsReq{Run: "e1"})
		return slices.Contains(kinds(got.Events), wire.EventGreeting)
	})
	checkSeqs(t, got.Events, 1)
	if ks := kinds(got.Events); len(ks) < 3 || !slices.Equal(ks[:3], []string{wire.EventAccept, wire.EventOptions, wire.EventGreeting}) || got.Done {
		t.Fatalf("first events %v (done %v), want accept, options, greeting", ks, got.Done)
	}
	if !strings.Contains(got.Events[1].Text, "keepalive on, idle 1s, interval 1s, count 3") {
		t.Errorf("options event %q", got.Events[1].Text)
	}
	held := got.Events[len(got.Events)-1].Seq
	sub := fetch(wire.EventsReq{Run: "e1", After: held, Subscribe: "coord"})
	held += int64(len(sub.Events))

	// A held pause: its fault and heal are pushed.
	if err := call("e1/fault-1", wire.CmdFault, wire.FaultReq{Run: "e1", Kind: "pause", TTLMS: 10000, HoldMS: 300}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "pushed heal", func() bool {
		evs, _ := sink.events(t, "agent-t", "e1")
		return hasEvent(evs, wire.EventHeal, "healed by the hold")
	})
	// The next fault on the same connection is taken once the first
	// healed, and refused while it is in force.
	if err := call("e1/fault-2", wire.CmdFault, wire.FaultReq{Run: "e1", Kind: "pause", TTLMS: 10000}, nil); err != nil {
		t.Fatalf("a second fault after the first healed: %v", err)
	}
	var re *cluster.RemoteError
	if err := call("e1/fault-3", wire.CmdFault, wire.FaultReq{Run: "e1", Kind: "pause", TTLMS: 10000}, nil); !errors.As(err, &re) || !strings.Contains(re.Msg, "already has a pause fault") {
		t.Fatalf("a fault while one is in force: %v", err)
	}
	var hr wire.HealResp
	if err := call("e1/heal-2", wire.CmdHeal, wire.HealReq{Run: "e1"}, &hr); err != nil || hr.ByHold {
		t.Fatalf("heal of the second fault: %+v %v, want healed by the command (not the first fault's held record)", hr, err)
	}
	// The kill ends the run: the server's detection, then Done.
	if err := call("e1/fault-4", wire.CmdFault, wire.FaultReq{Run: "e1", Kind: "kill", TTLMS: 10000}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "pushed Done", func() bool { _, done := sink.events(t, "agent-t", "e1"); return done })
	pushed, _ := sink.events(t, "agent-t", "e1")
	checkSeqs(t, pushed, held+1)
	for _, want := range []struct{ kind, text string }{
		{wire.EventFault, "pause, held 300ms"},
		{wire.EventHeal, "pause healed by the hold"},
		{wire.EventFault, "pause"},
		{wire.EventHeal, "pause healed by the heal command"},
		{wire.EventFault, "kill"},
		{wire.EventDetection, ""},
	} {
		i := slices.IndexFunc(pushed, func(e wire.Event) bool { return e.Kind == want.kind && strings.Contains(e.Text, want.text) })
		if i < 0 {
			t.Fatalf("no pushed %s %q in %+v", want.kind, want.text, pushed)
		}
		pushed = pushed[i+1:] // in this order
	}
	// The same events by command, paged from the start, end with Done.
	var all []wire.Event
	for after := int64(0); ; {
		page := fetch(wire.EventsReq{Run: "e1", After: after})
		all = append(all, page.Events...)
		if !page.More {
			if !page.Done {
				t.Fatalf("last page %+v: want Done after the detection", page)
			}
			break
		}
		after = page.Events[len(page.Events)-1].Seq
	}
	checkSeqs(t, all, 1)
	if last := all[len(all)-1]; last.Kind != wire.EventDetection || last.Errno != "EOF" {
		t.Errorf("last event %+v, want the detection (EOF)", last)
	}
	if err := call("e1/cleanup", wire.CmdCleanup, wire.CleanupReq{Run: "e1"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := call("e1/events-after-cleanup", wire.CmdEvents, wire.EventsReq{Run: "e1"}, nil); !errors.As(err, &re) || !strings.Contains(re.Msg, "unknown") {
		t.Fatalf("events after cleanup: %v", err)
	}
}

// TestEventPages: a log past wire.MaxRunEvents drops its oldest (counted);
// CmdEvents pages and pushes through the rest without gaps, each page
// within its budget once in a response envelope, each push within
// CommandBudget; a subscriber's acknowledgement moves the pushes on.
func TestEventPages(t *testing.T) {
	const extra = 100
	st := &runState{log: newEventLog()}
	a := &Agent{cfg: Config{Name: "agent-t"}, runs: map[string]*runState{"p1": st}}
	at := time.Unix(1_700_000_000, 0)
	for i := range wire.MaxRunEvents + extra {
		// Texts of every length, some over the limit, some of characters
		// JSON escapes (6 bytes each): pages must measure, not count.
		text := strings.Repeat("x", i%150)
		if i%7 == 0 {
			text = strings.Repeat("<&>", 60)
		}
		st.log.add(wire.EventPeer, at.Add(time.Duration(i)*time.Millisecond), text, "ETIMEDOUT", i)
	}
	longID := strings.Repeat("r", wire.MaxRunIDLen) + "/events-999999"
	tests := []struct {
		name string
		page func(after int64) ([]wire.Event, bool, int) // events, more, encoded size
	}{
		{"events command", func(after int64) ([]wire.Event, bool, int) {
			body, err := a.events(t.Context(), wire.EventsReq{Run: "p1", After: after})
			if err != nil {
				t.Fatal(err)
			}
			resp := body.(wire.EventsResp)
			if resp.Dropped != extra || resp.Done {
				t.Fatalf("dropped %d, done %v: want %d, false", resp.Dropped, resp.Done, extra)
			}
			b, err := wire.NewResponse(longID, resp, nil)
			if err != nil {
				t.Fatalf("page after %d: %v", after, err)
			}
			return resp.Events, resp.More, len(b)
		}},
		{"push", func(after int64) ([]wire.Event, bool, int) {
			sub, _ := st.log.subscribe("coord", after)
			push, ok := a.nextPush("p1", st, sub)
			if sub.node != "coord" || !ok && after < st.log.last {
				t.Fatalf("next push after %d: %q %+v %v", after, sub.node, push, ok)
			}
			if len(push.Events) > 0 {
				st.log.ack(sub, push.Events[len(push.Events)-1].Seq, push.Done)
			}
			b, err := json.Marshal(push)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > wire.CommandBudget {
				t.Fatalf("push of %d bytes, over %d", len(b), wire.CommandBudget)
			}
			rest, _, _ := st.log.unacked(sub)
			return push.Events, len(rest) > 0, len(b)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var all []wire.Event
			pages := 0
			for after := int64(0); ; {
				evs, more, size := tt.page(after)
				pages++
				if len(evs) == 0 {
					t.Fatalf("empty page after %d (more %v, %d bytes)", after, more, size)
				}
				all = append(all, evs...)
				after = evs[len(evs)-1].Seq
				if !more {
					break
				}
			}
			checkSeqs(t, all, extra+1)
			if len(all) != wire.MaxRunEvents {
				t.Fatalf("%d events in %d pages, want %d", len(all), pages, wire.MaxRunEvents)
			}
			t.Logf("%d events in %d pages", len(all), pages)
		})
	}
}

// TestEventSubscribers: several nodes may watch one run; each is pushed
// from what it holds, acknowledges on its own, and a fifth replaces the
// one that subscribed first (its pusher ends).
func TestEventSubscribers(t *testing.T) {
	st := &runState{log: newEventLog()}
	a := &Agent{cfg: Config{Name: "agent-t"}, runs: map[string]*runState{"s1": st}}
	at := time.Unix(1_700_000_000, 0)
	for i := range 3 {
		st.log.add(wire.EventPeer, at.Add(time.Duration(i)*time.Second), "", "", 0)
	}
	w1, new1 := st.log.subscribe("watch-1", 3) // answered with all three
	w2, new2 := st.log.subscribe("watch-2", 1) // answered with the first only
	if again, isNew := st.log.subscribe("watch-1", 3); !new1 || !new2 || isNew || again != w1 {
		t.Fatalf("subscribe: new %v %v, again new %v", new1, new2, isNew)
	}
	st.log.add(wire.EventProbe, at.Add(4*time.Second), "", "", 1)
	for _, tt := range []struct {
		sub  *subscriber
		seqs []int64
	}{{w1, []int64{4}}, {w2, []int64{2, 3, 4}}} {
		push, ok := a.nextPush("s1", st, tt.sub)
		var got []int64
		for _, e := range push.Events {
			got = append(got, e.Seq)
		}
		if !ok || !slices.Equal(got, tt.seqs) {
			t.Errorf("push to %s: %v (%v), want %v", tt.sub.node, got, ok, tt.seqs)
		}
		select {
		case <-tt.sub.changed:
		default:
			t.Errorf("%s's pusher was not woken by the new event", tt.sub.node)
		}
	}
	st.log.ack(w1, 4, false)
	if _, ok := a.nextPush("s1", st, w1); ok {
		t.Errorf("watch-1 acknowledged everything, yet has a push")
	}
	if push, ok := a.nextPush("s1", st, w2); !ok || len(push.Events) != 3 {
		t.Errorf("watch-2's pushes moved with watch-1's acknowledgement")
	}
	for i := 3; i <= maxSubscribers+1; i++ {
		st.log.subscribe(fmt.Sprintf("watch-%d", i), 4)
	}
	select {
	case <-w1.gone:
	default:
		t.Errorf("subscriber %d of %d did not replace the first", maxSubscribers+1, maxSubscribers)
	}
	select {
	case <-w2.gone:
		t.Errorf("the second subscriber was replaced too")
	default:
	}
}
