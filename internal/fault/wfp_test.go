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
			fs := wfpFlowFilters("r1", tt.flow)
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
	fs := wfpHostFilters("r1", peer, 7946)
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
