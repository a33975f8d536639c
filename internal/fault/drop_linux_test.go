package fault

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables/expr"
	"github.com/kalab-dev/kalab/internal/lab"
)

func TestFlowRules(t *testing.T) {
	f := Flow{Local: netip.MustParseAddrPort("198.18.0.2:40001"), Remote: netip.MustParseAddrPort("198.18.0.1:9000")}
	in, out := FlowRules(f)
	cmpData := func(es []expr.Any) [][]byte {
		var d [][]byte
		for _, e := range es {
			if c, ok := e.(*expr.Cmp); ok {
				d = append(d, c.Data)
			}
		}
		return d
	}
	wantIn := [][]byte{{2}, {6}, {198, 18, 0, 1}, {198, 18, 0, 2}, {0x23, 0x28}, {0x9c, 0x41}}
	wantOut := [][]byte{{2}, {6}, {198, 18, 0, 2}, {198, 18, 0, 1}, {0x9c, 0x41}, {0x23, 0x28}}
	for _, tt := range []struct {
		name      string
		got, want [][]byte
		es        []expr.Any
	}{{"input", cmpData(in), wantIn, in}, {"output", cmpData(out), wantOut, out}} {
		if !slices.EqualFunc(tt.got, tt.want, slices.Equal) {
			t.Errorf("%s matches %v, want %v (nfproto ipv4, tcp, saddr, daddr, sport, dport)", tt.name, tt.got, tt.want)
		}
		if _, ok := tt.es[len(tt.es)-2].(*expr.Counter); !ok {
			t.Errorf("%s: counter missing before the verdict", tt.name)
		}
		if v, ok := tt.es[len(tt.es)-1].(*expr.Verdict); !ok || v.Kind != expr.VerdictDrop {
			t.Errorf("%s: last expression is not a drop verdict", tt.name)
		}
	}
	in6, _ := FlowRules(Flow{Local: netip.MustParseAddrPort("[fd00::2]:1"), Remote: netip.MustParseAddrPort("[fd00::1]:2")})
	if p := in6[4].(*expr.Payload); p.Offset != 8 || p.Len != 16 {
		t.Errorf("IPv6 saddr payload at %d/%d, want 8/16", p.Offset, p.Len)
	}
}

func TestDropSpecValidate(t *testing.T) {
	ok := Flow{Local: netip.MustParseAddrPort("198.18.0.2:1"), Remote: netip.MustParseAddrPort("198.18.0.1:2")}
	tests := []struct {
		name string
		spec DropSpec
		want string
	}{
		{"ok", DropSpec{Run: "r", Flow: ok, TTL: time.Second}, ""},
		{"no run", DropSpec{Flow: ok, TTL: time.Second}, "run id"},
		{"no ttl", DropSpec{Run: "r", Flow: ok}, "ttl"},
		{"ttl too long", DropSpec{Run: "r", Flow: ok, TTL: 7 * time.Hour}, "ttl"},
		{"port 0", DropSpec{Run: "r", Flow: Flow{Local: netip.MustParseAddrPort("198.18.0.2:0"), Remote: ok.Remote}, TTL: time.Second}, "port"},
		{"mixed families", DropSpec{Run: "r", Flow: Flow{Local: netip.MustParseAddrPort("[fd00::2]:1"), Remote: ok.Remote}, TTL: time.Second}, "IPv4 and IPv6"},
	}
	for _, tt := range tests {
		err := tt.spec.validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: validate() = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestDropInLab: the drop silences only its flow, counts what it drops,
// heals by Heal and by the deadman, and Sweep removes kalab's table.
func TestDropInLab(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: the netns lab and nftables need root (run as root, as CI does)")
	}
	l, err := lab.New(lab.Config{Hosts: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	srv, cli := l.Hosts[0], l.Hosts[1]
	var ln net.Listener
	if err := srv.Do(func() (err error) {
		ln, err = net.Listen("tcp4", net.JoinHostPort(srv.Addr.String(), "0"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { // line echo
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					s, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(s))
				}
			}()
		}
	}()
	dial := func() (net.Conn, *bufio.Reader) {
		var c net.Conn
		if err := cli.Do(func() (err error) { c, err = net.DialTimeout("tcp4", ln.Addr().String(), 5*time.Second); return err }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	echoes := func(c net.Conn, r *bufio.Reader, wait time.Duration) bool {
		c.SetReadDeadline(time.Now().Add(wait))
		fmt.Fprintln(c, "x")
		_, err := r.ReadString('\n')
		return err == nil
	}
	a, ar := dial()
	b, br := dial()
	if !echoes(a, ar, 2*time.Second) || !echoes(b, br, 2*time.Second) {
		t.Fatal("no echo before the drop")
	}
	flow := Flow{Local: netip.MustParseAddrPort(a.LocalAddr().String()), Remote: netip.MustParseAddrPort(a.RemoteAddr().String())}
	act, err := Drop(DropSpec{Run: "lab-test", Flow: flow, TTL: 3 * time.Second, NetNS: cli.NetNS()})
	if err != nil {
		t.Fatal(err)
	}
	if echoes(a, ar, 300*time.Millisecond) {
		t.Fatal("the dropped flow still echoes")
	}
	if !echoes(b, br, 2*time.Second) {
		t.Fatal("the other flow between the same hosts stopped too")
	}
	cs, err := DropCounters("lab-test", cli.NetNS())
	if err != nil {
		t.Fatal(err)
	}
	if cs.OutPackets == 0 {
		t.Fatalf("counters %+v: the client's write was not counted as dropped", cs)
	}
	t.Logf("counters while dropping: %+v", cs)

	// Deadman: nobody calls Heal; the TTL does.
	select {
	case <-act.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("deadman did not heal within TTL + 7s")
	}
	if at, byDeadman := act.HealedAt(); !byDeadman || at.Before(act.Deadline.Add(-10*time.Millisecond)) || act.Err() != nil {
		t.Fatalf("healed at %s (deadline %s) by deadman=%v err=%v", at, act.Deadline, byDeadman, act.Err())
	}
	// The retransmitted "x" now gets through and is echoed.
	a.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := ar.ReadString('\n'); err != nil {
		t.Fatalf("flow did not recover after the deadman healed it: %v", err)
	}
	if err := act.Heal(); err != nil {
		t.Fatalf("second Heal: %v", err)
	}

	// Sweep removes the table (as on agent start after a crash).
	if _, err := Drop(DropSpec{Run: "left-behind", Flow: flow, TTL: time.Hour, NetNS: cli.NetNS()}); err != nil {
		t.Fatal(err)
	}
	if err := Sweep(cli.NetNS()); err != nil {
		t.Fatal(err)
	}
	tables, err := Tables(cli.NetNS())
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if strings.HasSuffix(tb, " "+tableName) {
			t.Fatalf("table %s left after Sweep: %v", tableName, tables)
		}
	}
	if !echoes(a, ar, 2*time.Second) {
		t.Fatal("flow still silent after Sweep")
	}
}

// TestHostDropInLab: a host drop on h2 toward h1 silences every packet
// between them (TCP and ICMP) except serf's port, and leaves h2's traffic
// with other hosts alone.
func TestHostDropInLab(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: the netns lab and nftables need root (run as root, as CI does)")
	}
	l, err := lab.New(lab.Config{Hosts: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	peer, me, other := l.Hosts[0], l.Hosts[1], l.Hosts[2]
	listen := func(h *lab.Host, port string) net.Listener {
		var ln net.Listener
		if err := h.Do(func() (err error) { ln, err = net.Listen("tcp4", net.JoinHostPort(h.Addr.String(), port)); return err }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		return ln
	}
	data, serf := listen(peer, "9000"), listen(peer, "7946")
	otherLn := listen(other, "9000")
	reach := func(from *lab.Host, ln net.Listener) bool {
		var ok bool
		from.Do(func() error {
			c, err := net.DialTimeout("tcp4", ln.Addr().String(), 500*time.Millisecond)
			if err == nil {
				ok = true
				c.Close()
			}
			return nil
		})
		return ok
	}
	if !reach(me, data) || !reach(me, serf) || !reach(me, otherLn) {
		t.Fatal("no connectivity before the drop")
	}
	act, err := DropHost(HostDropSpec{Run: "host-test", Peer: peer.Addr, KeepPort: 7946, TTL: time.Minute, NetNS: me.NetNS()})
	if err != nil {
		t.Fatal(err)
	}
	defer act.Heal()
	if reach(me, data) {
		t.Error("data port of the peer still reachable during the host drop")
	}
	if reach(peer, listen(me, "9001")) {
		t.Error("the peer still reaches this host during the host drop")
	}
	if !reach(me, serf) {
		t.Error("serf's port to the peer was cut: the agent could not be told to heal")
	}
	if !reach(me, otherLn) {
		t.Error("a third host became unreachable: the drop must be scoped to the peer")
	}
	cs, err := DropCounters("host-test", me.NetNS())
	if err != nil || !cs.Known || cs.InPackets+cs.OutPackets == 0 {
		t.Fatalf("counters %+v, %v", cs, err)
	}
	if err := act.Heal(); err != nil {
		t.Fatal(err)
	}
	if !reach(me, data) {
		t.Error("peer unreachable after Heal")
	}
}
