package fault

import (
	"fmt"
	"net/netip"
)

// Windows drops are Windows Filtering Platform filters. This file describes
// them OS-neutrally so the exact filter set is table-tested on Linux;
// drop_windows.go turns each description into a tailscale/wf Rule.
//
// Why the transport layers: they classify every packet of an established
// flow (INBOUND_TRANSPORT just after the transport header is parsed,
// OUTBOUND_TRANSPORT at the top of the network layer), so a new BLOCK bites
// on the next packet and nothing is torn down; ALE layers only see connects
// and accepts and a block there re-authorises and tears the flow down
// (MS docs tcp-packet-flows.md, ale-re-authorization.md;
// docs/drop-mechanisms.md §1.2).

type wfpLayer string

const (
	wfpInbound4         wfpLayer = "inbound-transport-v4"
	wfpOutbound4        wfpLayer = "outbound-transport-v4"
	wfpInbound6         wfpLayer = "inbound-transport-v6"
	wfpOutbound6        wfpLayer = "outbound-transport-v6"
	wfpInboundDiscard4  wfpLayer = "inbound-transport-v4-discard"
	wfpInboundDiscard6  wfpLayer = "inbound-transport-v6-discard"
	wfpActionBlock               = "block"
	wfpActionPermit              = "permit"
	wfpActionSilentDrop          = "silent-drop" // the built-in silent-drop callout
)

type wfpField string

const (
	wfpProtocol   wfpField = "ip-protocol"
	wfpLocalAddr  wfpField = "ip-local-address"
	wfpLocalPort  wfpField = "ip-local-port"
	wfpRemoteAddr wfpField = "ip-remote-address"
	wfpRemotePort wfpField = "ip-remote-port"
)

// wfpCond is one condition. Conditions on the same field are ORed by WFP,
// different fields ANDed (tailscale's wf: "Repeat the condition type for
// logical OR").
type wfpCond struct {
	Field wfpField
	Value any // netip.Addr (unmapped), uint16 port, uint8 IP protocol
}

func (c wfpCond) String() string { return fmt.Sprintf("%s=%v", c.Field, c.Value) }

// wfpFilter is one filter in kalab's sublayer.
type wfpFilter struct {
	Name   string
	Layer  wfpLayer
	Action string
	// Weight orders filters inside kalab's sublayer: higher first, first
	// permit or block wins (MS docs filter-arbitration.md).
	Weight uint64
	Conds  []wfpCond
}

const (
	protoTCP uint8 = 6
	protoUDP uint8 = 17

	wfpWeightPermit = 20
	wfpWeightBlock  = 10
)

func wfpLayers(v6 bool) (in, out, discard wfpLayer) {
	if v6 {
		return wfpInbound6, wfpOutbound6, wfpInboundDiscard6
	}
	return wfpInbound4, wfpOutbound4, wfpInboundDiscard4
}

// wfpFlowFilters silence one TCP flow in both directions, or in dir only:
// to-server blocks at the outbound transport layer alone, to-client at the
// inbound one alone. IP_LOCAL_* means this host in both directions, so one
// condition set serves the inbound and the outbound filter. The
// silent-drop callout at the inbound discard layer keeps the stack from
// answering a dropped segment with a RST (MS docs
// preventing-port-scanning.md) — insurance, as a segment dropped at
// INBOUND_TRANSPORT never reaches TCP [infer]; it goes with the inbound
// block, so a to-server drop has none.
func wfpFlowFilters(run string, f Flow, dir Direction) []wfpFilter {
	local, remote := f.Local.Addr().Unmap(), f.Remote.Addr().Unmap()
	in, out, discard := wfpLayers(local.Is6())
	conds := []wfpCond{
		{wfpProtocol, protoTCP},
		{wfpLocalAddr, local}, {wfpLocalPort, f.Local.Port()},
		{wfpRemoteAddr, remote}, {wfpRemotePort, f.Remote.Port()},
	}
	name := "kalab drop " + run
	var fs []wfpFilter
	if dir.dropsIn() {
		fs = append(fs, wfpFilter{Name: name + " in", Layer: in, Action: wfpActionBlock, Weight: wfpWeightBlock, Conds: conds})
	}
	if dir.dropsOut() {
		fs = append(fs, wfpFilter{Name: name + " out", Layer: out, Action: wfpActionBlock, Weight: wfpWeightBlock, Conds: conds})
	}
	if dir.dropsIn() {
		fs = append(fs, wfpFilter{Name: name + " no-rst", Layer: discard, Action: wfpActionSilentDrop, Weight: wfpWeightBlock, Conds: conds})
	}
	return fs
}

// wfpHostFilters silence this host toward peer (ICMP included: WFP
// classifies ICMP at the transport layers too, with the type in the port
// field) except serf's port, via higher-weight permits in kalab's sublayer.
// The permits are at both layers whatever dir; the block only at the
// layers dir drops (outbound for to-server, inbound for to-client).
func wfpHostFilters(run string, peer netip.Addr, keepPort uint16, dir Direction) []wfpFilter {
	peer = peer.Unmap()
	in, out, _ := wfpLayers(peer.Is6())
	name := "kalab host drop " + run
	var fs []wfpFilter
	for _, layer := range []wfpLayer{in, out} {
		for _, portField := range []wfpField{wfpLocalPort, wfpRemotePort} {
			fs = append(fs, wfpFilter{Name: name + " keep serf", Layer: layer, Action: wfpActionPermit, Weight: wfpWeightPermit,
				Conds: []wfpCond{{wfpRemoteAddr, peer}, {wfpProtocol, protoTCP}, {wfpProtocol, protoUDP}, {portField, keepPort}}})
		}
		if (layer == in && dir.dropsIn()) || (layer == out && dir.dropsOut()) {
			fs = append(fs, wfpFilter{Name: name, Layer: layer, Action: wfpActionBlock, Weight: wfpWeightBlock,
				Conds: []wfpCond{{wfpRemoteAddr, peer}}})
		}
	}
	return fs
}
