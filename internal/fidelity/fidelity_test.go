package fidelity

import (
	"bytes"
	"cmp"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

var (
	srvIP = netip.MustParseAddr("198.18.0.2")
	cliIP = netip.MustParseAddr("198.18.0.3")
	t0    = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
)

// at is an instant n milliseconds after t0.
func at(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Millisecond))) }

type pktSpec struct {
	at                 time.Time
	fromClient         bool
	tcp                bool
	syn, ack, rst      bool
	seq, ackN          uint32
	payload            int
	echoReq, echoReply bool
	echoSeq            uint16
	// cliPort is the client's port (0: 40000).
	cliPort layers.TCPPort
}

// writePcap writes specs as Ethernet/IPv4 packets with pcapgo.
func writePcap(t *testing.T, path string, specs []pktSpec) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		src, dst := srvIP, cliIP
		if s.fromClient {
			src, dst = cliIP, srvIP
		}
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		var ls []gopacket.SerializableLayer
		if s.tcp {
			ip.Protocol = layers.IPProtocolTCP
			cp := cmp.Or(s.cliPort, 40000)
			tcp := &layers.TCP{SrcPort: cp, DstPort: 5001, SYN: s.syn, ACK: s.ack, RST: s.rst, Seq: s.seq, Ack: s.ackN, Window: 1000}
			if !s.fromClient {
				tcp.SrcPort, tcp.DstPort = 5001, cp
			}
			_ = tcp.SetNetworkLayerForChecksum(ip)
			ls = []gopacket.SerializableLayer{eth, ip, tcp, gopacket.Payload(make([]byte, s.payload))}
		} else {
			ip.Protocol = layers.IPProtocolICMPv4
			tc := layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0)
			if s.echoReply {
				tc = layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoReply, 0)
			}
			ls = []gopacket.SerializableLayer{eth, ip, &layers.ICMPv4{TypeCode: tc, Id: 7, Seq: s.echoSeq}}
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: s.at, CaptureLength: len(b), Length: len(b)}, b); err != nil {
			t.Fatal(err)
		}
	}
}

// scenario: connect at 100 ms, answered probe at 1100 ms (client ACK at
// 1101 ms, its last segment), pings every 20 ms answered until 1500 ms,
// fault at ~1510 ms, unanswered probes at 2101, 3101, 4101 ms, RST at
// 5101 ms.
func scenario() ([]pktSpec, results.Result) {
	var ps []pktSpec
	ps = append(ps,
		pktSpec{at: at(100), fromClient: true, tcp: true, syn: true, seq: 999},
		pktSpec{at: at(100.1), tcp: true, syn: true, ack: true, seq: 4999, ackN: 1000},
		pktSpec{at: at(100.2), fromClient: true, tcp: true, ack: true, seq: 1000, ackN: 5000},
		pktSpec{at: at(1100), tcp: true, ack: true, seq: 4999, ackN: 1000},
		pktSpec{at: at(1101), fromClient: true, tcp: true, ack: true, seq: 1000, ackN: 5000},
	)
	for i := 0; i*20 <= 2000; i++ {
		ms := float64(100 + i*20)
		ps = append(ps, pktSpec{at: at(ms), echoReq: true, echoSeq: uint16(i)})
		if ms <= 1500 {
			ps = append(ps, pktSpec{at: at(ms + 0.1), fromClient: true, echoReply: true, echoSeq: uint16(i)})
		}
	}
	for _, ms := range []float64{2101, 3101, 4101} {
		ps = append(ps, pktSpec{at: at(ms), tcp: true, ack: true, seq: 4999, ackN: 1000})
	}
	ps = append(ps, pktSpec{at: at(5101), tcp: true, rst: true, seq: 5000})
	sortSpecs(ps)
	det, last, fault, loss := at(5101.5), at(1100), at(1510), at(1600.1)
	fromT0, afterFault := det.Sub(last), det.Sub(fault)
	r := results.Result{Name: "drop/host·1s/1s/3·a→b·#1", StartedAt: at(0), EndedAt: at(6000),
		Server: results.Host{Name: "a"}, Client: results.Host{Name: "b"},
		Requested: keepalive.Settings{Idle: time.Second, Interval: time.Second, Count: 3},
		Anchors: results.Anchors{LastPeer: &last, Fault: &fault, Detection: &det, PingLoss: &loss,
			Probes: []time.Time{at(2111), at(3091), at(4101)}},
		Measured: results.Measured{FromT0: &fromT0, AfterFault: &afterFault}}
	return ps, r
}

func sortSpecs(ps []pktSpec) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].at.Before(ps[j-1].at); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

func TestCompareSynthetic(t *testing.T) {
	specs, r := scenario()
	path := filepath.Join(t.TempDir(), "a.pcap")
	writePcap(t, path, specs)
	pk, err := ReadPcap(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(pk) != len(specs) {
		t.Fatalf("read %d packets, wrote %d", len(pk), len(specs))
	}
	samples, err := Compare(Input{Result: r, Packets: pk, Server: srvIP, Client: cliIP})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]time.Duration{}
	for _, s := range samples {
		got[s.Anchor] = append(got[s.Anchor], s.Err)
	}
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	// The client's last packet is the echo reply at 1500.1 ms; the first
	// unanswered request is at 1520 ms, so the cut is 1510 ms and the
	// emulated pinger (from 100 ms + its phase, every 32 ms) first loses
	// the ping it sends after that.
	start := at(100).Add(icmpPhase(r.Run + r.Name))
	send := start.Add((at(1510).Sub(start)/ICMPInterval + 1) * ICMPInterval)
	if send.Before(at(1510)) || send.After(at(1542)) {
		t.Fatalf("emulated send %v outside 1510..1542 ms", send.Sub(t0))
	}
	icmp := send.Sub(at(1500.1))
	want := map[string][]time.Duration{
		AnchorDetection:    {ms(0.5)},
		AnchorT0:           {ms(-1)},
		AnchorProbe:        {ms(10), ms(-10), 0},
		AnchorFault:        {ms(9.9)},
		AnchorFaultOutside: {0},
		AnchorPingLoss:     {ms(100)},
		AnchorICMPSend:     {icmp},
		AnchorICMPTimeout:  {icmp + ICMPTimeout},
		DurFromT0:          {ms(1.5)},
		DurAfterFault:      {ms(-9.4)},
		DurAfterICMP:       {-icmp - ICMPTimeout},
	}
	for a, w := range want {
		if len(got[a]) != len(w) {
			t.Errorf("%s: got %v, want %v", a, got[a], w)
			continue
		}
		for i := range w {
			if d := got[a][i] - w[i]; d.Abs() > time.Microsecond {
				t.Errorf("%s[%d] = %v, want %v", a, i, got[a][i], w[i])
			}
		}
	}
}

// TestCompareConcurrentFlowDrop: another run's connection from the same
// client opens first and lives on; the record's ends pick the run's own
// connection, and a flow drop's fault is only checked against the
// connection's bracket, since the host's pings keep being answered.
func TestCompareConcurrentFlowDrop(t *testing.T) {
	specs, r := scenario()
	r.FaultKind, r.FaultScope = results.KindDrop, results.ScopeFlow
	r.ClientEnd, r.ServerEnd = "198.18.0.3:40000", "198.18.0.2:5001"
	const other = 40001
	specs = append(specs,
		pktSpec{at: at(50), fromClient: true, tcp: true, syn: true, seq: 99, cliPort: other},
		pktSpec{at: at(50.1), tcp: true, syn: true, ack: true, seq: 499, ackN: 100, cliPort: other},
		pktSpec{at: at(50.2), fromClient: true, tcp: true, ack: true, seq: 100, ackN: 500, cliPort: other},
		pktSpec{at: at(3000), fromClient: true, tcp: true, ack: true, seq: 100, ackN: 500, cliPort: other},
		pktSpec{at: at(3500), tcp: true, rst: true, seq: 500, cliPort: other},
	)
	sortSpecs(specs)
	path := filepath.Join(t.TempDir(), "a.pcap")
	writePcap(t, path, specs)
	pk, err := ReadPcap(path)
	if err != nil {
		t.Fatal(err)
	}
	samples, err := Compare(Input{Result: r, Packets: pk, Server: srvIP, Client: cliIP})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{
		AnchorDetection:    500 * time.Microsecond, // the run's RST at 5101 ms, not the other's at 3500 ms
		AnchorFaultOutside: 0,                      // 1510 ms lies between its last segment (1101 ms) and first probe (2101 ms)
	}
	for _, s := range samples {
		switch w, ok := want[s.Anchor]; {
		case ok:
			if d := s.Err - w; d.Abs() > time.Microsecond {
				t.Errorf("%s = %v, want %v", s.Anchor, s.Err, w)
			}
			delete(want, s.Anchor)
		case s.Anchor == AnchorFault || s.Anchor == AnchorPingLoss || s.Anchor == DurAfterFault || s.Anchor == AnchorICMPSend:
			t.Errorf("%s = %v: a flow drop has no wire instant for its fault", s.Anchor, s.Err)
		}
	}
	if len(want) > 0 {
		t.Errorf("no sample for %v", want)
	}
	r.ClientEnd = "198.18.0.3:40002"
	if _, err := Compare(Input{Result: r, Packets: pk, Server: srvIP, Client: cliIP}); err == nil || !strings.Contains(err.Error(), "no SYN from 198.18.0.3:40002") {
		t.Errorf("a run whose connection is not in the capture: %v, want no SYN from its client end", err)
	}
}

func TestCompareWithoutConnection(t *testing.T) {
	_, r := scenario()
	if _, err := Compare(Input{Result: r, Server: srvIP, Client: cliIP}); err == nil || !strings.Contains(err.Error(), "no SYN") {
		t.Errorf("err = %v, want no SYN", err)
	}
}

func TestAnalyzeAndPrint(t *testing.T) {
	specs, r := scenario()
	dir := t.TempDir()
	writePcap(t, filepath.Join(dir, "a.pcap"), specs)
	hosts := `{"a": "198.18.0.2", "b": "198.18.0.3"}`
	if err := os.WriteFile(filepath.Join(dir, "hosts.json"), []byte(hosts), 0o644); err != nil {
		t.Fatal(err)
	}
	resPath := filepath.Join(dir, "results.jsonl")
	st, _, err := results.OpenStore(resPath)
	if err != nil {
		t.Fatal(err)
	}
	r.Schema = results.Schema
	if err := st.Append(r); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Analyze(resPath, dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Compared != 1 {
		t.Fatalf("compared %d of %d: %v", rep.Compared, rep.Runs, rep.Skipped)
	}
	var b bytes.Buffer
	if err := rep.Print(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "detection ") || strings.Count(b.String(), "\n") != 3+len(rep.Stats) {
		t.Errorf("table:\n%s", b.String())
	}
	if err := rep.WriteJSON(filepath.Join(dir, "f.json")); err != nil {
		t.Fatal(err)
	}
}

func TestStats(t *testing.T) {
	var errs []time.Duration
	for i := 1; i <= 100; i++ {
		errs = append(errs, time.Duration(i)*time.Millisecond)
	}
	errs[0] = -200 * time.Millisecond
	s := stats("x", "all", errs)
	if s.N != 100 || s.Max != 200*time.Millisecond || s.P99 != 100*time.Millisecond || s.P95 != 96*time.Millisecond || s.Median != 51500*time.Microsecond {
		t.Errorf("stats = %+v", s)
	}
}

func TestFaultOutsideBracket(t *testing.T) {
	specs, r := scenario()
	late := at(1530) // after the first unanswered echo request (1520 ms)
	r.Anchors.Fault = &late
	path := filepath.Join(t.TempDir(), "a.pcap")
	writePcap(t, path, specs)
	pk, err := ReadPcap(path)
	if err != nil {
		t.Fatal(err)
	}
	samples, err := Compare(Input{Result: r, Packets: pk, Server: srvIP, Client: cliIP})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range samples {
		if s.Anchor == AnchorFaultOutside && s.Err != 10*time.Millisecond {
			t.Errorf("fault-outside = %v, want 10ms", s.Err)
		}
	}
}
