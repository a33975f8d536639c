package fault

import (
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/lab"
)

// The tests in this file prove one-way drops through the real stack: in
// lab namespaces, with the drop applied on the client's host as the agent
// applies it, traffic is sent both ways and only the named direction is
// lost. to-server: the client still hears the server, its packets never
// arrive; to-client: the server's packets never reach the client, the
// client's still reach the server.

// lost is how long a line or datagram is waited for before it counts as
// dropped; in the lab one arrives in well under a millisecond.
const lost = 700 * time.Millisecond

// TestOneWayFlowDropInLab: a one-way flow drop passes the other direction's
// data, counts only its own direction, and the lost data arrives after Heal
// (TCP retransmits it).
func TestOneWayFlowDropInLab(t *testing.T) {
	l := newTestLab(t, 2)
	srv, cli := l.Hosts[0], l.Hosts[1]
	for _, dir := range []Direction{DirectionToServer, DirectionToClient} {
		t.Run(string(dir), func(t *testing.T) {
			c, s := tcpPair(t, cli, srv, "tcp4", net.JoinHostPort(srv.Addr.String(), "0"))
			if err := exchange(c, s, "before", 2*time.Second); err != nil {
				t.Fatalf("before the drop: %v", err)
			}
			local, remote := c.addrPort()
			run := "oneway-flow-" + string(dir)
			act, err := Drop(DropSpec{Run: run, Flow: Flow{Local: local, Remote: remote}, Direction: dir, TTL: time.Minute, NetNS: cli.NetNS()})
			if err != nil {
				t.Fatal(err)
			}
			defer act.Heal()
			t.Logf("how: %s", act.How)
			if err := s.send("s2c"); err != nil {
				t.Fatal(err)
			}
			if err := c.send("c2s"); err != nil {
				t.Fatal(err)
			}
			got, errS2C := c.recv(time.Now().Add(lost))
			s2c := errS2C == nil && got == "s2c"
			got, errC2S := s.recv(time.Now().Add(lost))
			c2s := errC2S == nil && got == "c2s"
			t.Logf("during the %s drop: server→client arrived %v (%v), client→server arrived %v (%v)", dir, s2c, errS2C, c2s, errC2S)
			wantS2C, wantC2S := dir == DirectionToServer, dir == DirectionToClient
			if s2c != wantS2C || c2s != wantC2S {
				t.Fatalf("%s: server→client passed %v (want %v), client→server passed %v (want %v)", dir, s2c, wantS2C, c2s, wantC2S)
			}
			cs, err := DropCounters(run, cli.NetNS())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("counters: %+v", cs)
			if dir == DirectionToServer && (cs.OutPackets == 0 || cs.InPackets != 0) ||
				dir == DirectionToClient && (cs.InPackets == 0 || cs.OutPackets != 0) {
				t.Fatalf("%s counters %+v: want only the dropped direction counted", dir, cs)
			}
			if err := act.Heal(); err != nil {
				t.Fatal(err)
			}
			// The lost line is retransmitted and now arrives.
			late, other := s, "c2s"
			if dir == DirectionToClient {
				late, other = c, "s2c"
			}
			if got, err := late.recv(time.Now().Add(tcpSlack)); err != nil || got != other {
				t.Fatalf("after Heal the dropped %q did not arrive: %q, %v", other, got, err)
			}
			if err := exchange(c, s, "after", 2*time.Second); err != nil {
				t.Fatalf("after Heal: %v", err)
			}
		})
	}
}

// TestOneWayHostDropInLab: a one-way host drop silences the peer's traffic
// in its direction only (UDP sent both ways), while serf's port stays open
// both ways and the counters count only the dropped direction.
func TestOneWayHostDropInLab(t *testing.T) {
	l := newTestLab(t, 2)
	peer, me := l.Hosts[0], l.Hosts[1] // the server's host, the client's host
	udp := func(h *lab.Host, port uint16) *net.UDPConn {
		var c *net.UDPConn
		if err := h.Do(func() (err error) {
			c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(h.Addr, port)))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	const keep = 7946
	meData, peerData := udp(me, 9100), udp(peer, 9100)
	meKeep, peerKeep := udp(me, keep), udp(peer, keep)
	// passes sends one datagram from → to and says whether it arrived. A
	// drop on the sender's output chain fails the send itself with EPERM
	// (the kernel tells a local sender its packet was dropped): that counts
	// as not passing too.
	n := 0
	passes := func(t *testing.T, from, to *net.UDPConn) bool {
		t.Helper()
		n++
		msg := []byte{byte(n)}
		if _, err := from.WriteToUDPAddrPort(msg, netip.MustParseAddrPort(to.LocalAddr().String())); errors.Is(err, syscall.EPERM) {
			return false
		} else if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 16)
		for {
			to.SetReadDeadline(time.Now().Add(lost))
			k, _, err := to.ReadFromUDPAddrPort(buf)
			if err != nil {
				return false
			}
			if k == 1 && buf[0] == byte(n) {
				return true
			}
		}
	}
	// A fresh bridge port may drop the first frames while it learns.
	if !eventually(5*time.Second, func() bool { return passes(t, meData, peerData) && passes(t, peerData, meData) }) {
		t.Fatal("no UDP both ways before the drop")
	}
	for _, dir := range []Direction{DirectionToServer, DirectionToClient} {
		t.Run(string(dir), func(t *testing.T) {
			run := "oneway-host-" + string(dir)
			act, err := DropHost(HostDropSpec{Run: run, Peer: peer.Addr, KeepPort: keep, Direction: dir, TTL: time.Minute, NetNS: me.NetNS()})
			if err != nil {
				t.Fatal(err)
			}
			defer act.Heal()
			t.Logf("how: %s", act.How)
			toPeer, fromPeer := passes(t, meData, peerData), passes(t, peerData, meData)
			t.Logf("during the %s host drop: client→server passed %v, server→client passed %v", dir, toPeer, fromPeer)
			if toPeer != (dir == DirectionToClient) || fromPeer != (dir == DirectionToServer) {
				t.Fatalf("%s: client→server passed %v, server→client passed %v", dir, toPeer, fromPeer)
			}
			if !passes(t, meKeep, peerKeep) || !passes(t, peerKeep, meKeep) {
				t.Fatalf("%s: serf's port %d must stay open both ways", dir, keep)
			}
			cs, err := DropCounters(run, me.NetNS())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("counters: %+v", cs)
			if dir == DirectionToServer && (cs.OutPackets == 0 || cs.InPackets != 0) ||
				dir == DirectionToClient && (cs.InPackets == 0 || cs.OutPackets != 0) {
				t.Fatalf("%s counters %+v: want only the dropped direction counted", dir, cs)
			}
			if err := act.Heal(); err != nil {
				t.Fatal(err)
			}
			if !passes(t, meData, peerData) || !passes(t, peerData, meData) {
				t.Fatal("UDP not both ways after Heal")
			}
		})
	}
}
