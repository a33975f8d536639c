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
// KeepPort, then count and drop everything else (ICMP included) whose peer
// address is in a set of the run's whose one element (the peer) expires
// after spec.TTL on the kernel's clock, so the drop ends then even if no
// kalab process is left. A one-way drop keeps the accept rules in both
// chains but puts the drop rule in its own chain only (output for
// to-server, input for to-client). ARP is not filtered by an inet table, so
// neighbours stay resolved: the host looks paused, not unplugged.
func installHostDrop(spec HostDropSpec) (remove func() error, err error) {
	c, done, err := conn(spec.NetNS)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	defer done()
	c.AddTable(table)
	c.AddChain(inputChain)
	c.AddChain(outputChain)
	set, key := HostSet(spec.Run, spec.Peer)
	if err := addTimedSet(c, set, key, spec.TTL); err != nil {
		return nil, err
	}
	tag := ruleTag(spec.Run)
	for _, ch := range []*nftables.Chain{inputChain, outputChain} {
		input := ch == inputChain
		drops := (input && spec.Direction.dropsIn()) || (!input && spec.Direction.dropsOut())
		for _, r := range HostRules(input, drops, spec.Peer, spec.KeepPort, set) {
			c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: r, UserData: tag})
		}
	}
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("install nftables set and rules: %w", err)
	}
	run, ns := spec.Run, spec.NetNS
	return func() error { return removeRun(run, ns) }, nil
}

// HostSet returns a new set for a host drop of run's (ipv4_addr or
// ipv6_addr as the peer's family) and the key of its one element, the peer.
func HostSet(run string, peer netip.Addr) (*nftables.Set, []byte) {
	peer = peer.Unmap()
	key := nftables.TypeIPAddr
	if peer.Is6() {
		key = nftables.TypeIP6Addr
	}
	return timedSet(run, setKindHost, key), peer.AsSlice()
}

// HostRules builds the rule expressions for one chain, in order. Every rule
// matches the peer (source on input, destination on output) first: the
// accept rules for keepPort by comparing it with peer, then, when drop is
// true, the final counter and drop by looking it up in set, so that it
// stops matching when the set's element expires. A one-way host drop
// builds the chain it leaves open with drop false: the keep-port accepts
// only.
func HostRules(input, drop bool, peer netip.Addr, keepPort uint16, set *nftables.Set) [][]expr.Any {
	peer = peer.Unmap()
	proto, off, n := byte(unix.NFPROTO_IPV4), uint32(16), uint32(4) // daddr
	if peer.Is6() {
		proto, off, n = unix.NFPROTO_IPV6, 24, 16
	}
	if input {
		off -= n // saddr: 12 (v4) or 8 (v6)
	}
	peerLoad := func() []expr.Any {
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		}
	}
	port := binary.BigEndian.AppendUint16(nil, keepPort)
	var rules [][]expr.Any
	for _, l4 := range []byte{unix.IPPROTO_TCP, unix.IPPROTO_UDP} {
		for _, poff := range []uint32{0, 2} { // source port, destination port
			rules = append(rules, append(peerLoad(),
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: peer.AsSlice()},
				&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{l4}},
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: poff, Len: 2},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: port},
				&expr.Verdict{Kind: expr.VerdictAccept},
			))
		}
	}
	if !drop {
		return rules
	}
	return append(rules, append(peerLoad(),
		&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictDrop},
	))
}
