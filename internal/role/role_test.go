package role

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// serveOnce accepts one connection on a new loopback listener and writes
// greeting to it.
func serveOnce(t *testing.T, greeting string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Write([]byte(greeting))
		c.Close() // the client's hold ends at EOF
	}()
	return ln.Addr().String()
}

// TestRunClient: the client child reads and checks the greeting with the
// run's nonce, reports its 5-tuple as one JSON line, and refuses bad
// arguments and any other service (an SSH banner, another run's server)
// with a reason.
func TestRunClient(t *testing.T) {
	const nonce = "0123456789abcdef"
	addr := serveOnce(t, string(Greeting)+nonce)
	var out bytes.Buffer
	if code := runClient([]string{addr, "5000", nonce}, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	var h clientHello
	if err := json.Unmarshal(out.Bytes(), &h); err != nil || h.Remote != addr || h.Local == "" || h.Err != "" {
		t.Fatalf("hello %q: %+v %v", out.String(), h, err)
	}
	for _, greeting := range []string{"SSH-2.0-OpenSSH_9.2p1 Debian\r\n", string(Greeting) + "fedcba9876543210"} {
		out.Reset()
		if code := runClient([]string{serveOnce(t, greeting), "5000", nonce}, &out); code != 1 || !strings.Contains(out.String(), "not this run's kalab server") {
			t.Errorf("greeting %q: exit %d, %q; want a refusal", greeting, code, out.String())
		}
	}
	for _, args := range [][]string{{"x"}, {addr, "0", nonce}, {addr, "abc", nonce}, {addr, "5000"}, {addr, "5000", "short"}} {
		out.Reset()
		if code := runClient(args, &out); code != 2 || !strings.Contains(out.String(), "err") {
			t.Errorf("runClient(%q) = %d, %q; want 2 and an error", args, code, out.String())
		}
	}
}

// TestEcho: on loopback, the server's Echo writes on the accepted
// connection and the client role sends the bytes back on the same
// connection; with no connection, or once it has ended, Echo fails with a
// reason.
func TestEcho(t *testing.T) {
	const nonce = "0123456789abcdef"
	srv, err := StartServer(context.Background(), ServerConfig{Run: "echo-test", Nonce: nonce,
		Settings: keepalive.Settings{Idle: time.Second, Interval: time.Second, Count: 3}, Mode: keepalive.ModePerConn,
		ListenIP: netip.MustParseAddr("127.0.0.1"), TTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.Echo(context.Background()); err == nil || !strings.Contains(err.Error(), "no client connection") {
		t.Fatalf("echo before accept: %v", err)
	}
	clientDone := make(chan int, 1)
	var out bytes.Buffer
	go func() { clientDone <- runClient([]string{srv.Addr().String(), "30000", nonce}, &out) }()
	for deadline := time.Now().Add(5 * time.Second); srv.Record().Accept.IsZero(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no accept within 5s")
		}
	}
	for i := range 3 {
		rtt, err := srv.Echo(context.Background())
		if err != nil || rtt <= 0 || rtt > time.Second {
			t.Fatalf("echo %d: %s %v", i, rtt, err)
		}
		t.Logf("echo %d: %s", i, rtt)
	}
	if rec := srv.Record(); rec.Done || rec.Detect != nil {
		t.Fatalf("the echo ended the connection: %+v", rec)
	}
	srv.Close()
	select {
	case code := <-clientDone:
		if code != 0 {
			t.Fatalf("client exit %d: %s", code, out.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the client did not end when the server closed")
	}
	if _, err := srv.Echo(context.Background()); err == nil {
		t.Fatal("echo after the role ended succeeded")
	}
}
