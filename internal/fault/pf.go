package fault

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// macOS drops are pf rules in a direct child of the stock "com.apple/*"
// anchor: an anchor the main ruleset does not reference is never evaluated,
// and kalab never reloads the main ruleset (which would drop anchors other
// services inserted) (docs/drop-mechanisms.md §4.2). This file builds the
// rule text and parses pfctl's output, so it is table-tested on Linux;
// drop_darwin.go runs pfctl.

// pfAnchorParent is the stock wildcard anchor macOS evaluates.
const pfAnchorParent = "com.apple"

// pfAnchorPrefix starts every anchor kalab creates; Sweep flushes only these.
const pfAnchorPrefix = pfAnchorParent + "/kalab."

var pfUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// pfAnchor is the anchor for a run: a direct child of com.apple, with the
// run id reduced to characters pf accepts in an anchor name.
func pfAnchor(run string) string { return pfAnchorPrefix + pfUnsafe.ReplaceAllString(run, "_") }

func pfFamily(a netip.Addr) string {
	if a.Unmap().Is6() {
		return "inet6"
	}
	return "inet"
}

func pfLabel(run string) string { return `label "kalab-` + pfUnsafe.ReplaceAllString(run, "_") + `"` }

// pfFlowRules blocks one TCP flow both ways, or in dir only, with silent
// drops ("return" would send RSTs). Each rule names its direction ("block
// drop out" for this host's packets to the peer, "block drop in" for the
// peer's to this host), which pfCounters reads back; a to-server drop has
// only the out rule, a to-client drop only the in rule.
func pfFlowRules(run string, f Flow, dir Direction) string {
	l, r := f.Local.Addr().Unmap(), f.Remote.Addr().Unmap()
	fam, lab := pfFamily(l), pfLabel(run)
	var b strings.Builder
	if dir.dropsOut() {
		fmt.Fprintf(&b, "block drop out quick %s proto tcp from %s port %d to %s port %d %s\n", fam, l, f.Local.Port(), r, f.Remote.Port(), lab)
	}
	if dir.dropsIn() {
		fmt.Fprintf(&b, "block drop in quick %s proto tcp from %s port %d to %s port %d %s\n", fam, r, f.Remote.Port(), l, f.Local.Port(), lab)
	}
	return b.String()
}

// pfHostRules silence this host toward peer (ICMP included) except serf's
// port: quick "no state" passes first, for both directions whatever dir,
// then the blocks dir asks for ("block drop out" to the peer, "block drop
// in" from it).
func pfHostRules(run string, peer netip.Addr, keepPort uint16, dir Direction) string {
	p := peer.Unmap()
	fam, lab := pfFamily(p), pfLabel(run)
	rules := []string{
		"pass quick %[1]s proto { tcp udp } from any port %[3]d to %[2]s no state",
		"pass quick %[1]s proto { tcp udp } from any to %[2]s port %[3]d no state",
		"pass quick %[1]s proto { tcp udp } from %[2]s port %[3]d to any no state",
		"pass quick %[1]s proto { tcp udp } from %[2]s to any port %[3]d no state",
	}
	if dir.dropsOut() {
		rules = append(rules, "block drop out quick %[1]s from any to %[2]s %[4]s")
	}
	if dir.dropsIn() {
		rules = append(rules, "block drop in quick %[1]s from %[2]s to any %[4]s")
	}
	var b strings.Builder
	for _, r := range rules {
		fmt.Fprintf(&b, r+"\n", fam, p, keepPort, lab)
	}
	return b.String()
}

var pfTokenRE = regexp.MustCompile(`Token\s*:\s*(\d+)`)

// pfToken finds the enable reference in `pfctl -E` output ("Token : N",
// printed on stderr; both streams are searched).
func pfToken(out string) (string, error) {
	m := pfTokenRE.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("pfctl -E printed no token: %q", strings.TrimSpace(out))
	}
	return m[1], nil
}

var pfPacketsRE = regexp.MustCompile(`Packets:\s*(\d+)`)

// pfCounters sums the "Packets:" counters of the block rules in
// `pfctl -a ANCHOR -v -s rules` output by the direction each rule names
// ("block drop out …" counts outbound, "block drop in …" inbound). A block
// rule that names none (anchors loaded before kalab wrote directions)
// counts by its place: the first outbound, the second inbound.
func pfCounters(out string) (Counters, error) {
	var c Counters
	block := -1
	inBlock, inbound := false, false
	for _, line := range strings.Split(out, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "block"):
			block++
			inBlock = true
			inbound = block > 0
			for _, w := range strings.Fields(t)[1:] {
				if w == "in" || w == "out" {
					inbound = w == "in"
					break
				}
				if w != "drop" && w != "return" {
					break // past the action: no direction named
				}
			}
		case strings.HasPrefix(t, "pass"):
			inBlock = false
		case strings.HasPrefix(t, "[") && inBlock:
			m := pfPacketsRE.FindStringSubmatch(t)
			if m == nil {
				continue
			}
			n, err := strconv.ParseUint(m[1], 10, 64)
			if err != nil {
				return c, fmt.Errorf("pf counters: %q: %w", t, err)
			}
			if inbound {
				c.InPackets += n
			} else {
				c.OutPackets += n
			}
			inBlock = false
		}
	}
	if block < 0 {
		return c, fmt.Errorf("pf counters: no block rule in %q", strings.TrimSpace(out))
	}
	c.Known = true
	return c, nil
}

// pfKalabAnchors picks kalab's anchors from `pfctl -a com.apple -s Anchors`.
func pfKalabAnchors(out string) []string {
	var as []string
	for _, line := range strings.Split(out, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, pfAnchorPrefix) {
			as = append(as, t)
		}
	}
	return as
}

// pfEndpoint renders an address:port as pfctl -s states prints it
// (IPv4 "a.b.c.d:p", IPv6 "addr[p]").
func pfEndpoint(ap netip.AddrPort) string {
	a := ap.Addr().Unmap()
	if a.Is6() {
		return fmt.Sprintf("%s[%d]", a, ap.Port())
	}
	return fmt.Sprintf("%s:%d", a, ap.Port())
}

// pfHasState reports whether `pfctl -s states` shows a state for the flow.
// pf evaluates rules only for packets that match no state (xnu pf.c
// pf_test), so a block would not bite on a flow with a state.
func pfHasState(states string, f Flow) bool {
	a, b := pfEndpoint(f.Local), pfEndpoint(f.Remote)
	for _, line := range strings.Split(states, "\n") {
		if strings.Contains(line, a) && strings.Contains(line, b) {
			return true
		}
	}
	return false
}

// pfKillArgs kills states both ways between the two hosts: macOS pfctl
// matches hosts only (-k host; no -k label/id), so every state between
// them goes, which the report must say.
func pfKillArgs(a, b netip.Addr) [][]string {
	return [][]string{
		{"-k", a.Unmap().String(), "-k", b.Unmap().String()},
		{"-k", b.Unmap().String(), "-k", a.Unmap().String()},
	}
}
