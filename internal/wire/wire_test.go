package wire

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

// TestBudgets: the largest realistic messages fit serf's single-packet
// limits with room for its envelope.
func TestBudgets(t *testing.T) {
	long := strings.Repeat("x", 64)
	bigNS := int64(1<<62 - 1)
	cmds := []struct {
		cmd  string
		body any
	}{
		{CmdPrepareServer, PrepareServerReq{Run: long, Keepalive: Keepalive{IdleMS: 32767000, IntervalMS: 32767000, Count: 255}, Mode: "listener-go-default", ClientAddr: "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]", TTLMS: 1 << 40, UserTimeoutMS: 1 << 40}},
		{CmdPrepareClient, PrepareClientReq{Run: long, ServerAddr: "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535", TTLMS: 1 << 40}},
		{CmdFault, FaultReq{Run: long, Kind: "vm-pause", Scope: "host", Direction: "to-client", TTLMS: 1 << 40}},
		{CmdEcho, EchoReq{Run: long}},
		{CmdWrite, WriteReq{Run: long}},
	}
	_, key, _ := ed25519.GenerateKey(nil)
	for _, c := range cmds {
		// Signed for a node name of 64 bytes: the largest command kalab sends.
		b, err := NewSignedRequest(long+"/step-99", c.cmd, c.body, key, long)
		if err != nil {
			t.Fatalf("%s: %v", c.cmd, err)
		}
		t.Logf("%s: %d bytes", c.cmd, len(b))
	}
	collect := CollectResp{
		Done: true, AcceptNS: bigNS,
		Options:    Options{Enabled: ptr(true), IdleMS: ptr(int64(32767000)), IntervalMS: ptr(int64(32767000)), Count: ptr(255), UserTimeoutMS: ptr(int64(1 << 31))},
		LastPeerNS: ptr(bigNS), PingLossNS: ptr(bigNS), PingMode: "unprivileged", DetectNS: ptr(bigNS),
		Err:   "read tcp6 [2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535->[2001:db8:ffff:ffff:ffff:ffff:ffff:fffe]:65535: wsarecv: A connection attempt failed because the connected party did not properly respond after a period of time.",
		Errno: 10060, ErrnoName: "WSAETIMEDOUT", Probes: ptr(255), HZ: 1000,
		Note:     strings.Repeat("n", 120),
		ProbesMS: []int64{32767000, 32767000, 32767000, 32767000, 32767000, 32767000, 32767000, 32767000, 32767000, 32767000, 32767000, 32767000, 32767000, 32767000, 32767000, 32767000},
	}
	b, err := NewResponse(long+"/collect-99", collect, nil)
	if err != nil {
		t.Fatalf("largest collect response: %v", err)
	}
	t.Logf("collect: %d bytes", len(b))
	echo := EchoResp{RTTNS: bigNS, Err: strings.Repeat("e", 160)}
	if b, err = NewResponse(long+"/echo-99", echo, nil); err != nil {
		t.Fatalf("largest echo response: %v", err)
	}
	if _, err := NewResponse("id", nil, errors.New(strings.Repeat("e", 5000))); err != nil {
		t.Fatalf("long error text must be cut to fit: %v", err)
	}
}

func TestStrictDecoding(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"unknown field", `{"v":1,"id":"a","cmd":"kalab-status","shell":"rm -rf /"}`, "unknown field"},
		{"wrong version", `{"v":2,"id":"a","cmd":"kalab-status"}`, "version 2"},
		{"no id", `{"v":1,"cmd":"kalab-status"}`, "without id"},
		{"trailing", `{"v":1,"id":"a","cmd":"kalab-status"} {}`, "trailing"},
	}
	for _, tt := range tests {
		if _, err := ParseRequest([]byte(tt.in)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	var f FaultReq
	if err := DecodeBody([]byte(`{"run":"r","kind":"drop","ttl_ms":1,"cmd":"sh"}`), &f); err == nil {
		t.Error("body with an unknown field accepted")
	}
	b, _ := NewRequest("id1", CmdFault, FaultReq{Run: "r", Kind: "drop", TTLMS: 5})
	req, err := ParseRequest(b)
	if err != nil || DecodeBody(req.Body, &f) != nil || f.Kind != "drop" {
		t.Fatalf("round trip: %v %+v", err, f)
	}
}
