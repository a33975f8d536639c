package fault

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
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

// Every drop looks its packets up in a named set of its own that holds one
// element with a kernel timeout of TTL (nft(8) set flag "timeout", element
// option "timeout"; nftables wiki "Element timeouts"). When the element
// expires, the kernel's lookup stops matching it on its own clock, so the
// drop ends at its TTL even if no kalab process is left to heal it; the
// rules and the empty set stay until Heal or the next Sweep, matching
// nothing (docs/linux-lab.md §2). Heal deletes the run's rules and the sets
// they look up.
//
// Set names are "k<8 hex digits of SHA-256(run)><kind><5 random hex
// digits>", 15 bytes: NFT_SET_MAXNAMELEN is 256 since Linux 4.14 (commit
// 387454901bd6, "netfilter: nf_tables: Allow set names of up to 255
// chars") but was 16 with the NUL before, so 15 fit every kernel. They
// are valid nft identifiers and unique per drop; the run prefix is for
// people and tests, healing goes by the rules' lookups.
const setNameLen = 15

func setPrefix(run string) string {
	h := sha256.Sum256([]byte(run))
	return "k" + hex.EncodeToString(h[:4])
}

const (
	setKindFlow = 'f'
	setKindHost = 'h'
)

// setIDs numbers the sets kalab adds: a rule added in the same batch finds
// its new set by this ID (NFTA_LOOKUP_SET_ID), which only has to be unique
// within a batch. Set here so the library's unsynchronised global counter
// is never touched.
var setIDs atomic.Uint32

// minElemTimeout is one jiffy at the lowest CONFIG_HZ (100). The kernel
// turns an element timeout into whole jiffies, and before upstream commit
// e0c47281723f ("netfilter: nf_tables: elements with timeout below
// CONFIG_HZ never expire") a timeout under one jiffy became 0, i.e. no
// timeout at all: the element, and the drop, would never expire.
const minElemTimeout = 10 * time.Millisecond

// elemTimeout is the kernel timeout for a drop of ttl: ttl rounded up to
// whole milliseconds (the netlink unit), at least minElemTimeout.
func elemTimeout(ttl time.Duration) time.Duration {
	ms := (ttl + time.Millisecond - 1).Truncate(time.Millisecond)
	return max(ms, minElemTimeout)
}

// timedSet is a new, empty set of run's with the timeout flag for keys of
// type key. A concatenated key type gets no NFT_SET_CONCAT flag: that flag
// came with interval sets of concatenations (Linux 5.6), older kernels
// reject it, and a plain hash set takes the key as one blob anyway; nft
// still lists the concatenated type from the type id.
func timedSet(run string, kind byte, key nftables.SetDatatype) *nftables.Set {
	var nonce [3]byte
	rand.Read(nonce[:]) // never fails (crypto/rand, Go 1.24+)
	name := setPrefix(run) + string(kind) + hex.EncodeToString(nonce[:])
	return &nftables.Set{
		Table:        table,
		Name:         name[:setNameLen],
		ID:           setIDs.Add(1),
		HasTimeout:   true,
		KeyType:      key,
		KeyByteOrder: binaryutil.BigEndian,
	}
}

// addTimedSet queues set with its one element key, which expires after
// elemTimeout(ttl) on the kernel's clock.
func addTimedSet(c *nftables.Conn, set *nftables.Set, key []byte, ttl time.Duration) error {
	if err := c.AddSet(set, []nftables.SetElement{{Key: key, Timeout: elemTimeout(ttl)}}); err != nil {
		return fmt.Errorf("nftables set %s: %w", set.Name, err)
	}
	return nil
}

// installFlowDrop installs a set holding spec.Flow's tuple with a kernel
// timeout of spec.TTL, and the rules that count and drop what they find in
// it: peer→me on input unless the drop is to-server only, me→peer on
// output unless it is to-client only. A chain without a rule of the run's
// counts nothing, so DropCounters reports only the dropped direction.
func installFlowDrop(spec DropSpec) (remove func() error, err error) {
	c, done, err := conn(spec.NetNS)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	defer done()
	c.AddTable(table)
	c.AddChain(inputChain)
	c.AddChain(outputChain)
	set, key := FlowSet(spec.Run, spec.Flow)
	if err := addTimedSet(c, set, key, spec.TTL); err != nil {
		return nil, err
	}
	in, out := FlowRules(spec.Flow, set)
	tag := ruleTag(spec.Run)
	if spec.Direction.dropsIn() {
		c.AddRule(&nftables.Rule{Table: table, Chain: inputChain, Exprs: in, UserData: tag})
	}
	if spec.Direction.dropsOut() {
		c.AddRule(&nftables.Rule{Table: table, Chain: outputChain, Exprs: out, UserData: tag})
	}
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("install nftables set and rules: %w", err)
	}
	run, ns := spec.Run, spec.NetNS
	return func() error { return removeRun(run, ns) }, nil
}

// FlowSet returns a new set for a flow drop of run's and the key of its one
// element, f's tuple oriented from the peer: peer address . local address
// . peer port . local port (ipv4_addr or ipv6_addr as the flow's family,
// then inet_service; each port is padded to the 4-byte register, as nft
// does for concatenations).
func FlowSet(run string, f Flow) (*nftables.Set, []byte) {
	local, remote := f.Local.Addr().Unmap(), f.Remote.Addr().Unmap()
	addr := nftables.TypeIPAddr
	if remote.Is6() {
		addr = nftables.TypeIP6Addr
	}
	set := timedSet(run, setKindFlow, nftables.MustConcatSetType(addr, addr, nftables.TypeInetService, nftables.TypeInetService))
	key := append(remote.AsSlice(), local.AsSlice()...)
	key = binary.BigEndian.AppendUint16(key, f.Remote.Port())
	key = append(key, 0, 0)
	key = binary.BigEndian.AppendUint16(key, f.Local.Port())
	key = append(key, 0, 0)
	return set, key
}

// FlowRules builds the input and output rule expressions of a flow drop:
// nfproto and l4proto first (the library adds no implied dependencies, so
// without them an inet-table offset match would also hit other protocols),
// then the tuple loaded into consecutive 32-bit registers in the set's key
// order (input: saddr . daddr . sport . dport; output: daddr . saddr .
// dport . sport), its lookup in set, a counter and the drop verdict.
func FlowRules(f Flow, set *nftables.Set) (in, out []expr.Any) {
	v6 := f.Remote.Addr().Unmap().Is6()
	return flowLookup(v6, true, set), flowLookup(v6, false, set)
}

func flowLookup(v6, input bool, set *nftables.Set) []expr.Any {
	proto, saddr, alen := byte(unix.NFPROTO_IPV4), uint32(12), uint32(4)
	if v6 {
		proto, saddr, alen = unix.NFPROTO_IPV6, 8, 16
	}
	peerAddr, myAddr, peerPort, myPort := saddr, saddr+alen, uint32(0), uint32(2)
	if !input {
		peerAddr, myAddr, peerPort, myPort = myAddr, peerAddr, myPort, peerPort
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: reg32(0), Base: expr.PayloadBaseNetworkHeader, Offset: peerAddr, Len: alen},
		&expr.Payload{DestRegister: reg32(alen), Base: expr.PayloadBaseNetworkHeader, Offset: myAddr, Len: alen},
		&expr.Payload{DestRegister: reg32(2 * alen), Base: expr.PayloadBaseTransportHeader, Offset: peerPort, Len: 2},
		&expr.Payload{DestRegister: reg32(2*alen + 4), Base: expr.PayloadBaseTransportHeader, Offset: myPort, Len: 2},
		&expr.Lookup{SourceRegister: reg32(0), SetName: set.Name, SetID: set.ID},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}

// reg32 is the 32-bit register that holds byte off of a concatenated key
// starting at NFT_REG32_00 (the same storage as NFT_REG_1). A load shorter
// than its register zeroes the rest (nft_payload_eval).
func reg32(off uint32) uint32 { return unix.NFT_REG32_00 + off/4 }

// hasTable says whether kalab's table exists in c's namespace.
func hasTable(c *nftables.Conn) (bool, error) {
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, fmt.Errorf("list nftables tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == tableName {
			return true, nil
		}
	}
	return false, nil
}

// kalabRules returns the rules tagged for run in both chains; a missing
// table means there is nothing.
func kalabRules(c *nftables.Conn, run string) (in, out []*nftables.Rule, err error) {
	if ok, err := hasTable(c); !ok || err != nil {
		return nil, nil, err
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

// lookedUp returns the names of the sets that rules look up.
func lookedUp(rules []*nftables.Rule) []string {
	var names []string
	for _, r := range rules {
		for _, e := range r.Exprs {
			if l, ok := e.(*expr.Lookup); ok && l.SetName != "" && !slices.Contains(names, l.SetName) {
				names = append(names, l.SetName)
			}
		}
	}
	return names
}

// removeRun deletes run's rules and then the sets they look up, in one
// batch (a set is free to go once the rules that use it are deleted earlier
// in the same transaction). AddRule returns no handle, so rules are found
// again by their UserData tag (docs/linux-lab.md §2).
func removeRun(run string, netNS int) error {
	c, done, err := conn(netNS)
	if err != nil {
		return fmt.Errorf("heal drop %s: nftables: %w", run, err)
	}
	defer done()
	in, out, err := kalabRules(c, run)
	if err != nil {
		return fmt.Errorf("heal drop %s: %w", run, err)
	}
	rules := append(in, out...)
	if len(rules) == 0 {
		return nil
	}
	var errs []error
	for _, r := range rules {
		errs = append(errs, c.DelRule(r))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("heal drop %s: %w", run, err)
	}
	for _, name := range lookedUp(rules) {
		c.DelSet(&nftables.Set{Table: table, Name: name})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("heal drop %s: delete rules and sets: %w", run, err)
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

// Sweep deletes kalab's table (every rule and set a previous agent left
// behind, expired or not) in the namespace; the agent calls it on start.
// Other tables are untouched.
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
