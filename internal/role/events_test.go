package role

import (
	"context"
	"io"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/tcpinfo"
	"github.com/kalab-dev/kalab/internal/wire"
)

// told is one call of a server role's Events hook.
type told struct {
	kind, text, errno string
	at                time.Time
	probe             int
}

// eventSink collects what a server role tells its Events hook.
type eventSink struct {
	mu     sync.Mutex
	events []told
}

func (e *eventSink) add(kind string, at time.Time, text, errno string, probe int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, told{kind, text, errno, at, probe})
}

func (e *eventSink) all() []told {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.events)
}

// TestServerEvents: a loopback server role with an Events hook tells
// accept, options, greeting, an echo and last the detection (the client
// closed: EOF) or the role's end (Close, TTL, no client at all), in order
// and with timestamps inside the run; on Linux TCP_INFO adds the client's
// signs of life.
func TestServerEvents(t *testing.T) {
	const nonce = "0123456789abcdef"
	tests := []struct {
		name    string
		ttl     time.Duration
		connect bool
		end     func(srv *Server, client net.Conn) // nil: wait for the TTL
		want    []string                           // kinds, without peer/probe/ICMP ones
		last    string                             // the final event's text contains it
		errno   string
		// peer: on Linux a TCP_INFO sample must show the client's last
		// sign of life (Close closes the socket before any final sample).
		peer bool
	}{
		{"client closes", 30 * time.Second, true, func(_ *Server, c net.Conn) { c.Close() },
			[]string{wire.EventAccept, wire.EventOptions, wire.EventGreeting, wire.EventEcho, wire.EventDetection}, "EOF", "EOF", true},
		{"role closed", 30 * time.Second, true, func(srv *Server, _ net.Conn) { srv.Close() },
			[]string{wire.EventAccept, wire.EventOptions, wire.EventGreeting, wire.EventEcho, wire.EventEnded}, "the role was closed", "", false},
		{"ttl", time.Second, true, nil,
			[]string{wire.EventAccept, wire.EventOptions, wire.EventGreeting, wire.EventEcho, wire.EventEnded}, "TTL ran out", "", true},
		{"no client", 300 * time.Millisecond, false, nil, []string{wire.EventEnded}, "TTL ran out", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sink eventSink
			start := time.Now()
			srv, err := StartServer(context.Background(), ServerConfig{Run: "events-test", Nonce: nonce,
				Settings: keepalive.Settings{Idle: time.Second, Interval: time.Second, Count: 3}, Mode: keepalive.ModePerConn,
				ListenIP: netip.MustParseAddr("127.0.0.1"), Client: netip.MustParseAddr("127.0.0.1"), TTL: tt.ttl, Events: sink.add})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			if tt.connect {
				c := echoClient(t, srv.Addr().String(), nonce)
				if rtt, err := srv.Echo(context.Background()); err != nil {
					t.Fatalf("echo: %s %v", rtt, err)
				}
				if tt.end != nil {
					tt.end(srv, c)
				}
			}
			select {
			case <-srv.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("the role did not end")
			}
			end := time.Now()
			got := sink.all()
			var kinds []string
			var main []told
			for _, e := range got {
				switch e.kind {
				case wire.EventPeer, wire.EventProbe, wire.EventICMPLost, wire.EventICMPBack:
				default:
					kinds = append(kinds, e.kind)
					main = append(main, e)
				}
				from := start
				if e.kind == wire.EventPeer {
					// TCP_INFO's ages are whole jiffies: an estimate may
					// come up to one before the true instant.
					from = start.Add(-tcpinfo.Jiffy(0))
				}
				if e.at.Before(from) || e.at.After(end) {
					t.Errorf("%s at %s: outside the run [%s, %s]", e.kind, e.at, start, end)
				}
			}
			if !slices.Equal(kinds, tt.want) {
				t.Fatalf("events %v, want %v (all: %+v)", kinds, tt.want, got)
			}
			for i := 1; i < len(main); i++ {
				if main[i].at.Before(main[i-1].at) {
					t.Errorf("%s at %s before %s at %s", main[i].kind, main[i].at, main[i-1].kind, main[i-1].at)
				}
			}
			final := got[len(got)-1]
			if final.kind != tt.want[len(tt.want)-1] || !strings.Contains(final.text, tt.last) || final.errno != tt.errno {
				t.Errorf("last event %+v, want %s with %q and errno %q", final, tt.want[len(tt.want)-1], tt.last, tt.errno)
			}
			if tt.connect {
				if opts := main[1].text; !strings.Contains(opts, "keepalive on, idle 1s, interval 1s, count 3") {
					t.Errorf("options %q", opts)
				}
				if echo := main[3].text; !strings.HasPrefix(echo, "round trip ") || !strings.HasSuffix(echo, " ms") {
					t.Errorf("echo %q", echo)
				}
				if tt.peer && runtime.GOOS == "linux" && !slices.ContainsFunc(got, func(e told) bool { return e.kind == wire.EventPeer }) {
					t.Errorf("no %s event from TCP_INFO: %+v", wire.EventPeer, got)
				}
			}
		})
	}
}

// echoClient connects to a server role, checks its greeting and then
// sends back whatever it reads (as the client role does), until closed.
func echoClient(t *testing.T, addr, nonce string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	g := make([]byte, len(Greeting)+len(nonce))
	if _, err := io.ReadFull(c, g); err != nil || string(g) != string(Greeting)+nonce {
		t.Fatalf("greeting %q: %v", g, err)
	}
	go echoBack(c)
	return c
}
