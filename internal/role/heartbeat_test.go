package role

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// TestHeartbeat: on loopback, a server with a 50 ms × 3 heartbeat and
// keepalive off keeps a client that answers alive past the deadline, then
// declares it dead once it stops answering (HEARTBEAT_TIMEOUT, T0 = its
// last answer) or reports the close when it closes instead.
func TestHeartbeat(t *testing.T) {
	hb := keepalive.Heartbeat{Period: 50 * time.Millisecond, Misses: 3}
	for _, tc := range []struct {
		name      string
		then      func(c net.Conn) // after answering for a while
		errno     string
		fromLast  bool // detection − last answer is the deadline
		detection bool
	}{
		{"silent client", func(c net.Conn) { time.Sleep(2 * time.Second) }, results.HeartbeatTimeout, true, true},
		{"client closes", func(c net.Conn) { c.Close() }, "EOF", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const nonce = "0123456789abcdef"
			srv, err := StartServer(context.Background(), ServerConfig{Run: "hb-test", Nonce: nonce, Heartbeat: hb,
				ListenIP: netip.MustParseAddr("127.0.0.1"), TTL: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			c, err := net.Dial("tcp", srv.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			g := make([]byte, len(Greeting)+len(nonce))
			if _, err := io.ReadFull(c, g); err != nil {
				t.Fatal(err)
			}
			// Answer every heartbeat for 4 deadlines: the server must not
			// give up while answers flow.
			answered := 0
			for end := time.Now().Add(4 * hb.Deadline()); time.Now().Before(end); {
				c.SetReadDeadline(end)
				b := make([]byte, 16)
				n, err := c.Read(b)
				if n > 0 {
					if _, werr := c.Write(b[:n]); werr != nil {
						t.Fatal(werr)
					}
					answered += n
				}
				if err != nil {
					break
				}
			}
			if rec := srv.Record(); rec.Done || answered < 3 {
				t.Fatalf("while answering (%d heartbeats): done=%v err=%q", answered, rec.Done, rec.Err)
			}
			go tc.then(c)
			select {
			case <-srv.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("no detection within 5 s")
			}
			rec := srv.Record()
			if rec.Detect == nil || rec.ErrnoName != tc.errno {
				t.Fatalf("detect %v, errno %q (err %q), want %s", rec.Detect, rec.ErrnoName, rec.Err, tc.errno)
			}
			if rec.Effective.Enabled.Known && rec.Effective.Enabled.Value {
				t.Errorf("keepalive on the heartbeat connection: %+v", rec.Effective)
			}
			if !tc.fromLast {
				return
			}
			if rec.LastPeer == nil {
				t.Fatal("no last answer recorded")
			}
			// Generous bounds: the deadline, late by at most half a second
			// on a loaded machine; never early.
			if d := rec.Detect.Sub(*rec.LastPeer); d < hb.Deadline() || d > hb.Deadline()+500*time.Millisecond {
				t.Errorf("detection − last answer = %s, want %s (+0.5 s)", d, hb.Deadline())
			} else {
				t.Logf("detection − last answer = %s (deadline %s)", d, hb.Deadline())
			}
		})
	}
}
