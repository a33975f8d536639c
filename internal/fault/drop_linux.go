package fault

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Linux drops live in one nftables table, "inet kalab", with an input and an
// output base chain at filter priority 0 (policy accept). Priority 0 drops
// packets of an established flow at once, and a drop verdict is final
// whatever other tables accept (docs/linux-lab.md §2).
const tableName = "kalab"

var (
	table       = &nftables.Table{Family: nftables.TableFamilyINet, Name: tableName}
	acceptAll   = nftables.ChainPolicyAccept
	inputChain  = &nftables.Chain{Name: "input", Table: table, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &acceptAll}
	outputChain = &nftables.Chain{Name: "output", Table: table, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter, Policy: &acceptAll}
)

func ruleTag(run string) []byte { return []byte("kalab:" + run) }

// conn opens an nftables connection in the given namespace fd, or in this
// process's namespace when fd is 0 (docs/linux-lab.md §2: NetNS 0 would mean "the
// calling thread's", which is wrong on a switched thread).
func conn(netNS int) (*nftables.Conn, func(), error) {
	if netNS != 0 {
		c, err := nftables.New(nftables.WithNetNSFd(netNS))
		return c, func() {}, err
	}
	f, err := os.Open("/proc/self/ns/net")
	if err != nil {
		return nil, nil, fmt.Errorf("open own network namespace: %w", err)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return c, func() { f.Close() }, nil
}

// installFlowDrop installs two rules (peer→me on input, me→peer on
// output) matching only spec.Flow, with counters.
func installFlowDrop(spec DropSpec) (remove func() error, err error) {
	c, done, err := conn(spec.NetNS)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	defer done()
	c.AddTable(table)
	c.AddChain(inputChain)
	c.AddChain(outputChain)
	in, out := FlowRules(spec.Flow)
	tag := ruleTag(spec.Run)
	c.AddRule(&nftables.Rule{Table: table, Chain: inputChain, Exprs: in, UserData: tag})
	c.AddRule(&nftables.Rule{Table: table, Chain: outputChain, Exprs: out, UserData: tag})
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("install nftables rules: %w", err)
	}
	run, ns := spec.Run, spec.NetNS
	return func() error { return removeRules(run, ns) }, nil
}

// FlowRules builds the input and output rule expressions for a flow:
// nfproto and l4proto first (the library adds no implied dependencies, so
// without them an inet-table offset match would also hit other protocols),
// then addresses and ports, a counter and the drop verdict.
func FlowRules(f Flow) (in, out []expr.Any) {
	local, remote := f.Local.Addr().Unmap(), f.Remote.Addr().Unmap()
	in = tupleMatch(remote, local, f.Remote.Port(), f.Local.Port())
	out = tupleMatch(local, remote, f.Local.Port(), f.Remote.Port())
	return in, out
}

func tupleMatch(src, dst netip.Addr, sport, dport uint16) []expr.Any {
	proto, addrOff, addrLen := byte(unix.NFPROTO_IPV4), uint32(12), uint32(4)
	if src.Is6() {
		proto, addrOff, addrLen = unix.NFPROTO_IPV6, 8, 16
	}
	port := func(p uint16) []byte { return binary.BigEndian.AppendUint16(nil, p) }
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: addrOff, Len: addrLen},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: src.AsSlice()},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: addrOff + addrLen, Len: addrLen},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: dst.AsSlice()},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: port(sport)},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: port(dport)},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}

// kalabRules returns the rules tagged for run in both chains; a missing
// table means there is nothing.
func kalabRules(c *nftables.Conn, run string) (in, out []*nftables.Rule, err error) {
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, nil, fmt.Errorf("list nftables tables: %w", err)
	}
	found := false
	for _, t := range tables {
		found = found || t.Name == tableName
	}
	if !found {
		return nil, nil, nil
	}
	tag := ruleTag(run)
	pick := func(ch *nftables.Chain) ([]*nftables.Rule, error) {
		rules, err := c.GetRules(table, ch)
		if err != nil {
			return nil, fmt.Errorf("list rules of %s: %w", ch.Name, err)
		}
		var mine []*nftables.Rule
		for _, r := range rules {
			if bytes.Equal(r.UserData, tag) {
				mine = append(mine, r)
			}
		}
		return mine, nil
	}
	if in, err = pick(inputChain); err != nil {
		return nil, nil, err
	}
	out, err = pick(outputChain)
	return in, out, err
}

// removeRules deletes run's rules. AddRule returns no handle, so rules are
// found again by their UserData tag (docs/linux-lab.md §2).
func removeRules(run string, netNS int) error {
	c, done, err := conn(netNS)
	if err != nil {
		return fmt.Errorf("heal drop %s: nftables: %w", run, err)
	}
	defer done()
	in, out, err := kalabRules(c, run)
	if err != nil {
		return fmt.Errorf("heal drop %s: %w", run, err)
	}
	var errs []error
	for _, r := range append(in, out...) {
		errs = append(errs, c.DelRule(r))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("heal drop %s: %w", run, err)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("heal drop %s: delete rules: %w", run, err)
	}
	return nil
}

// DropCounters sums the counters of run's rules: the proof that the drop
// bites. No rules means zero counters and no error.
func DropCounters(run string, netNS int) (Counters, error) {
	c, done, err := conn(netNS)
	if err != nil {
		return Counters{}, fmt.Errorf("drop counters %s: nftables: %w", run, err)
	}
	defer done()
	in, out, err := kalabRules(c, run)
	if err != nil {
		return Counters{}, fmt.Errorf("drop counters %s: %w", run, err)
	}
	cs := Counters{Known: true}
	for _, r := range in {
		p, b := counter(r)
		cs.InPackets += p
		cs.InBytes += b
	}
	for _, r := range out {
		p, b := counter(r)
		cs.OutPackets += p
		cs.OutBytes += b
	}
	return cs, nil
}

func counter(r *nftables.Rule) (packets, bytes uint64) {
	for _, e := range r.Exprs {
		if c, ok := e.(*expr.Counter); ok {
			return c.Packets, c.Bytes
		}
	}
	return 0, 0
}

// Sweep deletes kalab's table (every rule a previous agent left behind) in
// the namespace; the agent calls it on start. Other tables are untouched.
func Sweep(netNS int) error {
	c, done, err := conn(netNS)
	if err != nil {
		return fmt.Errorf("sweep nftables: %w", err)
	}
	defer done()
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return fmt.Errorf("sweep nftables: list tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == tableName {
			c.DelTable(t)
			if err := c.Flush(); err != nil {
				return fmt.Errorf("sweep nftables: delete table %s: %w", tableName, err)
			}
		}
	}
	return nil
}

// Tables lists the nftables tables in a namespace ("family name"), for
// tests and doctor output.
func Tables(netNS int) ([]string, error) {
	c, done, err := conn(netNS)
	if err != nil {
		return nil, err
	}
	defer done()
	ts, err := c.ListTables()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, t := range ts {
		names = append(names, fmt.Sprintf("%d %s", t.Family, t.Name))
	}
	return names, nil
}
