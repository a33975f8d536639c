package wire

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestVerify: only the coordinator's key, for this node, recently, with
// nothing altered, passes.
func TestVerify(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	now := time.Unix(1_800_000_000, 0)
	signed := func(k ed25519.PrivateKey, node string, at time.Time) Request {
		b, err := NewSignedRequest("run-1/fault", CmdFault, FaultReq{Run: "run-1", Kind: "drop", TTLMS: 1000}, k, node)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseRequest(b)
		if err != nil {
			t.Fatal(err)
		}
		r.Auth.IssuedNS = at.UnixNano() // re-signed below when the time is part of the test
		if k != nil {
			if err := Sign(&r, k, node, at); err != nil {
				t.Fatal(err)
			}
		}
		return r
	}
	tampered := signed(key, "agent-1", now)
	tampered.Body = []byte(`{"run":"run-1","kind":"drop","scope":"host","ttl_ms":1000}`)
	unsigned, _ := ParseRequest(mustRequest(t))
	tests := []struct {
		name string
		r    Request
		want string // "" = accepted
	}{
		{"good", signed(key, "agent-1", now), ""},
		{"clock a little apart", signed(key, "agent-1", now.Add(-4*time.Minute)), ""},
		{"unsigned", unsigned, ErrUnsigned.Error()},
		{"foreign key", signed(other, "agent-1", now), "does not verify"},
		{"altered body", tampered, "does not verify"},
		{"for another node", signed(key, "agent-2", now), `signed for node "agent-2"`},
		{"expired", signed(key, "agent-1", now.Add(-6*time.Minute)), "allowed ±5m0s"},
		{"from the future", signed(key, "agent-1", now.Add(6*time.Minute)), "allowed ±5m0s"},
	}
	for _, tt := range tests {
		err := tt.r.Verify(pub, "agent-1", now)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
	if err := unsigned.Verify(pub, "agent-1", now); !errors.Is(err, ErrUnsigned) {
		t.Errorf("unsigned: %v is not ErrUnsigned", err)
	}
}

func mustRequest(t *testing.T) []byte {
	b, err := NewRequest("id", CmdStatus, StatusReq{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReceiverSizeLimit: an oversize message is refused by the receiver.
func TestReceiverSizeLimit(t *testing.T) {
	big := []byte(`{"v":1,"id":"x","cmd":"kalab-status","body":{"pad":"` + strings.Repeat("a", SerfSizeLimit) + `"}}`)
	if _, err := ParseRequest(big); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("oversize request: %v", err)
	}
	if _, err := ParseResponse(big); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("oversize response: %v", err)
	}
}
