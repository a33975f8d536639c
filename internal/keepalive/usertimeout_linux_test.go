package keepalive

import (
	"net"
	"testing"
	"time"
)

// TestSetUserTimeout: SetUserTimeout puts TCP_USER_TIMEOUT on an accepted
// socket and ReadBack reads it into Effective.UserTimeout.
func TestSetUserTimeout(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := SetUserTimeout(s.(*net.TCPConn), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	eff, err := ReadBack(s.(*net.TCPConn))
	if err != nil {
		t.Fatal(err)
	}
	if !eff.UserTimeout.Known || eff.UserTimeout.Value != 5*time.Second {
		t.Fatalf("read back %s", eff.UserTimeout)
	}
	if err := SetUserTimeout(s.(*net.TCPConn), 0); err == nil {
		t.Fatal("a zero user timeout was accepted")
	}
}
