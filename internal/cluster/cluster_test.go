package cluster

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/wire"
)

// coordPub and coordKey are the test coordinator's signing key pair.
var coordPub, coordKey = NewSigningKey()

// startNode starts an agent-like node (it verifies commands with coordPub)
// or, with handlers nil, a coordinator-like node (it signs with coordKey).
func startNode(t *testing.T, name string, key []byte, handlers map[string]Handler) *Node {
	t.Helper()
	cfg := Config{Name: name, Bind: "127.0.0.1:0", Key: key, Tags: map[string]string{TagRole: "agent", TagOS: "linux"}}
	if handlers != nil {
		cfg.VerifyKey = coordPub
	} else {
		cfg.SignKey = coordKey
	}
	return startWith(t, cfg, handlers)
}

func startWith(t *testing.T, cfg Config, handlers map[string]Handler) *Node {
	t.Helper()
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for c, h := range handlers {
		n.Handle(c, h)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Leave(); n.Shutdown() })
	return n
}

// TestCallIdempotentAndTyped: two nodes on loopback; a command retried with
// the same id runs its handler once; errors come back typed; the clock
// offset between two nodes on one machine is about zero.
func TestCallIdempotentAndTyped(t *testing.T) {
	key := NewKey()
	var runs atomic.Int32
	agent := startNode(t, "agent-1", key, map[string]Handler{
		wire.CmdPrepareServer: func(ctx context.Context, req wire.Request) (any, error) {
			runs.Add(1)
			var body wire.PrepareServerReq
			if err := wire.DecodeBody(req.Body, &body); err != nil {
				return nil, err
			}
			return wire.PrepareServerResp{Addr: "listening for " + body.Run}, nil
		},
		wire.CmdStatus: func(ctx context.Context, req wire.Request) (any, error) {
			return wire.StatusResp{Name: "agent-1", NowNS: time.Now().UnixNano(), OS: "linux"}, nil
		},
	})
	coord := startNode(t, "coordinator", key, nil)
	if err := coord.Join([]string{agent.Members()[0].Addr}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(coord.Members()) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if len(coord.Members()) != 2 {
		t.Fatalf("members: %+v", coord.Members())
	}
	ctx := context.Background()
	for range 3 {
		var resp wire.PrepareServerResp
		if err := coord.Call(ctx, "agent-1", "run1/prepare-server", wire.CmdPrepareServer, wire.PrepareServerReq{Run: "run1"}, &resp, CallOptions{}); err != nil {
			t.Fatal(err)
		}
		if resp.Addr != "listening for run1" {
			t.Fatalf("response %+v", resp)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("handler ran %d times for one command id, want 1", n)
	}
	err := coord.Call(ctx, "agent-1", "x/1", wire.CmdFault, wire.FaultReq{Run: "x"}, nil, CallOptions{})
	var re *RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "unknown command") {
		t.Fatalf("unknown command: %v", err)
	}
	err = coord.Call(ctx, "nobody", "x/2", wire.CmdStatus, wire.StatusReq{}, nil, CallOptions{Timeout: 300 * time.Millisecond, Attempts: 2})
	if !errors.Is(err, ErrNoResponse) {
		t.Fatalf("call to a missing node: %v, want ErrNoResponse", err)
	}
	off, err := coord.ClockOffset(ctx, "agent-1", 5)
	if err != nil {
		t.Fatal(err)
	}
	if off.Offset.Abs() > off.Bound+50*time.Millisecond || off.Bound > time.Second {
		t.Fatalf("same-machine clock offset %s ± %s", off.Offset, off.Bound)
	}
	t.Logf("clock offset %s ± %s", off.Offset, off.Bound)
}

// TestWrongKeyCannotJoin: gossip is encrypted; a node with another key is
// not admitted.
func TestWrongKeyCannotJoin(t *testing.T) {
	a := startNode(t, "a", NewKey(), nil)
	b := startNode(t, "b", NewKey(), nil)
	err := b.Join([]string{a.Members()[0].Addr})
	if err == nil && len(a.Members()) > 1 {
		t.Fatal("a node with a different key joined")
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Bind: "127.0.0.1:0", Key: NewKey()}, "name"},
		{Config{Name: "a", Bind: "127.0.0.1:0", Key: []byte("short")}, "gossip key is 5 bytes"},
		{Config{Name: "a", Bind: "nohost", Key: NewKey()}, "bind"},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

// logBuffer collects log records for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestOnlyTheCoordinatorCommands: a member holding the gossip key but not
// the coordinator's signing key cannot command an agent — unsigned,
// foreign-signed and replayed commands are refused and logged — and
// serf's key-management queries cannot change the agent's gossip keys.
func TestOnlyTheCoordinatorCommands(t *testing.T) {
	key := NewKey()
	var logs logBuffer
	var ran atomic.Int32
	handler := func(ctx context.Context, req wire.Request) (any, error) {
		ran.Add(1)
		return wire.StatusResp{Name: "agent-1"}, nil
	}
	agent := startWith(t, Config{Name: "agent-1", Bind: "127.0.0.1:0", Key: key, VerifyKey: coordPub,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))},
		map[string]Handler{wire.CmdStatus: handler, wire.CmdFault: handler, wire.CmdPrepareServer: handler, wire.CmdCollect: handler})
	_, rogueKey := NewSigningKey()
	rogue := startWith(t, Config{Name: "rogue", Bind: "127.0.0.1:0", Key: key, SignKey: rogueKey}, nil)
	unsigned := startWith(t, Config{Name: "unsigned", Bind: "127.0.0.1:0", Key: key}, nil)
	coord := startNode(t, "coordinator", key, nil)
	for _, n := range []*Node{rogue, unsigned, coord} {
		if err := n.Join([]string{agent.Members()[0].Addr}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(agent.Members()) < 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	ctx := context.Background()
	opts := CallOptions{Attempts: 1, Timeout: 2 * time.Second}
	for _, caller := range []*Node{rogue, unsigned} {
		for _, cmd := range []string{wire.CmdPrepareServer, wire.CmdFault, wire.CmdCollect} {
			err := caller.Call(ctx, "agent-1", caller.Name()+"/"+cmd, cmd, wire.StatusReq{}, nil, opts)
			var re *RemoteError
			if !errors.As(err, &re) || !strings.Contains(re.Msg, "refused") {
				t.Errorf("%s from %s: %v, want a refusal", cmd, caller.Name(), err)
			}
		}
	}
	if n := ran.Load(); n != 0 {
		t.Fatalf("handlers ran %d times for commands not signed by the coordinator", n)
	}
	if err := coord.Call(ctx, "agent-1", "ok/1", wire.CmdStatus, wire.StatusReq{}, nil, opts); err != nil {
		t.Fatalf("the coordinator's own command: %v", err)
	}
	// A replay: the same signed bytes again.
	payload, err := wire.NewSignedRequest("replay/1", wire.CmdStatus, wire.StatusReq{}, coordKey, "agent-1")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"", "replayed"} {
		raw, err := rogue.query(ctx, "agent-1", wire.CmdStatus, payload, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := wire.ParseResponse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if (want == "") != resp.OK || !strings.Contains(resp.Err, want) {
			t.Errorf("send %d of the same signed command: ok=%v err=%q, want %q", i+1, resp.OK, resp.Err, want)
		}
	}
	// serf's own key management, from a member holding the gossip key.
	kr, err := rogue.serf.KeyManager().InstallKey(base64.StdEncoding.EncodeToString(NewKey()))
	if err == nil && kr.NumErr == 0 {
		t.Errorf("install-key was accepted: %+v", kr)
	}
	if _, err := rogue.serf.KeyManager().UseKey(base64.StdEncoding.EncodeToString(NewKey())); err == nil {
		t.Error("use-key was accepted")
	}
	if keys := agent.keyring.GetKeys(); len(keys) != 1 || !bytes.Equal(keys[0], key) {
		t.Errorf("the agent's gossip keyring changed: %d keys", len(keys))
	}
	time.Sleep(200 * time.Millisecond) // the agent logs after answering
	out := logs.String()
	for _, want := range []string{"refused a command", "not signed", "does not verify", "replayed", "refused a serf key-management query"} {
		if !strings.Contains(out, want) {
			t.Errorf("agent log lacks %q", want)
		}
	}
}

// TestPortTaken: a second node on a taken port says what to do.
func TestPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	n, err := New(Config{Name: "c", Bind: ln.Addr().String(), Key: NewKey()})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err == nil || !strings.Contains(err.Error(), "is taken") || !strings.Contains(err.Error(), "--bind 127.0.0.1:") {
		t.Errorf("Start on a taken port: %v, want a hint with another --bind", err)
		if err == nil {
			n.Shutdown()
		}
	}
}
