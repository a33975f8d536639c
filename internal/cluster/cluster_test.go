package cluster

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/wire"
)

func startNode(t *testing.T, name string, key []byte, handlers map[string]Handler) *Node {
	t.Helper()
	n, err := New(Config{Name: name, Bind: "127.0.0.1:0", Key: key, Tags: map[string]string{TagRole: "agent", TagOS: "linux"}})
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
