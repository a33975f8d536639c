package fault

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestPFAnchor(t *testing.T) {
	for run, want := range map[string]string{
		"quick-1a2b-h1-h2-1-3": "com.apple/kalab.quick-1a2b-h1-h2-1-3",
		"a/b c;d":              "com.apple/kalab.a_b_c_d",
	} {
		if got := pfAnchor(run); got != want {
			t.Errorf("pfAnchor(%q) = %q, want %q", run, got, want)
		}
	}
}

func TestPFRules(t *testing.T) {
	f := Flow{netip.MustParseAddrPort("192.0.2.2:40001"), netip.MustParseAddrPort("192.0.2.1:9000")}
	out := "block drop out quick inet proto tcp from 192.0.2.2 port 40001 to 192.0.2.1 port 9000 label \"kalab-r1\"\n"
	in := "block drop in quick inet proto tcp from 192.0.2.1 port 9000 to 192.0.2.2 port 40001 label \"kalab-r1\"\n"
	for _, tt := range []struct {
		dir  Direction
		want string
	}{
		{"", out + in},
		{DirectionBoth, out + in},
		{DirectionToServer, out}, // the client's packets to the server: block out
		{DirectionToClient, in},  // the server's packets to the client: block in
	} {
		if got := pfFlowRules("r1", f, tt.dir); got != tt.want {
			t.Errorf("flow rules %q:\n%s\nwant:\n%s", tt.dir, got, tt.want)
		}
	}
	f6 := Flow{netip.MustParseAddrPort("[2001:db8::2]:1"), netip.MustParseAddrPort("[2001:db8::1]:2")}
	if got := pfFlowRules("r1", f6, DirectionBoth); !strings.Contains(got, "inet6 proto tcp from 2001:db8::2 port 1 to 2001:db8::1 port 2") {
		t.Errorf("IPv6 flow rules: %s", got)
	}
	for _, tt := range []struct {
		dir    Direction
		blocks []string
	}{
		{DirectionBoth, []string{"block drop out quick inet from any to 192.0.2.1", "block drop in quick inet from 192.0.2.1 to any"}},
		{DirectionToServer, []string{"block drop out quick inet from any to 192.0.2.1"}},
		{DirectionToClient, []string{"block drop in quick inet from 192.0.2.1 to any"}},
	} {
		host := pfHostRules("r1", netip.MustParseAddr("192.0.2.1"), 7946, tt.dir)
		lines := strings.Split(strings.TrimSpace(host), "\n")
		if len(lines) != 4+len(tt.blocks) {
			t.Fatalf("host rules %q:\n%s", tt.dir, host)
		}
		for i, l := range lines {
			switch {
			case i < 4 && !(strings.HasPrefix(l, "pass quick inet proto { tcp udp }") && strings.Contains(l, "7946") && strings.HasSuffix(l, "no state")):
				t.Errorf("%s line %d %q: want a stateless quick pass for serf's port first, whatever the direction", tt.dir, i, l)
			case i >= 4 && !strings.HasPrefix(l, tt.blocks[i-4]):
				t.Errorf("%s line %d %q: want %q", tt.dir, i, l, tt.blocks[i-4])
			}
		}
	}
}

func TestPFParse(t *testing.T) {
	tok, err := pfToken("No ALTQ support in kernel\nALTQ related functions disabled\npf enabled\nToken : 4553616287413584128\n")
	if err != nil || tok != "4553616287413584128" {
		t.Errorf("pfToken = %q, %v", tok, err)
	}
	if _, err := pfToken("pfctl: /dev/pf: Permission denied\n"); err == nil {
		t.Error("pfToken without a token: want an error")
	}
	rules := `block drop quick inet proto tcp from 192.0.2.2 port = 40001 to 192.0.2.1 port = 9000 label "kalab-r1"
  [ Evaluations: 12        Packets: 5         Bytes: 280         States: 0     ]
  [ Inserted: uid 0 pid 812 State Creations: 0     ]
block drop quick inet proto tcp from 192.0.2.1 port = 9000 to 192.0.2.2 port = 40001 label "kalab-r1"
  [ Evaluations: 12        Packets: 4         Bytes: 208         States: 0     ]
`
	c, err := pfCounters(rules)
	if err != nil || c != (Counters{Known: true, OutPackets: 5, InPackets: 4}) {
		t.Errorf("pfCounters = %+v, %v", c, err)
	}
	hostRules := `pass quick inet proto tcp from any port = 7946 to 192.0.2.1 no state
  [ Evaluations: 3 Packets: 100 Bytes: 9000 States: 0 ]
block drop quick inet from any to 192.0.2.1 label "kalab-r1"
  [ Evaluations: 3 Packets: 7 Bytes: 588 States: 0 ]
block drop quick inet from 192.0.2.1 to any label "kalab-r1"
  [ Evaluations: 3 Packets: 3 Bytes: 252 States: 0 ]
`
	if c, err := pfCounters(hostRules); err != nil || c.OutPackets != 7 || c.InPackets != 3 {
		t.Errorf("host counters = %+v, %v (pass counters must not count)", c, err)
	}
	// Rules that name their direction count by it, whatever their order
	// or number: a one-way drop has one block rule.
	directed := `block drop in quick inet proto tcp from 192.0.2.1 port = 9000 to 192.0.2.2 port = 40001 label "kalab-r1"
  [ Evaluations: 9         Packets: 6         Bytes: 312         States: 0     ]
block drop out quick inet proto tcp from 192.0.2.2 port = 40001 to 192.0.2.1 port = 9000 label "kalab-r1"
  [ Evaluations: 9         Packets: 2         Bytes: 104         States: 0     ]
`
	if c, err := pfCounters(directed); err != nil || c != (Counters{Known: true, InPackets: 6, OutPackets: 2}) {
		t.Errorf("directed counters = %+v, %v", c, err)
	}
	toClient := `pass quick inet proto tcp from any port = 7946 to 192.0.2.1 no state
  [ Evaluations: 3 Packets: 100 Bytes: 9000 States: 0 ]
block drop in quick inet from 192.0.2.1 to any label "kalab-r1"
  [ Evaluations: 3 Packets: 4 Bytes: 336 States: 0 ]
`
	if c, err := pfCounters(toClient); err != nil || c != (Counters{Known: true, InPackets: 4}) {
		t.Errorf("to-client counters = %+v, %v: want inbound only", c, err)
	}
	if _, err := pfCounters("pass all\n"); err == nil {
		t.Error("no block rule: want an error")
	}
	anchors := pfKalabAnchors("  com.apple/200.AirDrop\n  com.apple/kalab.r1\n  com.apple/kalab.r2\n  com.apple/250.ApplicationFirewall\n")
	if !slices.Equal(anchors, []string{"com.apple/kalab.r1", "com.apple/kalab.r2"}) {
		t.Errorf("anchors %v", anchors)
	}
	states := "ALL tcp 192.0.2.2:40001 -> 192.0.2.1:9000       ESTABLISHED:ESTABLISHED\nALL udp 192.0.2.2:7946 <- 192.0.2.1:7946 MULTIPLE:MULTIPLE\n"
	f := Flow{netip.MustParseAddrPort("192.0.2.2:40001"), netip.MustParseAddrPort("192.0.2.1:9000")}
	if !pfHasState(states, f) {
		t.Error("state of the flow not found")
	}
	if pfHasState(states, Flow{netip.MustParseAddrPort("192.0.2.2:40002"), netip.MustParseAddrPort("192.0.2.1:9000")}) {
		t.Error("another flow's state matched")
	}
	if !pfHasState("ALL tcp 2001:db8::2[40001] -> 2001:db8::1[9000] ESTABLISHED:ESTABLISHED", Flow{netip.MustParseAddrPort("[2001:db8::2]:40001"), netip.MustParseAddrPort("[2001:db8::1]:9000")}) {
		t.Error("IPv6 state not found")
	}
	k := pfKillArgs(f.Local.Addr(), f.Remote.Addr())
	if len(k) != 2 || k[0][1] != "192.0.2.2" || k[1][1] != "192.0.2.1" {
		t.Errorf("kill args %v: want both directions", k)
	}
}
