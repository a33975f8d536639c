package fault

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// DropHost installs the host-scope rules (reference/linux-lab.md §3): per
// chain, accept loopback, accept tcp/udp to or from KeepPort, then count and
// drop everything else. ARP is not filtered by an inet table, so neighbours
// stay resolved: the host looks paused, not unplugged.
func DropHost(spec HostDropSpec) (*Active, error) {
	if spec.Run == "" {
		return nil, fmt.Errorf("host drop: run id is empty")
	}
	if spec.KeepPort == 0 {
		return nil, fmt.Errorf("host drop: keep port is 0: the agent's control port must stay open")
	}
	if err := validateTTL(spec.TTL); err != nil {
		return nil, err
	}
	c, done, err := conn(spec.NetNS)
	if err != nil {
		return nil, fmt.Errorf("host drop: nftables: %w", err)
	}
	defer done()
	c.AddTable(table)
	c.AddChain(inputChain)
	c.AddChain(outputChain)
	tag := ruleTag(spec.Run)
	for _, ch := range []*nftables.Chain{inputChain, outputChain} {
		for _, r := range HostRules(ch == inputChain, spec.KeepPort) {
			c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: r, UserData: tag})
		}
	}
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("host drop: install nftables rules: %w", err)
	}
	run, ns := spec.Run, spec.NetNS
	return newActive("drop-host", run, spec.TTL, func() error { return removeRules(run, ns) }), nil
}

// HostRules builds the rule expressions for one chain, in order.
func HostRules(input bool, keepPort uint16) [][]expr.Any {
	ifKey := expr.MetaKeyOIFNAME
	if input {
		ifKey = expr.MetaKeyIIFNAME
	}
	lo := make([]byte, unix.IFNAMSIZ) // names compare zero-padded to 16 bytes
	copy(lo, "lo")
	port := binary.BigEndian.AppendUint16(nil, keepPort)
	accept := &expr.Verdict{Kind: expr.VerdictAccept}
	rules := [][]expr.Any{{
		&expr.Meta{Key: ifKey, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: lo},
		accept,
	}}
	for _, proto := range []byte{unix.IPPROTO_TCP, unix.IPPROTO_UDP} {
		for _, off := range []uint32{0, 2} { // source port, destination port
			rules = append(rules, []expr.Any{
				&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: port},
				accept,
			})
		}
	}
	return append(rules, []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}})
}
