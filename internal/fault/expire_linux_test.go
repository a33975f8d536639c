package fault

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/kalab-dev/kalab/internal/lab"
)

// The tests in this file install drops with installFlowDrop and
// installHostDrop directly, or from a process that is then SIGKILLed: no
// Active and no Go deadman exists, so only the kernel's element timeout can
// end the drop. They assert real traffic: blocked while the element lives,
// flowing again after the TTL on the same connection.

// expireTTL is the TTL of the drops that are left to expire. Traffic must
// flow again within TTL + slack (ICMP, polled every ~100 ms) or TTL +
// tcpSlack (TCP): TCP retransmits with exponential backoff from a 200 ms
// RTO (0.2, 0.6, 1.4, 3.0 s after the first send), so a segment first sent
// at the drop only gets through at the first retransmission after expiry,
// ~3 s after the drop for a 2 s TTL; the slack is for a loaded machine.
const (
	expireTTL = 2 * time.Second
	slack     = 3 * time.Second
	tcpSlack  = 5 * time.Second
	// early is how much sooner than the TTL after the install call traffic
	// may flow again: none in principle (the kernel starts the element's
	// clock when it receives the batch), but its jiffies clock lags real
	// time by up to a jiffy.
	early = 100 * time.Millisecond
)

// newTestLab skips unless root, builds a lab and tears it down at the end;
// every host's kalab table is swept first, so nothing outlives a failed test.
func newTestLab(t *testing.T, hosts int) *lab.Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: the netns lab and nftables need root (run as root, as CI does)")
	}
	l, err := lab.New(lab.Config{Hosts: hosts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, h := range l.Hosts {
			if err := Sweep(h.NetNS()); err != nil {
				t.Errorf("sweep %s: %v", h.Name, err)
			}
		}
		l.Close()
	})
	return l
}

// eventually polls ok every 50 ms until it holds or wait has passed.
func eventually(wait time.Duration, ok func() bool) bool {
	for end := time.Now().Add(wait); ; time.Sleep(50 * time.Millisecond) {
		if ok() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

// end is one side of a TCP connection exchanging lines.
type end struct {
	net.Conn
	r *bufio.Reader
}

func (e end) send(line string) error {
	e.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_, err := fmt.Fprintln(e, line)
	return err
}

// recv reads one line, waiting until deadline.
func (e end) recv(deadline time.Time) (string, error) {
	e.SetReadDeadline(deadline)
	s, err := e.r.ReadString('\n')
	return strings.TrimSuffix(s, "\n"), err
}

func (e end) addrPort() (local, remote netip.AddrPort) {
	return netip.MustParseAddrPort(e.LocalAddr().String()), netip.MustParseAddrPort(e.RemoteAddr().String())
}

// tcpPair connects a client in client to a listener on listen in server and
// returns both ends; they are closed at the end of the test.
func tcpPair(t *testing.T, client, server *lab.Host, network, listen string) (c, s end) {
	t.Helper()
	var ln net.Listener
	if err := server.Do(func() (err error) { ln, err = net.Listen(network, listen); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if sc, err := ln.Accept(); err == nil {
			accepted <- sc
		}
	}()
	var cc net.Conn
	if err := client.Do(func() (err error) { cc, err = net.DialTimeout(network, ln.Addr().String(), 5*time.Second); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	select {
	case sc := <-accepted:
		t.Cleanup(func() { sc.Close() })
		return end{cc, bufio.NewReader(cc)}, end{sc, bufio.NewReader(sc)}
	case <-time.After(5 * time.Second):
		t.Fatal("no accept within 5s")
	}
	panic("unreachable")
}

// exchange sends a line each way and wants both within wait.
func exchange(c, s end, line string, wait time.Duration) error {
	if err := c.send(line); err != nil {
		return err
	}
	if got, err := s.recv(time.Now().Add(wait)); err != nil || got != line {
		return fmt.Errorf("client→server %q: got %q, %v", line, got, err)
	}
	if err := s.send(line); err != nil {
		return err
	}
	if got, err := c.recv(time.Now().Add(wait)); err != nil || got != line {
		return fmt.Errorf("server→client %q: got %q, %v", line, got, err)
	}
	return nil
}

// runSets lists the sets named for run in kalab's table.
func runSets(c *nftables.Conn, run string) ([]*nftables.Set, error) {
	if ok, err := hasTable(c); !ok || err != nil {
		return nil, err
	}
	all, err := c.GetSets(table)
	if err != nil {
		return nil, err
	}
	var mine []*nftables.Set
	for _, s := range all {
		if strings.HasPrefix(s.Name, setPrefix(run)) {
			mine = append(mine, s)
		}
	}
	return mine, nil
}

// runElements counts the elements left in run's sets and how many sets it
// has; an expired element is not listed.
func runElements(run string, netNS int) (elems, sets int, err error) {
	c, done, err := conn(netNS)
	if err != nil {
		return 0, 0, err
	}
	defer done()
	ss, err := runSets(c, run)
	if err != nil {
		return 0, 0, err
	}
	for _, s := range ss {
		es, err := c.GetSetElements(s)
		if err != nil {
			return 0, 0, err
		}
		elems += len(es)
	}
	return elems, len(ss), nil
}

// watchExpiry polls run's set every 10 ms from start and returns a function
// that stops it and reports how long after start its elements were first
// listed gone, or why not (a listing error, or "still listed").
func watchExpiry(t *testing.T, run string, netNS int, start time.Time) func() (time.Duration, error) {
	var (
		mu     sync.Mutex
		gone   time.Duration
		last   = errors.New("still listed")
		stop   = make(chan struct{})
		exited = make(chan struct{})
		quit   sync.Once
	)
	go func() {
		defer close(exited)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			n, sets, err := runElements(run, netNS)
			mu.Lock()
			switch {
			case err != nil:
				last = err
			case sets == 0:
				last = errors.New("the run has no set")
			case n == 0:
				gone, last = time.Since(start), nil
			default:
				last = fmt.Errorf("still listed %s after the drop", time.Since(start).Round(time.Millisecond))
			}
			done := last == nil
			mu.Unlock()
			if done {
				return
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	report := func() (time.Duration, error) {
		quit.Do(func() { close(stop) })
		<-exited // a listing in flight still counts
		mu.Lock()
		defer mu.Unlock()
		return gone, last
	}
	t.Cleanup(func() { report() }) // stops it if the test ends first
	return report
}

// assertRuleState checks run's rules and sets in the namespace: rules says
// whether the 2+ tagged rules should be there, sets whether a set should.
func assertRuleState(t *testing.T, run string, netNS int, rules, sets bool) {
	t.Helper()
	c, done, err := conn(netNS)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	in, out, err := kalabRules(c, run)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := runSets(c, run)
	if err != nil {
		t.Fatal(err)
	}
	if rules {
		// Every set the rules look up exists, and is the run's.
		for _, name := range lookedUp(append(in, out...)) {
			if !slices.ContainsFunc(ss, func(s *nftables.Set) bool { return s.Name == name }) {
				t.Errorf("run %s: rules look up set %s, not among the run's sets", run, name)
			}
		}
	}
	if (rules && (len(in) == 0 || len(out) == 0)) || (!rules && len(in)+len(out) > 0) {
		t.Errorf("run %s: %d input and %d output rules, want rules=%v", run, len(in), len(out), rules)
	}
	if (len(ss) > 0) != sets {
		t.Errorf("run %s: %d sets, want sets=%v", run, len(ss), sets)
	}
}

// blockedThenExpires is the body of the flow-drop expiry tests, after the
// drop was installed at installed on the connection c (client, in the
// dropping namespace) to s: both directions are blocked and counted, then
// the retransmitted lines get through after the TTL and the connection
// carries a new exchange.
func blockedThenExpires(t *testing.T, run string, netNS int, c, s end, installed time.Time) {
	t.Helper()
	gone := watchExpiry(t, run, netNS, installed)
	if err := c.send("a"); err != nil {
		t.Fatal(err)
	}
	if err := s.send("b"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.recv(time.Now().Add(500 * time.Millisecond)); err == nil {
		t.Fatalf("client→server line %q got through the drop", got)
	}
	if got, err := c.recv(time.Now().Add(100 * time.Millisecond)); err == nil {
		t.Fatalf("server→client line %q got through the drop", got)
	}
	cs, err := DropCounters(run, netNS)
	if err != nil {
		t.Fatal(err)
	}
	if !cs.Known || cs.OutPackets == 0 || cs.InPackets == 0 || cs.OutBytes == 0 || cs.InBytes == 0 {
		t.Fatalf("counters %+v: want the client's and the server's lines counted as dropped", cs)
	}
	if elapsed := time.Since(installed); elapsed >= expireTTL-early {
		t.Fatalf("blocking checks took %s, too long to tell the drop from its expiry", elapsed)
	}

	// Nobody heals: the kernel lets the retransmissions through after the TTL.
	deadline := installed.Add(expireTTL + tcpSlack)
	if got, err := s.recv(deadline); err != nil || got != "a" {
		t.Fatalf("client→server line not through %s after the drop (TTL %s): %q, %v", time.Since(installed), expireTTL, got, err)
	}
	if got, err := c.recv(deadline); err != nil || got != "b" {
		t.Fatalf("server→client line not through %s after the drop (TTL %s): %q, %v", time.Since(installed), expireTTL, got, err)
	}
	flowed := time.Since(installed)
	if flowed < expireTTL-early {
		t.Errorf("traffic flowed again %s after the drop, before the TTL %s", flowed, expireTTL)
	}
	if err := exchange(c, s, "again", 2*time.Second); err != nil {
		t.Fatalf("the connection does not carry data after the drop expired: %v", err)
	}
	at, err := gone()
	if err != nil {
		t.Errorf("set element not seen gone: %v", err)
	}
	t.Logf("TTL %s: element gone from the set listing after %s, retransmitted lines through after %s, counters while dropping %+v",
		expireTTL, at.Round(time.Millisecond), flowed.Round(time.Millisecond), cs)

	// The expired drop's rules stay (matching nothing) until heal or sweep.
	before, err := DropCounters(run, netNS)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := exchange(c, s, fmt.Sprint("more", i), 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if after, err := DropCounters(run, netNS); err != nil || after != before {
		t.Errorf("counters moved after expiry: %+v then %+v (%v)", before, after, err)
	}
	assertRuleState(t, run, netNS, true, true)
}

// TestFlowDropExpiresInKernel (a): a flow drop nobody heals ends at its TTL
// on the kernel's clock, for IPv4 (between two hosts over the bridge) and
// IPv6 (on loopback inside one host).
func TestFlowDropExpiresInKernel(t *testing.T) {
	l := newTestLab(t, 2)
	srv, cli := l.Hosts[0], l.Hosts[1]
	for _, tc := range []struct {
		name            string
		server          *lab.Host
		network, listen string
	}{
		{"ipv4", srv, "tcp4", net.JoinHostPort(srv.Addr.String(), "0")},
		{"ipv6", cli, "tcp6", "[::1]:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := "expire-flow-" + tc.name
			c, s := tcpPair(t, cli, tc.server, tc.network, tc.listen)
			if err := exchange(c, s, "hello", 2*time.Second); err != nil {
				t.Fatalf("before the drop: %v", err)
			}
			local, remote := c.addrPort()
			spec := DropSpec{Run: run, Flow: Flow{Local: local, Remote: remote}, TTL: expireTTL, NetNS: cli.NetNS()}
			if err := spec.validate(); err != nil {
				t.Fatal(err)
			}
			// The kernel starts the element's clock after this; nothing but
			// that clock ends the drop (no Active, no Go deadman).
			installed := time.Now()
			remove, err := installFlowDrop(spec)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := remove(); err != nil {
					t.Errorf("heal after expiry: %v", err)
				}
			})
			blockedThenExpires(t, run, cli.NetNS(), c, s, installed)
		})
	}
}

// helperEnv carries "run local remote ttl" to TestFaultHelperProcess.
const helperEnv = "KALAB_FAULT_TEST_DROP"

// TestFaultHelperProcess is not a test: TestFlowDropOutlivesKilledProcess
// starts the test binary with helperEnv set, inside a lab host, to apply a
// drop the agent's way (Drop, Go deadman armed) and be SIGKILLed.
func TestFaultHelperProcess(t *testing.T) {
	arg := os.Getenv(helperEnv)
	if arg == "" {
		t.Skip("helper process of TestFlowDropOutlivesKilledProcess")
	}
	f := strings.Fields(arg)
	if len(f) != 4 {
		fmt.Printf("error: %s=%q: want run local remote ttl\n", helperEnv, arg)
		os.Exit(2)
	}
	ttl, err := time.ParseDuration(f[3])
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	start := time.Now()
	a, err := Drop(DropSpec{Run: f[0], Flow: Flow{Local: netip.MustParseAddrPort(f[1]), Remote: netip.MustParseAddrPort(f[2])}, TTL: ttl})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	fmt.Println("installed:", start.UnixNano(), a.How)
	time.Sleep(time.Hour) // until SIGKILL
}

// TestFlowDropOutlivesKilledProcess: the agent's path (Drop, deadman armed)
// in a process that is SIGKILLed right after: the drop still bites, and the
// kernel ends it at its TTL with no kalab process left in the namespace.
func TestFlowDropOutlivesKilledProcess(t *testing.T) {
	l := newTestLab(t, 2)
	srv, cli := l.Hosts[0], l.Hosts[1]
	c, s := tcpPair(t, cli, srv, "tcp4", net.JoinHostPort(srv.Addr.String(), "0"))
	if err := exchange(c, s, "hello", 2*time.Second); err != nil {
		t.Fatalf("before the drop: %v", err)
	}
	local, remote := c.addrPort()
	run := "expire-killed"
	cmd := exec.Command(os.Args[0], "-test.run=^TestFaultHelperProcess$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %s %s", helperEnv, run, local, remote, expireTTL))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cli.Start(cmd); err != nil { // NetNS 0 in the helper is cli's namespace
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "installed:") || strings.HasPrefix(line, "error:") {
				ready <- line
				break
			}
		}
		close(ready)
	}()
	var line string
	select {
	case line = <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("helper did not report within 10s")
	}
	var startNS int64
	if _, err := fmt.Sscanf(line, "installed: %d", &startNS); err != nil {
		t.Fatalf("helper did not install the drop: %q (exit: %v)", line, cmd.Wait())
	}
	// When the helper called Drop, on this process's monotonic clock.
	installed := time.Now().Add(-time.Since(time.Unix(0, startNS).Round(0)))
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("helper exit: %v, want killed", err)
	}
	t.Logf("helper %s; SIGKILLed %s after it called Drop", line, time.Since(installed).Round(time.Millisecond))
	blockedThenExpires(t, run, cli.NetNS(), c, s, installed)
}

// pinger sends ICMP echo requests from a lab host over a raw socket.
type pinger struct {
	c   net.PacketConn
	id  uint16
	seq uint16
}

func newPinger(t *testing.T, h *lab.Host) *pinger {
	t.Helper()
	var c net.PacketConn
	if err := h.Do(func() (err error) { c, err = net.ListenPacket("ip4:icmp", h.Addr.String()); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &pinger{c: c, id: uint16(os.Getpid()) ^ uint16(h.Index)}
}

// pingPayload is the echo data: 8 + 16 bytes of ICMP, 44 bytes of IPv4.
const pingPayload = "kalab-expiry-ok!"

// ping sends one echo request to dst and waits up to wait for its reply.
func (p *pinger) ping(dst netip.Addr, wait time.Duration) bool {
	p.seq++
	msg := binary.BigEndian.AppendUint16([]byte{8, 0, 0, 0}, p.id)
	msg = binary.BigEndian.AppendUint16(msg, p.seq)
	msg = append(msg, pingPayload...)
	var sum uint32
	for i := 0; i < len(msg); i += 2 {
		sum += uint32(msg[i])<<8 | uint32(msg[i+1])
	}
	sum = sum>>16 + sum&0xffff
	sum += sum >> 16
	binary.BigEndian.PutUint16(msg[2:], ^uint16(sum))
	if _, err := p.c.WriteTo(msg, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return false
	}
	buf := make([]byte, 1500)
	p.c.SetReadDeadline(time.Now().Add(wait))
	for {
		n, from, err := p.c.ReadFrom(buf) // the IPv4 header is stripped
		if err != nil {
			return false
		}
		if n >= 8 && buf[0] == 0 && binary.BigEndian.Uint16(buf[4:]) == p.id && binary.BigEndian.Uint16(buf[6:]) == p.seq &&
			from.(*net.IPAddr).IP.Equal(dst.AsSlice()) {
			return true
		}
	}
}

// udpEcho echoes datagrams on the host's address and port.
func udpEcho(t *testing.T, h *lab.Host, port int) netip.AddrPort {
	t.Helper()
	var c net.PacketConn
	addr := netip.AddrPortFrom(h.Addr, uint16(port))
	if err := h.Do(func() (err error) { c, err = net.ListenPacket("udp4", addr.String()); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			c.WriteTo(buf[:n], from)
		}
	}()
	return addr
}

// udpClient sends numbered datagrams to an echo and wants them back.
type udpClient struct {
	c   *net.UDPConn
	seq int
}

func newUDPClient(t *testing.T, h *lab.Host, to netip.AddrPort) *udpClient {
	t.Helper()
	var c *net.UDPConn
	if err := h.Do(func() (err error) { c, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(to)); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &udpClient{c: c}
}

func (u *udpClient) echo(wait time.Duration) bool {
	u.seq++
	want := fmt.Sprint("kalab ", u.seq)
	if _, err := u.c.Write([]byte(want)); err != nil {
		return false
	}
	buf := make([]byte, 1500)
	u.c.SetReadDeadline(time.Now().Add(wait))
	for {
		n, err := u.c.Read(buf)
		if err != nil {
			return false
		}
		if string(buf[:n]) == want {
			return true
		}
	}
}

// TestHostDropExpiresInKernel (b, d): a host drop nobody heals silences
// ICMP and UDP with the peer both ways (counted, with exact bytes) while
// the keep port passes, and ends at its TTL on the kernel's clock; after
// that its rules count nothing more.
func TestHostDropExpiresInKernel(t *testing.T) {
	l := newTestLab(t, 2)
	peer, me := l.Hosts[0], l.Hosts[1]
	myPing, peerPing := newPinger(t, me), newPinger(t, peer)
	data := newUDPClient(t, me, udpEcho(t, peer, 9000))
	keep := newUDPClient(t, me, udpEcho(t, peer, 7946))
	if !eventually(5*time.Second, func() bool { return myPing.ping(peer.Addr, 200*time.Millisecond) }) ||
		!peerPing.ping(me.Addr, time.Second) || !data.echo(time.Second) || !keep.echo(time.Second) {
		t.Fatal("no ICMP or UDP between the hosts before the drop")
	}
	run := "expire-host"
	spec := HostDropSpec{Run: run, Peer: peer.Addr, KeepPort: 7946, TTL: expireTTL, NetNS: me.NetNS()}
	if err := spec.validate(); err != nil {
		t.Fatal(err)
	}
	// The kernel starts the element's clock after this; nothing but
	// that clock ends the drop (no Active, no Go deadman).
	installed := time.Now()
	remove, err := installHostDrop(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := remove(); err != nil {
			t.Errorf("heal after expiry: %v", err)
		}
	})
	gone := watchExpiry(t, run, me.NetNS(), installed)

	const pings = 3
	for range pings {
		if myPing.ping(peer.Addr, 100*time.Millisecond) {
			t.Fatal("ping to the peer answered during the host drop")
		}
		if peerPing.ping(me.Addr, 100*time.Millisecond) {
			t.Fatal("ping from the peer answered during the host drop")
		}
	}
	if data.echo(200 * time.Millisecond) {
		t.Fatal("UDP to the peer's data port echoed during the host drop")
	}
	if !keep.echo(time.Second) {
		t.Fatal("UDP on the keep port was cut by the host drop")
	}
	// (d) Counters: each echo request is 44 bytes of IPv4, the UDP datagram
	// 28 + its payload; outgoing: 3 pings + 1 datagram, incoming: 3 pings.
	cs, err := DropCounters(run, me.NetNS())
	if err != nil {
		t.Fatal(err)
	}
	if !cs.Known || cs.OutPackets < pings+1 || cs.InPackets < pings || cs.OutBytes < pings*44+28+7 || cs.InBytes < pings*44 {
		t.Fatalf("counters %+v: want ≥ %d packets/%d bytes out and ≥ %d/%d in", cs, pings+1, pings*44+35, pings, pings*44)
	}
	if elapsed := time.Since(installed); elapsed >= expireTTL-early {
		t.Fatalf("blocking checks took %s, too long to tell the drop from its expiry", elapsed)
	}

	// Nobody heals: ping every ~100 ms until the kernel lets it through.
	if !eventually(expireTTL+slack, func() bool { return myPing.ping(peer.Addr, 100*time.Millisecond) }) {
		t.Fatalf("ping still unanswered %s after the host drop (TTL %s)", time.Since(installed), expireTTL)
	}
	flowed := time.Since(installed)
	if flowed < expireTTL-early {
		t.Errorf("ping answered %s after the host drop, before the TTL %s", flowed, expireTTL)
	}
	if !peerPing.ping(me.Addr, time.Second) || !data.echo(time.Second) {
		t.Error("ping from the peer or UDP to its data port still silent after the drop expired")
	}
	at, err := gone()
	if err != nil {
		t.Errorf("set element not seen gone: %v", err)
	}
	t.Logf("TTL %s: element gone from the set listing after %s, first answered ping after %s, counters while dropping %+v",
		expireTTL, at.Round(time.Millisecond), flowed.Round(time.Millisecond), cs)

	before, err := DropCounters(run, me.NetNS())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if !myPing.ping(peer.Addr, time.Second) || !peerPing.ping(me.Addr, time.Second) || !data.echo(time.Second) {
			t.Fatal("traffic with the peer lost after the drop expired")
		}
	}
	if after, err := DropCounters(run, me.NetNS()); err != nil || after != before {
		t.Errorf("counters moved after expiry: %+v then %+v (%v)", before, after, err)
	}
	assertRuleState(t, run, me.NetNS(), true, true)
	if err := remove(); err != nil {
		t.Fatal(err)
	}
	assertRuleState(t, run, me.NetNS(), false, false)
}

// TestHealBeforeTTL (c): healing before the TTL removes the run's rules and
// sets at once and only those, for flow and host drops, and traffic flows.
func TestHealBeforeTTL(t *testing.T) {
	l := newTestLab(t, 2)
	srv, cli := l.Hosts[0], l.Hosts[1]
	listen := net.JoinHostPort(srv.Addr.String(), "0")
	c1, s1 := tcpPair(t, cli, srv, "tcp4", listen)
	c2, s2 := tcpPair(t, cli, srv, "tcp4", listen)
	for i, p := range [][2]end{{c1, s1}, {c2, s2}} {
		if err := exchange(p[0], p[1], "hello", 2*time.Second); err != nil {
			t.Fatalf("pair %d before the drop: %v", i+1, err)
		}
	}
	ns := cli.NetNS()
	var removes []func() error
	for i, c := range []end{c1, c2} {
		local, remote := c.addrPort()
		remove, err := installFlowDrop(DropSpec{Run: fmt.Sprint("heal-", i+1), Flow: Flow{Local: local, Remote: remote}, TTL: time.Minute, NetNS: ns})
		if err != nil {
			t.Fatal(err)
		}
		removes = append(removes, remove)
	}
	if err := c1.send("a"); err != nil {
		t.Fatal(err)
	}
	if err := c2.send("b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s1.recv(time.Now().Add(300 * time.Millisecond)); err == nil {
		t.Fatal("flow 1 not blocked")
	}
	if _, err := s2.recv(time.Now().Add(100 * time.Millisecond)); err == nil {
		t.Fatal("flow 2 not blocked")
	}
	healStart := time.Now()
	if err := removes[0](); err != nil {
		t.Fatal(err)
	}
	healTook := time.Since(healStart)
	assertRuleState(t, "heal-1", ns, false, false)
	assertRuleState(t, "heal-2", ns, true, true)
	if n, _, err := runElements("heal-2", ns); err != nil || n != 1 {
		t.Errorf("the other run's set holds %d elements (%v), want its 1", n, err)
	}
	if cs, err := DropCounters("heal-1", ns); err != nil || cs != (Counters{Known: true}) {
		t.Errorf("healed run still counts: %+v, %v", cs, err)
	}
	// Retransmission of "a" (RTO backoff) gets through well within 5 s.
	if got, err := s1.recv(time.Now().Add(5 * time.Second)); err != nil || got != "a" {
		t.Fatalf("flow 1 not flowing after its heal: %q, %v", got, err)
	}
	if err := exchange(c1, s1, "again", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, err := s2.recv(time.Now().Add(500 * time.Millisecond)); err == nil {
		t.Fatalf("flow 2 got %q through: healing run heal-1 touched run heal-2", got)
	}
	if err := removes[1](); err != nil {
		t.Fatal(err)
	}
	assertRuleState(t, "heal-2", ns, false, false)
	if got, err := s2.recv(time.Now().Add(5 * time.Second)); err != nil || got != "b" {
		t.Fatalf("flow 2 not flowing after its heal: %q, %v", got, err)
	}
	if err := removes[0](); err != nil {
		t.Errorf("second heal: %v", err)
	}

	// Host drop: same, healed long before its TTL.
	p := newPinger(t, cli)
	if !eventually(5*time.Second, func() bool { return p.ping(srv.Addr, 200*time.Millisecond) }) {
		t.Fatal("no ping before the host drop")
	}
	remove, err := installHostDrop(HostDropSpec{Run: "heal-host", Peer: srv.Addr, KeepPort: 7946, TTL: time.Minute, NetNS: ns})
	if err != nil {
		t.Fatal(err)
	}
	if p.ping(srv.Addr, 300*time.Millisecond) {
		t.Fatal("ping answered during the host drop")
	}
	if err := remove(); err != nil {
		t.Fatal(err)
	}
	assertRuleState(t, "heal-host", ns, false, false)
	if !p.ping(srv.Addr, time.Second) {
		t.Fatal("ping not answered after the host drop was healed")
	}
	t.Logf("heal of one run's flow drop took %s", healTook.Round(time.Microsecond))

	// Sweep removes the whole table, sets included.
	if _, err := installHostDrop(HostDropSpec{Run: "left-behind", Peer: srv.Addr, KeepPort: 7946, TTL: time.Hour, NetNS: ns}); err != nil {
		t.Fatal(err)
	}
	if err := Sweep(ns); err != nil {
		t.Fatal(err)
	}
	c, done, err := conn(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	if ok, err := hasTable(c); ok || err != nil {
		t.Errorf("table %s still there after Sweep (%v)", tableName, err)
	}
	if !p.ping(srv.Addr, time.Second) {
		t.Fatal("ping not answered after Sweep")
	}
	if err := remove(); err != nil {
		t.Errorf("heal after Sweep: %v", err)
	}
}
