package role

import (
	"bytes"
	"encoding/hex"
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
