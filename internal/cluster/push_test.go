package cluster

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/wire"
)

// received is one push a test receiver got.
type received struct {
	from    string
	payload []byte
}

// TestPush: an agent-tagged member pushes to a node that registered a
// push receiver, which gets the payload and the sender's name; a member
// not tagged role=agent is ignored (its push times out, nothing is handed
// over, a warning is logged); a body over the size limit is refused
// before sending.
func TestPush(t *testing.T) {
	key := NewKey()
	var logs logBuffer
	var mu sync.Mutex
	var got []received
	coord, err := New(Config{Name: "coordinator", Bind: "127.0.0.1:0", Key: key, SignKey: coordKey, Tags: map[string]string{TagRole: "coordinator"},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	coord.HandlePush(wire.PushEvents, func(from string, payload []byte) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, received{from, payload})
	})
	if err := coord.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { coord.Leave(); coord.Shutdown() })
	agent := startWith(t, Config{Name: "agent-1", Bind: "127.0.0.1:0", Key: key, Tags: map[string]string{TagRole: "agent"}}, nil)
	outsider := startWith(t, Config{Name: "outsider", Bind: "127.0.0.1:0", Key: key, Tags: map[string]string{TagRole: "coordinator"}}, nil)
	for _, n := range []*Node{agent, outsider} {
		if err := n.Join([]string{coord.Members()[0].Addr}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); len(coord.Members()) < 3; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("members: %+v", coord.Members())
		}
	}
	ctx := context.Background()
	push := wire.EventPush{Agent: "agent-1", Run: "r1", Events: []wire.Event{{Seq: 1, AtNS: 42, Kind: wire.EventAccept, Text: "from 127.0.0.1:5000"}}}
	tests := []struct {
		name    string
		from    *Node
		body    any
		wantErr string // empty: acknowledged and handed over
	}{
		{"agent", agent, push, ""},
		{"not an agent", outsider, push, "no response"},
		{"too large", agent, wire.EventPush{Agent: strings.Repeat("a", wire.SerfSizeLimit)}, "over the 1200-byte limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			err := tt.from.Push(ctx, "coordinator", wire.PushEvents, tt.body, 500*time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("push: %v, want %q", err, tt.wantErr)
				}
				if len(got) != 0 {
					t.Fatalf("the receiver got %d pushes, want none", len(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("push: %v", err)
			}
			if len(got) != 1 || got[0].from != tt.from.Name() {
				t.Fatalf("received %+v, want one push from %s", got, tt.from.Name())
			}
			var ep wire.EventPush
			if err := json.Unmarshal(got[0].payload, &ep); err != nil || ep.Run != "r1" || len(ep.Events) != 1 || ep.Events[0] != push.Events[0] {
				t.Fatalf("payload %s (%v), want %+v", got[0].payload, err, push)
			}
		})
	}
	if out := logs.String(); !strings.Contains(out, "ignored a push") || !strings.Contains(out, "outsider") {
		t.Errorf("the receiver did not log the ignored push: %s", out)
	}
}
