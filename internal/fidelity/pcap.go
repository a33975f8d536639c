package fidelity

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	// gopacket (BSD-3, Google) reads the captures: pcapgo parses the pcap
	// file format and layers decodes Ethernet/IPv4/IPv6/TCP/ICMP, both pure
	// Go, so the coordinator still builds with CGO_ENABLED=0 for linux,
	// windows and darwin. Its gopacket/pcap package (libpcap, cgo) is never
	// imported. Writing our own pcap and header decoder would duplicate a
	// well-tested library for no gain.
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Proto is a captured packet's protocol.
type Proto uint8

// Proto values.
const (
	// TCP is a TCP segment.
	TCP Proto = iota + 1
	// ICMP is an ICMPv4 or ICMPv6 message.
	ICMP
)

// Packet is what the analysis needs of one captured packet.
type Packet struct {
	// At is the capture timestamp (the capturing host's wall clock).
	At time.Time
	// Proto is TCP or ICMP.
	Proto Proto
	// Src and Dst are the IP addresses; SrcPort and DstPort the TCP ports
	// (0 for ICMP).
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	// SYN, ACK, RST and FIN are the TCP flags.
	SYN, ACK, RST, FIN bool
	// Seq and Ack are the TCP sequence and acknowledgement numbers.
	Seq, Ack uint32
	// Payload is the TCP payload length in bytes.
	Payload int
	// EchoRequest and EchoReply mark ICMP echo messages; EchoID and EchoSeq
	// are their identifier and sequence number.
	EchoRequest, EchoReply bool
	EchoID, EchoSeq        uint16
}

// ReadPcap reads every TCP and ICMP packet of a pcap file (any link type
// gopacket decodes: Ethernet, Linux cooked, raw IP). Other packets are
// skipped; a capture cut short by its writer ends the list without error.
func ReadPcap(path string) ([]Packet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Packet
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("%s: packet %d: %w", path, len(out)+1, err)
		}
		if p, ok := decode(gopacket.NewPacket(data, r.LinkType(), gopacket.DecodeOptions{Lazy: true, NoCopy: true}), ci.Timestamp); ok {
			out = append(out, p)
		}
	}
}

// decode extracts a Packet from a decoded TCP or ICMP packet.
func decode(pk gopacket.Packet, at time.Time) (Packet, bool) {
	p := Packet{At: at}
	switch ip := pk.NetworkLayer().(type) {
	case *layers.IPv4:
		p.Src, _ = netip.AddrFromSlice(ip.SrcIP.To4())
		p.Dst, _ = netip.AddrFromSlice(ip.DstIP.To4())
	case *layers.IPv6:
		p.Src, _ = netip.AddrFromSlice(ip.SrcIP)
		p.Dst, _ = netip.AddrFromSlice(ip.DstIP)
	default:
		return p, false
	}
	if t, ok := pk.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
		p.Proto, p.SrcPort, p.DstPort = TCP, uint16(t.SrcPort), uint16(t.DstPort)
		p.SYN, p.ACK, p.RST, p.FIN = t.SYN, t.ACK, t.RST, t.FIN
		p.Seq, p.Ack, p.Payload = t.Seq, t.Ack, len(t.Payload)
		return p, true
	}
	if ic, ok := pk.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok {
		p.Proto = ICMP
		p.EchoRequest = ic.TypeCode.Type() == layers.ICMPv4TypeEchoRequest
		p.EchoReply = ic.TypeCode.Type() == layers.ICMPv4TypeEchoReply
		p.EchoID, p.EchoSeq = ic.Id, ic.Seq
		return p, true
	}
	if _, ok := pk.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); ok {
		p.Proto = ICMP
		if e, ok := pk.Layer(layers.LayerTypeICMPv6Echo).(*layers.ICMPv6Echo); ok {
			p.EchoID, p.EchoSeq = e.Identifier, e.SeqNumber
			t := pk.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6).TypeCode.Type()
			p.EchoRequest, p.EchoReply = t == layers.ICMPv6TypeEchoRequest, t == layers.ICMPv6TypeEchoReply
		}
		return p, true
	}
	return p, false
}
