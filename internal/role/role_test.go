package role

import (
	"bytes"
	"encoding/json"
	"net"
	"strings"
	"testing"
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
