package role

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/kalab-dev/kalab/internal/wire"
)

// targetArg follows ClientArg for a client of a real service (the
// experiment's [target]) instead of kalab's own server.
const targetArg = "--target"

// runTargetClient: args are the service's address, TTL in ms, the hello
// and the expected reply prefix in hex. It dials, sends the hello, reads
// until the reply starts with the prefix (10 s), reports its 5-tuple, then
// holds the connection and only reads (a real service must not receive
// anything kalab did not declare), until the service closes it or the
// TTL ends.
func runTargetClient(args []string, out io.Writer) int {
	hello := func(h clientHello) { _ = json.NewEncoder(out).Encode(h) }
	if len(args) != 4 {
		hello(clientHello{Err: "usage: " + ClientArg + " " + targetArg + " SERVER_ADDR TTL_MS HELLO_HEX EXPECT_HEX"})
		return 2
	}
	ttlMS, err := strconv.ParseInt(args[1], 10, 64)
	greet, herr := hex.DecodeString(args[2])
	want, eerr := hex.DecodeString(args[3])
	if err != nil || ttlMS <= 0 || herr != nil || eerr != nil || len(greet) > wire.MaxHello || len(want) > wire.MaxExpect {
		hello(clientHello{Err: fmt.Sprintf("bad arguments %q: ttl ms, then hello and expect in hex (at most %d and %d bytes)", args[1:], wire.MaxHello, wire.MaxExpect)})
		return 2
	}
	c, err := net.DialTimeout("tcp", args[0], 10*time.Second)
	if err != nil {
		hello(clientHello{Err: fmt.Sprintf("dial target %s: %v", args[0], err)})
		return 1
	}
	defer c.Close()
	if err := exchange(c, greet, want); err != nil {
		hello(clientHello{Err: fmt.Sprintf("target %s: %v", args[0], err)})
		return 1
	}
	hello(clientHello{Local: c.LocalAddr().String(), Remote: c.RemoteAddr().String()})
	c.SetReadDeadline(time.Now().Add(time.Duration(ttlMS) * time.Millisecond))
	_, _ = io.Copy(io.Discard, c) // hold: read whatever comes, write nothing
	return 0
}

// exchange sends greet (if any) and reads until the reply starts with want
// (if any), within 10 s.
func exchange(c net.Conn, greet, want []byte) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if len(greet) > 0 {
		if _, err := c.Write(greet); err != nil {
			return fmt.Errorf("send hello: %w", err)
		}
	}
	if len(want) == 0 {
		return nil
	}
	got := make([]byte, 0, len(want))
	buf := make([]byte, 512)
	for len(got) < len(want) {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if len(got) >= len(want) || err != nil {
			if !bytes.HasPrefix(got, want) {
				return fmt.Errorf("replied %q, not starting with %q (%v)", got[:min(len(got), 64)], want, err)
			}
			break
		}
	}
	return nil
}
