package tcpinfo

import (
	"net"
	"testing"
	"time"
)

// TestGet: on an idle loopback connection the peer-activity ages grow,
// no keepalive probe is outstanding and the state is ESTABLISHED (1).
func TestGet(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c.Write([]byte("hi"))
	s.Read(make([]byte, 2))
	first, err := Get(s.(*net.TCPConn))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(120 * time.Millisecond)
	second, err := Get(s.(*net.TCPConn))
	if err != nil {
		t.Fatal(err)
	}
	if first.State != 1 || second.Probes != 0 {
		t.Fatalf("state %d probes %d, want ESTABLISHED and 0", first.State, second.Probes)
	}
	if grew := second.LastDataRecv - first.LastDataRecv; grew < 80*time.Millisecond || grew > time.Second {
		t.Fatalf("last_data_recv grew %s over 120ms", grew)
	}
	if d := second.LastPeerActivity().Sub(first.LastPeerActivity()); d < -20*time.Millisecond || d > 20*time.Millisecond {
		t.Fatalf("last peer activity moved by %s without traffic", d)
	}
}
