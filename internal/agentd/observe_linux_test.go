package agentd

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/wire"
)

// TestObserveEvents: a run whose server side is a real service (here a
// loopback listener of this test) is observed, and its events come from
// the agent as a server role's do: the options read back, the client's
// signs of life, and when the client closes, the detection (EOF), which
// ends the run's events (Done) by command and by push.
func TestObserveEvents(t *testing.T) {
	var sink pushSink
	_, _, call := startAgent(t, func(n *cluster.Node) { n.HandlePush(wire.PushEvents, sink.receive) })
	ln, err := keepalive.Listen(context.Background(), "tcp4", "127.0.0.1:0",
		keepalive.Settings{Idle: time.Second, Interval: time.Second, Count: 3}, keepalive.ModeListener)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan *net.TCPConn, 1)
	go func() {
		c, _ := ln.AcceptTCP()
		accepted <- c
	}()
	client, err := net.DialTimeout("tcp4", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	service := <-accepted
	if service == nil {
		t.Fatal("accept failed")
	}
	defer service.Close()

	var or wire.ObserveResp
	if err := call("o1/observe", wire.CmdObserve, wire.ObserveReq{Run: "o1", Local: service.LocalAddr().String(),
		Remote: client.LocalAddr().String(), TTLMS: 60000}, &or); err != nil {
		t.Fatal(err)
	}
	fetch := fetcher(t, call, "o1")
	var got wire.EventsResp
	waitFor(t, 5*time.Second, "options and peer events", func() bool {
		got = fetch(wire.EventsReq{Run: "o1", Subscribe: "coord"})
		return len(got.Events) >= 2
	})
	checkSeqs(t, got.Events, 1)
	if ks := kinds(got.Events); ks[0] != wire.EventOptions || ks[1] != wire.EventPeer || got.Done {
		t.Fatalf("first events %v (done %v), want options, peer", ks, got.Done)
	}
	// Root reads the service's own socket (pidfd_getfd); others are told
	// why the options are unknown.
	wantOptions := "unknown: "
	if os.Geteuid() == 0 {
		wantOptions = "keepalive on, idle 1s, interval 1s, count 3"
	}
	if !strings.HasPrefix(got.Events[0].Text, wantOptions) {
		t.Errorf("options event %q, want %q", got.Events[0].Text, wantOptions)
	}

	client.Close() // the client's FIN: the service's socket goes to CLOSE_WAIT
	waitFor(t, 5*time.Second, "pushed Done", func() bool { _, done := sink.events(t, "agent-t", "o1"); return done })
	last := fetch(wire.EventsReq{Run: "o1"})
	if !last.Done || last.More {
		t.Fatalf("events after the end: done %v more %v, want done", last.Done, last.More)
	}
	checkSeqs(t, last.Events, 1)
	if e := last.Events[len(last.Events)-1]; e.Kind != wire.EventDetection || e.Errno != "EOF" || !strings.Contains(e.Text, "the client closed the connection") {
		t.Errorf("last event %+v, want the detection (EOF)", e)
	}
	pushed, _ := sink.events(t, "agent-t", "o1")
	if len(pushed) == 0 || pushed[len(pushed)-1].Kind != wire.EventDetection {
		t.Errorf("pushed %+v, want the detection last", pushed)
	}
	if err := call("o1/cleanup", wire.CmdCleanup, wire.CleanupReq{Run: "o1"}, nil); err != nil {
		t.Fatal(err)
	}
}
