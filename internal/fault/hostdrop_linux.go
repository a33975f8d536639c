package fault

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// installHostDrop installs the host-scope rules (docs/linux-lab.md §3): per
// chain, for traffic with the peer only, accept tcp/udp to or from
// KeepPort, then count and drop everything else (ICMP included). ARP is not filtered by an inet table, so neighbours
// stay resolved: the host looks paused, not unplugged.
func installHostDrop(spec HostDropSpec) (remove func() error, err error) {
	c, done, err := conn(spec.NetNS)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	defer done()
	c.AddTable(table)
	c.AddChain(inputChain)
	c.AddChain(outputChain)
	tag := ruleTag(spec.Run)
	for _, ch := range []*nftables.Chain{inputChain, outputChain} {
		for _, r := range HostRules(ch == inputChain, spec.Peer, spec.KeepPort) {
			c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: r, UserData: tag})
		}
	}
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("install nftables rules: %w", err)
	}
	run, ns := spec.Run, spec.NetNS
	return func() error { return removeRules(run, ns) }, nil
}

// HostRules builds the rule expressions for one chain, in order. Every rule
// matches the peer (source on input, destination on output) first.
func HostRules(input bool, peer netip.Addr, keepPort uint16) [][]expr.Any {
	peer = peer.Unmap()
	proto, off, n := byte(unix.NFPROTO_IPV4), uint32(16), uint32(4) // daddr
	if peer.Is6() {
		proto, off, n = unix.NFPROTO_IPV6, 24, 16
	}
	if input {
		off -= n // saddr: 12 (v4) or 8 (v6)
	}
	peerMatch := func() []expr.Any {
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: peer.AsSlice()},
		}
	}
	port := binary.BigEndian.AppendUint16(nil, keepPort)
	var rules [][]expr.Any
	for _, l4 := range []byte{unix.IPPROTO_TCP, unix.IPPROTO_UDP} {
		for _, poff := range []uint32{0, 2} { // source port, destination port
			rules = append(rules, append(peerMatch(),
				&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{l4}},
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: poff, Len: 2},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: port},
				&expr.Verdict{Kind: expr.VerdictAccept},
			))
		}
	}
	return append(rules, append(peerMatch(), &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}))
}
