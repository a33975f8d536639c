package fault

import (
	"net/netip"
	"slices"
	"testing"
)

func TestWFPFlowFilters(t *testing.T) {
	tests := []struct {
		name       string
		flow       Flow
		in, out, d wfpLayer
	}{
		{"ipv4", Flow{netip.MustParseAddrPort("198.18.0.2:40001"), netip.MustParseAddrPort("198.18.0.1:9000")}, wfpInbound4, wfpOutbound4, wfpInboundDiscard4},
		{"ipv4-mapped is v4", Flow{netip.MustParseAddrPort("[::ffff:198.18.0.2]:40001"), netip.MustParseAddrPort("198.18.0.1:9000")}, wfpInbound4, wfpOutbound4, wfpInboundDiscard4},
		{"ipv6", Flow{netip.MustParseAddrPort("[2001:db8::2]:40001"), netip.MustParseAddrPort("[2001:db8::1]:9000")}, wfpInbound6, wfpOutbound6, wfpInboundDiscard6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := wfpFlowFilters("r1", tt.flow, DirectionBoth)
			if len(fs) != 3 {
				t.Fatalf("%d filters, want block in, block out, silent-drop", len(fs))
			}
			wantLayers := []wfpLayer{tt.in, tt.out, tt.d}
			wantActions := []string{wfpActionBlock, wfpActionBlock, wfpActionSilentDrop}
			want := []wfpCond{
				{wfpProtocol, protoTCP},
				{wfpLocalAddr, tt.flow.Local.Addr().Unmap()}, {wfpLocalPort, uint16(40001)},
				{wfpRemoteAddr, tt.flow.Remote.Addr().Unmap()}, {wfpRemotePort, uint16(9000)},
			}
			for i, f := range fs {
				if f.Layer != wantLayers[i] || f.Action != wantActions[i] {
					t.Errorf("filter %d: %s %s, want %s %s", i, f.Layer, f.Action, wantLayers[i], wantActions[i])
				}
				// The same local/remote conditions serve both directions:
				// IP_LOCAL_* is this host whatever the direction.
				if !slices.Equal(f.Conds, want) {
					t.Errorf("filter %d conditions %v, want %v", i, f.Conds, want)
				}
			}
		})
	}
}

func TestWFPHostFilters(t *testing.T) {
	peer := netip.MustParseAddr("198.18.0.1")
	fs := wfpHostFilters("r1", peer, 7946, DirectionBoth)
	var permits, blocks int
	for _, f := range fs {
		if f.Conds[0] != (wfpCond{wfpRemoteAddr, peer}) {
			t.Errorf("%s: first condition %v, want the peer only (the rest of the network stays reachable)", f.Name, f.Conds[0])
		}
		switch f.Action {
		case wfpActionPermit:
			permits++
			if f.Weight <= wfpWeightBlock {
				t.Errorf("permit weight %d must exceed the block's %d (first match wins in a sublayer)", f.Weight, wfpWeightBlock)
			}
			// tcp OR udp: the protocol field is repeated, and one port field.
			var protos []any
			var port wfpCond
			for _, c := range f.Conds {
				switch c.Field {
				case wfpProtocol:
					protos = append(protos, c.Value)
				case wfpLocalPort, wfpRemotePort:
					port = c
				}
			}
			if len(protos) != 2 || port.Value != uint16(7946) {
				t.Errorf("permit %v: want tcp|udp and port 7946", f.Conds)
			}
		case wfpActionBlock:
			blocks++
			if len(f.Conds) != 1 {
				t.Errorf("block %v: want only the peer (ICMP included)", f.Conds)
			}
		}
	}
	if permits != 4 || blocks != 2 {
		t.Fatalf("%d permits, %d blocks; want 4 (local/remote port × in/out) and 2 (in/out)", permits, blocks)
	}
}

// TestWFPDirections: a one-way drop blocks at one transport layer only —
// outbound for to-server (the client's answers), inbound for to-client (the
// server's probes) — and the no-RST insurance goes with the inbound block;
// a host drop keeps serf's permits at both layers.
func TestWFPDirections(t *testing.T) {
	flow := Flow{netip.MustParseAddrPort("198.18.0.2:40001"), netip.MustParseAddrPort("198.18.0.1:9000")}
	peer := flow.Remote.Addr()
	type fl struct {
		layer  wfpLayer
		action string
	}
	summary := func(fs []wfpFilter) (out []fl) {
		for _, f := range fs {
			out = append(out, fl{f.Layer, f.Action})
		}
		return out
	}
	for _, tt := range []struct {
		dir        Direction
		flow, host []fl
	}{
		{"", []fl{{wfpInbound4, wfpActionBlock}, {wfpOutbound4, wfpActionBlock}, {wfpInboundDiscard4, wfpActionSilentDrop}},
			[]fl{{wfpInbound4, wfpActionPermit}, {wfpInbound4, wfpActionPermit}, {wfpInbound4, wfpActionBlock}, {wfpOutbound4, wfpActionPermit}, {wfpOutbound4, wfpActionPermit}, {wfpOutbound4, wfpActionBlock}}},
		{DirectionToServer, []fl{{wfpOutbound4, wfpActionBlock}},
			[]fl{{wfpInbound4, wfpActionPermit}, {wfpInbound4, wfpActionPermit}, {wfpOutbound4, wfpActionPermit}, {wfpOutbound4, wfpActionPermit}, {wfpOutbound4, wfpActionBlock}}},
		{DirectionToClient, []fl{{wfpInbound4, wfpActionBlock}, {wfpInboundDiscard4, wfpActionSilentDrop}},
			[]fl{{wfpInbound4, wfpActionPermit}, {wfpInbound4, wfpActionPermit}, {wfpInbound4, wfpActionBlock}, {wfpOutbound4, wfpActionPermit}, {wfpOutbound4, wfpActionPermit}}},
	} {
		if got := summary(wfpFlowFilters("r1", flow, tt.dir)); !slices.Equal(got, tt.flow) {
			t.Errorf("flow %q: filters %v, want %v", tt.dir, got, tt.flow)
		}
		if got := summary(wfpHostFilters("r1", peer, 7946, tt.dir)); !slices.Equal(got, tt.host) {
			t.Errorf("host %q: filters %v, want %v", tt.dir, got, tt.host)
		}
	}
}
