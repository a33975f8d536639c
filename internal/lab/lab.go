// Package lab builds kalab's test network on one Linux machine: N hosts as
// network namespaces, each with an eth0 on one bridge that lives in its own
// switch namespace, addressed inside 198.18.0.0/15 (RFC 2544 benchmarking
// space). Processes and sockets are placed inside a host with a locked OS
// thread and setns, never with `ip netns exec`.
//
// The root namespace has no route to the lab: a dial from it would go to the
// default gateway, off the machine (docs/linux-lab.md §1). So nothing
// that talks to lab addresses may run in the root namespace, and while any
// lab exists the root namespace holds a `blackhole 198.18.0.0/15` route as a
// safety net; the last lab to go removes it.
//
// Labs in parallel processes (go test runs packages in parallel) do not
// collide: names carry the owner's pid and a sequence number, each lab has
// its own /24, and Sweep removes only namespaces whose owner is dead.
package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
)

// NamePrefix starts every namespace kalab creates.
const NamePrefix = "kalab-"

// Range is the whole lab address space; Block carves one /24 per lab.
var Range = netip.MustParsePrefix("198.18.0.0/15")

// ErrUnsupported is returned on every OS but Linux.
var ErrUnsupported = errors.New("the netns lab is not supported")

// Config says what to build.
type Config struct {
	// Hosts is the number of host namespaces, 1..250.
	Hosts int
}

func (c Config) validate() error {
	if c.Hosts < 1 || c.Hosts > 250 {
		return fmt.Errorf("lab hosts = %d: allowed 1..250", c.Hosts)
	}
	return nil
}

// Block returns the /24 inside Range for lab number n (0..511).
func Block(n int) netip.Prefix {
	n %= 512
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18 + byte(n/256), byte(n % 256), 0}), 24)
}

// HostAddr is host i's (1-based) address in block.
func HostAddr(block netip.Prefix, i int) netip.Addr {
	a := block.Addr().As4()
	a[3] = byte(i)
	return netip.AddrFrom4(a)
}

// labName is "kalab-<pid>-<seq>"; hosts append "-h<i>", the switch "-sw".
func labName(pid, seq int) string { return fmt.Sprintf("%s%d-%d", NamePrefix, pid, seq) }

var ownerRE = regexp.MustCompile(`^` + NamePrefix + `(\d+)-\d+-(sw|h\d+)$`)

// OwnerPID parses the owner pid from a namespace name; ok is false for
// names kalab did not make this way (Sweep leaves those alone).
func OwnerPID(ns string) (int, bool) {
	m := ownerRE.FindStringSubmatch(ns)
	if m == nil {
		return 0, false
	}
	pid, err := strconv.Atoi(m[1])
	return pid, err == nil
}
