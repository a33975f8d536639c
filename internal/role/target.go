package role

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
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
	holdTarget(c, greet, want, os.Stdin, out) // write nothing unless asked to recheck
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

// recheckLine is what the agent writes to a target client's stdin to have
// it send the hello again and say whether the service answered.
const recheckLine = "recheck"

// RecheckTimeout bounds how long a recheck waits for the service's reply.
const RecheckTimeout = 3 * time.Second

// Recheck has a target client send its hello again on the same connection
// and reports whether the service's reply started with the expected prefix
// within RecheckTimeout (why not, when it did not: reset, closed, silent).
// It is how bisection tells whether the service still held the connection
// after an outage.
func (c *Client) Recheck(ctx context.Context) (bool, string, error) {
	c.recheckMu.Lock()
	defer c.recheckMu.Unlock()
	select {
	case <-c.later: // a stale answer
	default:
	}
	if _, err := io.WriteString(c.stdin, recheckLine+"\n"); err != nil {
		return false, "", fmt.Errorf("recheck: %w", err)
	}
	select {
	case l := <-c.later:
		return l.Answered, l.Err, nil
	case <-c.exited:
		return false, "the client ended", nil
	case <-ctx.Done():
		return false, "", ctx.Err()
	case <-time.After(RecheckTimeout + 2*time.Second):
		return false, "", errors.New("recheck: no answer from the client child")
	}
}

// holdTarget keeps the connection open, reading and discarding what the
// service sends, until it ends or the deadline passes; on each recheck
// line on stdin it sends greet again and writes one line saying whether
// the reply started with want (the reads go to the check meanwhile).
func holdTarget(c net.Conn, greet, want []byte, in io.Reader, out io.Writer) {
	chunks := make(chan []byte, 16)
	ended := &connEnd{done: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				select {
				case chunks <- bytes.Clone(buf[:n]):
				default: // nobody is checking: discard
				}
			}
			if err != nil {
				ended.err = err
				close(ended.done)
				close(chunks)
				return
			}
		}
	}()
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if sc.Text() != recheckLine {
			continue
		}
		ok, why := recheck(c, greet, want, chunks, ended)
		_ = json.NewEncoder(out).Encode(clientHello{Answered: ok, Err: why})
	}
	<-ended.done // stdin closed (the agent is gone or done): hold until the connection ends
}

// connEnd is closed with the read error that ended the connection.
type connEnd struct {
	done chan struct{}
	err  error
}

// recheck sends greet and waits for a reply starting with want.
func recheck(c net.Conn, greet, want []byte, chunks <-chan []byte, ended *connEnd) (bool, string) {
	for drained := false; !drained; {
		select {
		case _, open := <-chunks:
			drained = !open // a closed channel never blocks: stop there
		default:
			drained = true
		}
	}
	if _, err := c.Write(greet); err != nil {
		return false, "send: " + err.Error()
	}
	var got []byte
	timeout := time.After(RecheckTimeout)
	for !bytes.HasPrefix(got, want) || len(got) < len(want) {
		select {
		case b, ok := <-chunks:
			if !ok {
				<-ended.done
				return false, "connection ended: " + ended.err.Error()
			}
			got = append(got, b...)
			if len(got) >= len(want) && !bytes.HasPrefix(got, want) {
				return false, fmt.Sprintf("replied %q", got[:min(len(got), 64)])
			}
		case <-timeout:
			return false, fmt.Sprintf("no reply within %s", RecheckTimeout)
		}
	}
	return true, ""
}
