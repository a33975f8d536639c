package role

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestTargetClient: against a stand-in service on loopback, the target
// client sends its hello, accepts a reply with the expected prefix, reports
// its 5-tuple and then writes nothing more; a reply with another prefix is
// refused with what came back.
func TestTargetClient(t *testing.T) {
	for _, tc := range []struct {
		name, reply, expect string
		code                int
		out                 string
	}{
		{"pong", "+PONG\r\n", "+PONG", 0, `"local":"127.0.0.1:`},
		{"no expect", "", "", 0, `"local":"127.0.0.1:`},
		{"wrong reply", "-ERR unknown\r\n", "+PONG", 1, `not starting with`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			extra := make(chan []byte, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				got := make([]byte, 6)
				_, _ = io.ReadFull(c, got)
				if string(got) != "PING\r\n" {
					extra <- got
					return
				}
				if tc.reply != "" {
					c.Write([]byte(tc.reply))
				}
				c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				more, _ := io.ReadAll(c)
				extra <- more
			}()
			var out bytes.Buffer
			args := []string{ln.Addr().String(), "400", hex.EncodeToString([]byte("PING\r\n")), hex.EncodeToString([]byte(tc.expect))}
			code := runTargetClient(args, &out)
			if code != tc.code || !strings.Contains(out.String(), tc.out) {
				t.Fatalf("exit %d, %q; want %d and %q", code, out.String(), tc.code, tc.out)
			}
			if more := <-extra; code == 0 && len(more) > 0 {
				t.Errorf("the client wrote %q after its hello", more)
			}
		})
	}
}

// TestRecheck: on a held target connection, a recheck sends the hello
// again and says whether the reply came (it does while the service holds
// the connection; after the service reset it, it says why not).
func TestRecheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	reset := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() { <-reset; c.(*net.TCPConn).SetLinger(0); c.Close() }()
		buf := make([]byte, 64)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if strings.Contains(string(buf[:n]), "PING") {
				c.Write([]byte("+PONG\r\n"))
			}
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	go holdTarget(c, []byte("PING\r\n"), []byte("+PONG"), inR, outW)
	dec := json.NewDecoder(outR)
	ask := func() clientHello {
		t.Helper()
		if _, err := io.WriteString(inW, recheckLine+"\n"); err != nil {
			t.Fatal(err)
		}
		var l clientHello
		if err := dec.Decode(&l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	if l := ask(); !l.Answered {
		t.Fatalf("recheck while held: %+v", l)
	}
	close(reset)
	time.Sleep(100 * time.Millisecond)
	if l := ask(); l.Answered || l.Err == "" {
		t.Fatalf("recheck after a reset: %+v", l)
	} else {
		t.Logf("after the reset: %s", l.Err)
	}
	inW.Close()
}
