// Package fidelity measures kalab's own timing error against the wire: it
// reads the packet capture the lab took on the server host's interface
// during each run (labrun.Options.Capture) and compares each run's record
// with it — detection with the RST Linux sends when keepalive gives up, T0
// (last peer activity) with the client's last segment, each recorded probe
// with the captured probe, the fault instant with the client's last packet
// that crossed — and does the same for the ICMP method of the published
// Windows measurement (32 ms pings, 300 ms timeout), emulated on the
// captured pings. `coordinator bench fidelity --lab` runs it
// (docs/benchmarks.md).
//
// Every instant compared is on the server host's clock: the capture's
// timestamps and the server agent's anchors both come from that host
// (Anchors.Fault is mapped to it by kalab; in the lab all hosts share the
// machine's clock anyway).
package fidelity

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"time"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/results"
)

// Anchor names of Sample.Anchor: an instant's error is kalab's (or the
// emulated method's) instant minus the wire's; a duration's error is the
// measured duration minus the same duration on the wire (RST − the wire's
// instant).
const (
	// AnchorDetection: Anchors.Detection − the first RST the server sent
	// on the connection.
	AnchorDetection = "detection"
	// AnchorT0: Anchors.LastPeer − the last segment of the connection from
	// the client that reached the server.
	AnchorT0 = "t0"
	// AnchorProbe: each of Anchors.Probes − the nearest captured
	// unanswered keepalive probe.
	AnchorProbe = "probe"
	// AnchorFault: Anchors.Fault − the last packet from the client host
	// (any, but serf's) that reached the server.
	AnchorFault = "fault"
	// AnchorFaultOutside: how far Anchors.Fault lies outside the wire's
	// bracket of the fault, from the client's last packet to the first
	// echo request the server sent that went unanswered (the 20 ms pings
	// make it ≤ 20 ms wide): 0 inside, negative before, positive after.
	AnchorFaultOutside = "fault-outside"
	// AnchorPingLoss: kalab's own ICMP anchor (Anchors.PingLoss, 20 ms
	// pings, loss after 100 ms without a reply) − the same last packet.
	AnchorPingLoss = "ping-loss"
	// AnchorICMPSend and AnchorICMPTimeout: the emulated published method's
	// first lost 32 ms ping, at its send and at its 300 ms timeout, − the
	// same last packet.
	AnchorICMPSend    = "icmp32-send"
	AnchorICMPTimeout = "icmp32-timeout"
	// DurFromT0: Measured.FromT0 − (RST − the client's last segment).
	DurFromT0 = "detection−t0"
	// DurAfterFault: Measured.AfterFault − (RST − the client's last packet).
	DurAfterFault = "detection−fault"
	// DurAfterICMP: the published method's measurement, RST − its timeout
	// instant, − (RST − the client's last packet).
	DurAfterICMP = "detection−icmp32"
)

// Anchors lists the anchor names in the order tables show them.
var Anchors = []string{AnchorDetection, AnchorT0, AnchorProbe, AnchorFault, AnchorFaultOutside, AnchorPingLoss,
	AnchorICMPSend, AnchorICMPTimeout, DurFromT0, DurAfterFault, DurAfterICMP}

// The emulated published ICMP method.
const (
	// ICMPInterval is its ping interval and ICMPTimeout how long it waits
	// for each reply.
	ICMPInterval = 32 * time.Millisecond
	ICMPTimeout  = 300 * time.Millisecond
)

// Sample is one error of one run.
type Sample struct {
	// Run is the run's name, Setting its keepalive settings (1s/1s/3).
	Run     string `json:"run"`
	Setting string `json:"setting"`
	// Anchor is one of the Anchor*/Dur* names.
	Anchor string `json:"anchor"`
	// Err is kalab's (or the method's) value minus the wire's: positive
	// is late (an instant) or long (a duration).
	Err time.Duration `json:"err_ns"`
}

// Input is one run to compare: its record and the capture of its server
// host.
type Input struct {
	// Result is the run's record.
	Result results.Result
	// Packets are the server host's captured packets.
	Packets []Packet
	// Server and Client are the agents' lab addresses.
	Server, Client netip.Addr
}

// Compare returns a run's errors, or why it cannot be compared.
//
// The connection is found by this rule: the first SYN (without ACK) from
// the client's address to the server's, not to serf's port, whose capture
// time falls in the run's [StartedAt, EndedAt] and, when the record names
// the connection's ends (ClientEnd, ServerEnd), with exactly those ports;
// its 4-tuple is the stream. A run with parallel 1 has exactly one such
// SYN; concurrent runs need the ends.
//
// The fault's wire instant is the client host's last packet of any kind
// (but serf's) for a host-wide fault. A flow drop has none: the host's
// other traffic keeps flowing and the idle connection carries nothing at
// the fault, so its fault is only checked against the wire's bracket,
// from the connection's last client segment to the first probe that went
// unanswered (fault-outside), and the fault and ping anchors are left out.
func Compare(in Input) ([]Sample, error) {
	r := in.Result
	if r.Failure != "" {
		return nil, fmt.Errorf("failed run: %s", r.Failure)
	}
	cliEnd, _ := netip.ParseAddrPort(r.ClientEnd)
	srvEnd, _ := netip.ParseAddrPort(r.ServerEnd)
	var syn *Packet
	for i, p := range in.Packets {
		if p.Proto == TCP && p.SYN && !p.ACK && p.Src == in.Client && p.Dst == in.Server && p.DstPort != cluster.DefaultPort &&
			!p.At.Before(r.StartedAt) && !p.At.After(r.EndedAt) &&
			(!cliEnd.IsValid() || p.SrcPort == cliEnd.Port()) && (!srvEnd.IsValid() || p.DstPort == srvEnd.Port()) {
			syn = &in.Packets[i]
			break
		}
	}
	if syn == nil {
		return nil, fmt.Errorf("no SYN from %s to %s in the capture during the run", cmp.Or(r.ClientEnd, in.Client.String()), cmp.Or(r.ServerEnd, in.Server.String()))
	}
	fromClient := func(p Packet) bool {
		return p.Proto == TCP && p.Src == in.Client && p.SrcPort == syn.SrcPort && p.Dst == in.Server && p.DstPort == syn.DstPort
	}
	fromServer := func(p Packet) bool {
		return p.Proto == TCP && p.Src == in.Server && p.SrcPort == syn.DstPort && p.Dst == in.Client && p.DstPort == syn.SrcPort
	}
	var rst *Packet
	for i, p := range in.Packets {
		if p.At.After(syn.At) && fromServer(p) && p.RST {
			rst = &in.Packets[i]
			break
		}
	}
	if rst == nil {
		return nil, fmt.Errorf("the server sent no RST on %s:%d→%s:%d", in.Client, syn.SrcPort, in.Server, syn.DstPort)
	}
	// The wire's instants before the RST: the client's last segment on the
	// connection (T0) and its last packet of any kind but serf's.
	var lastSeg, lastAny *Packet
	for i, p := range in.Packets {
		if p.At.Before(syn.At) || !p.At.Before(rst.At) || p.Src != in.Client || p.Dst != in.Server {
			continue
		}
		if fromClient(p) {
			lastSeg = &in.Packets[i]
		}
		if p.Proto == ICMP || (p.SrcPort != cluster.DefaultPort && p.DstPort != cluster.DefaultPort) {
			lastAny = &in.Packets[i]
		}
	}
	if lastSeg == nil {
		return nil, fmt.Errorf("no segment from the client on the connection")
	}
	flow := r.FaultKind == results.KindDrop && r.FaultScope != results.ScopeHost
	s := sampler{run: r.Label(), setting: r.Requested.Short()}
	a, m := r.Anchors, r.Measured
	s.instant(AnchorDetection, a.Detection, rst.At)
	s.instant(AnchorT0, a.LastPeer, lastSeg.At)
	s.duration(DurFromT0, m.FromT0, rst.At.Sub(lastSeg.At))
	if !flow {
		s.instant(AnchorFault, a.Fault, lastAny.At)
		s.instant(AnchorPingLoss, a.PingLoss, lastAny.At)
		s.duration(DurAfterFault, m.AfterFault, rst.At.Sub(lastAny.At))
	}
	// Keepalive probes: server→client after the client's last segment,
	// seq = snd_nxt − 1 (the client's last ACK − 1), 0 or 1 byte.
	var probes []time.Time
	for _, p := range in.Packets {
		if p.At.After(lastSeg.At) && p.At.Before(rst.At) && fromServer(p) && !p.SYN && !p.FIN && !p.RST &&
			p.Payload <= 1 && p.Seq == lastSeg.Ack-1 {
			probes = append(probes, p.At)
		}
	}
	if len(probes) > 0 {
		for _, t := range a.Probes {
			s.add(AnchorProbe, t.Sub(nearest(probes, t)))
		}
	}
	if a.Fault != nil {
		from, u, ok := lastAny.At, time.Time{}, false
		if flow {
			from = lastSeg.At
			if ok = len(probes) > 0; ok {
				u = probes[0]
			}
		} else {
			u, ok = firstUnanswered(in, lastAny.At, rst.At)
		}
		if ok {
			switch {
			case a.Fault.Before(from):
				s.add(AnchorFaultOutside, a.Fault.Sub(from))
			case a.Fault.After(u):
				s.add(AnchorFaultOutside, a.Fault.Sub(u))
			default:
				s.add(AnchorFaultOutside, 0)
			}
		}
	}
	if flow {
		return s.out, nil // the host's pings are answered throughout
	}
	if send, ok := icmpMethod(in, r.StartedAt, rst.At); ok {
		s.instant(AnchorICMPSend, &send, lastAny.At)
		timeout := send.Add(ICMPTimeout)
		s.instant(AnchorICMPTimeout, &timeout, lastAny.At)
		d := rst.At.Sub(timeout)
		s.duration(DurAfterICMP, &d, rst.At.Sub(lastAny.At))
	}
	return s.out, nil
}

// icmpMethod emulates the published method's pinger (every ICMPInterval,
// from the run's first captured echo request plus a phase in
// [0, ICMPInterval) drawn from the run's id, since a real pinger's phase is
// independent of the fault) on the captured 20 ms pings: the client host went silent between A, the last captured request
// that was answered before end, and U, the next request; an emulated ping
// sent after (A+U)/2 is lost. It returns the send instant of the first lost
// emulated ping; false when the capture has no unanswered request (a flow
// drop leaves ICMP answered) or no ping at all.
func icmpMethod(in Input, from, end time.Time) (time.Time, bool) {
	type key struct{ id, seq uint16 }
	answered := map[key]bool{}
	for _, p := range in.Packets {
		if p.EchoReply && p.Src == in.Client && p.Dst == in.Server {
			answered[key{p.EchoID, p.EchoSeq}] = true
		}
	}
	var reqs []Packet
	for _, p := range in.Packets {
		if p.EchoRequest && p.Src == in.Server && p.Dst == in.Client && !p.At.Before(from) && p.At.Before(end) {
			reqs = append(reqs, p)
		}
	}
	last := -1
	for i, p := range reqs {
		if answered[key{p.EchoID, p.EchoSeq}] {
			last = i
		}
	}
	if last < 0 || last+1 >= len(reqs) {
		return time.Time{}, false
	}
	a, u := reqs[last].At, reqs[last+1].At
	cut := a.Add(u.Sub(a) / 2)
	start := reqs[0].At.Add(icmpPhase(in.Result.Run + in.Result.Name))
	k := cut.Sub(start)/ICMPInterval + 1
	return start.Add(k * ICMPInterval), true
}

// icmpPhase is a pseudo-random, reproducible phase in [0, ICMPInterval)
// for the emulated pinger of the run named id.
func icmpPhase(id string) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(id))
	return time.Duration(h.Sum64() % uint64(ICMPInterval))
}

// firstUnanswered is the first echo request the server sent to the client
// after last and before end (none of those was answered: last is the
// client's last packet).
func firstUnanswered(in Input, last, end time.Time) (time.Time, bool) {
	for _, p := range in.Packets {
		if p.EchoRequest && p.Src == in.Server && p.Dst == in.Client && p.At.After(last) && p.At.Before(end) {
			return p.At, true
		}
	}
	return time.Time{}, false
}

// nearest is the element of ts (sorted) closest to t.
func nearest(ts []time.Time, t time.Time) time.Time {
	i, _ := slices.BinarySearchFunc(ts, t, func(a, b time.Time) int { return a.Compare(b) })
	best := ts[min(i, len(ts)-1)]
	if i > 0 && t.Sub(ts[i-1]).Abs() < t.Sub(best).Abs() {
		best = ts[i-1]
	}
	return best
}

// sampler collects one run's samples.
type sampler struct {
	run, setting string
	out          []Sample
}

func (s *sampler) add(anchor string, err time.Duration) {
	s.out = append(s.out, Sample{Run: s.run, Setting: s.setting, Anchor: anchor, Err: err})
}

func (s *sampler) instant(anchor string, got *time.Time, wire time.Time) {
	if got != nil {
		s.add(anchor, got.Sub(wire))
	}
}

func (s *sampler) duration(anchor string, got *time.Duration, wire time.Duration) {
	if got != nil {
		s.add(anchor, *got-wire)
	}
}
