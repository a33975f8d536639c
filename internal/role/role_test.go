package role

import (
	"bytes"
	"encoding/json"
	"net"
	"strings"
	"testing"
)

// TestRunClient: the client child reads the greeting, reports its 5-tuple
// as one JSON line, and refuses bad arguments with a reason.
func TestRunClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Write(Greeting)
		c.Close() // the client's hold ends at EOF
	}()
	var out bytes.Buffer
	if code := runClient([]string{ln.Addr().String(), "5000"}, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	var h clientHello
	if err := json.Unmarshal(out.Bytes(), &h); err != nil || h.Remote != ln.Addr().String() || h.Local == "" || h.Err != "" {
		t.Fatalf("hello %q: %+v %v", out.String(), h, err)
	}
	for _, args := range [][]string{{"x"}, {ln.Addr().String(), "0"}, {ln.Addr().String(), "abc"}} {
		out.Reset()
		if code := runClient(args, &out); code != 2 || !strings.Contains(out.String(), "err") {
			t.Errorf("runClient(%q) = %d, %q; want 2 and an error", args, code, out.String())
		}
	}
}
