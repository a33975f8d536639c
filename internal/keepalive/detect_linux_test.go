package keepalive_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/fault"
	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/lab"
	"github.com/kalab-dev/kalab/internal/tcpinfo"
)

// readResult is what the server's blocked Read returned, with the TCP_INFO
// snapshot taken right after (still readable until Close).
type readResult struct {
	at   time.Time
	err  error
	info tcpinfo.Info
}

// serveOne accepts one conn, sends the 4-byte greeting, then blocks in Read
// and reports how it ended.
func serveOne(t *testing.T, ln *keepalive.Listener) (*net.TCPConn, <-chan readResult) {
	t.Helper()
	c, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("kalb")); err != nil {
		t.Fatal(err)
	}
	ch := make(chan readResult, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		r := readResult{at: time.Now(), err: err}
		r.info, _ = tcpinfo.Get(c)
		ch <- r
	}()
	return c, ch
}

// TestDetectionInLab: a server with keepalive 1 s/1 s/3 set on its
// listener detects a client whose packets are dropped, with ETIMEDOUT,
// inside the model's window (+1 s slack); an identical connection without a
// fault is still blocked after the same time.
func TestDetectionInLab(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: the netns lab and nftables need root (run as root, as CI does)")
	}
	l, err := lab.New(lab.Config{Hosts: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	srvHost, cliHost := l.Hosts[0], l.Hosts[1]
	settings := keepalive.Settings{Idle: time.Second, Interval: time.Second, Count: 3}
	plat := keepalive.LocalPlatform()
	if err := settings.Validate(plat); err != nil {
		t.Fatal(err)
	}
	hz, _, err := keepalive.DetectHZ()
	if err != nil {
		t.Logf("HZ unknown (%v): using the coarse model", err)
	}

	var ln *keepalive.Listener
	if err := srvHost.Do(func() (err error) {
		ln, err = keepalive.Listen(context.Background(), "tcp4", net.JoinHostPort(srvHost.Addr.String(), "0"), settings, keepalive.ModeListener)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	dial := func() net.Conn {
		var c net.Conn
		if err := cliHost.Do(func() (err error) {
			c, err = net.DialTimeout("tcp4", ln.Addr().String(), 5*time.Second)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	faulted, control := dial(), dial()
	srvFaulted, faultedDone := serveOne(t, ln)
	defer srvFaulted.Close()
	srvControl, controlDone := serveOne(t, ln)
	defer srvControl.Close()
	for _, c := range []net.Conn{faulted, control} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
			t.Fatalf("client reads greeting: %v", err)
		}
	}

	eff, err := keepalive.ReadBack(srvFaulted)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := eff.Settings()
	if !ok || got != settings {
		t.Fatalf("accepted socket did not inherit %s: %s", settings, eff)
	}
	pred, err := keepalive.Predict(plat, got, keepalive.PhaseCycling, keepalive.ModelOptions{HZ: hz})
	if err != nil {
		t.Fatal(err)
	}

	// Let probes cycle (idle 1 s) so the cycling phase applies.
	time.Sleep(2500 * time.Millisecond)
	flow := fault.Flow{
		Local:  netip.MustParseAddrPort(faulted.LocalAddr().String()),
		Remote: netip.MustParseAddrPort(faulted.RemoteAddr().String()),
	}
	drop, err := fault.Drop(fault.DropSpec{Run: "detect-test", Flow: flow, TTL: time.Minute, NetNS: cliHost.NetNS()})
	if err != nil {
		t.Fatal(err)
	}
	faultAt := time.Now()
	defer drop.Heal()

	slack := time.Second
	var r readResult
	select {
	case r = <-faultedDone:
	case <-time.After(pred.AfterFault.Max + slack + 2*time.Second):
		t.Fatalf("no detection %s after the drop (model after fault %s)", time.Since(faultAt), pred.AfterFault)
	}
	if !errors.Is(r.err, syscall.ETIMEDOUT) {
		t.Fatalf("Read returned %v, want ETIMEDOUT", r.err)
	}
	t0 := r.info.At.Add(-r.info.LastAckRecv)
	fromT0 := r.at.Sub(t0)
	jiffy := 10 * time.Millisecond // TCP_INFO ages have jiffy resolution
	if hz > 0 {
		jiffy = time.Second / time.Duration(hz)
	}
	t.Logf("HZ=%d model %s: detection − T0 = %s (window %s), detection − fault = %s (window %s), probes=%d, err=%v",
		hz, pred.Rule, fromT0.Round(time.Millisecond), pred.FromT0, r.at.Sub(faultAt).Round(time.Millisecond), pred.AfterFault, r.info.Probes, r.err)
	if fromT0 < pred.FromT0.Min-2*jiffy || fromT0 > pred.FromT0.Max+slack {
		t.Errorf("detection − T0 = %s, outside the model window %s (+%s slack)", fromT0, pred.FromT0, slack)
	}
	// The fault instant is taken after Flush returned, so allow a few ms early.
	if after := r.at.Sub(faultAt); after < pred.AfterFault.Min-50*time.Millisecond || after > pred.AfterFault.Max+slack {
		t.Errorf("detection − fault = %s, outside %s (+%s)", after, pred.AfterFault, slack)
	}
	if int(r.info.Probes) != pred.Probes {
		t.Errorf("kernel sent %d unanswered probes, model says %d", r.info.Probes, pred.Probes)
	}
	cs, err := fault.DropCounters("detect-test", cliHost.NetNS())
	if err != nil {
		t.Fatal(err)
	}
	if cs.InPackets < uint64(pred.Probes) {
		t.Errorf("drop counters %+v: want at least the %d probes dropped on input", cs, pred.Probes)
	}

	// The control connection, same settings, no fault: still blocked after
	// the whole window plus slack.
	wait := time.Until(faultAt.Add(pred.AfterFault.Max + slack))
	select {
	case r := <-controlDone:
		t.Fatalf("control connection ended without a fault: %v", r.err)
	case <-time.After(wait):
	}
	if err := drop.Heal(); err != nil {
		t.Fatal(err)
	}
	if cs, _ := fault.DropCounters("detect-test", cliHost.NetNS()); cs.InPackets+cs.OutPackets != 0 {
		t.Errorf("rules still counting after Heal: %+v", cs)
	}
}
