package fault

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/tailscale/wf"
	"golang.org/x/sys/windows"
)

// kalab's fixed WFP provider and sublayer: the sweep removes only objects
// under these IDs. Filters live in a DYNAMIC session, so the kernel deletes
// them when the agent's session ends, crash included (MS docs
// object-management.md; docs/drop-mechanisms.md §1.3).
var (
	wfpProvider = wf.ProviderID(mustGUID("{cd1bca4a-538a-4790-939b-f9bdf157d685}"))
	wfpSublayer = wf.SublayerID(mustGUID("{8a15c1e8-b951-4834-92d3-c0c16aa5c957}"))
	// The built-in silent-drop callouts are not exported by wf
	// (zguids.go:50): FWPM_CALLOUT_WFP_TRANSPORT_LAYER_V4/V6_SILENT_DROP.
	calloutSilentDropV4 = wf.CalloutID(mustGUID("{eda08606-2494-4d78-89bc-67837c03b969}"))
	calloutSilentDropV6 = wf.CalloutID(mustGUID("{8693cc74-a075-4156-b476-9286eece814e}"))
)

func mustGUID(s string) windows.GUID {
	g, err := windows.GUIDFromString(s)
	if err != nil {
		panic(err)
	}
	return g
}

var wfpSession struct {
	sync.Mutex
	s *wf.Session
}

// session opens the agent's one dynamic WFP session (kept for the agent's
// life: closing it deletes every filter) with kalab's provider and a
// sublayer of the highest weight, so that only a third-party hard permit in
// a higher sublayer could override kalab's blocks (filter-arbitration.md).
func session() (*wf.Session, error) {
	wfpSession.Lock()
	defer wfpSession.Unlock()
	if wfpSession.s != nil {
		return wfpSession.s, nil
	}
	s, err := wf.New(&wf.Options{Name: "kalab", Description: "kalab keepalive lab faults", Dynamic: true})
	if err != nil {
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
			return nil, fmt.Errorf("open WFP session: %w (the agent must run elevated)", err)
		}
		return nil, fmt.Errorf("open WFP session: %w", err)
	}
	// A previous session's dynamic objects may still be going away; delete
	// best-effort, then add.
	_ = s.DeleteSublayer(wfpSublayer)
	_ = s.DeleteProvider(wfpProvider)
	if err := s.AddProvider(&wf.Provider{ID: wfpProvider, Name: "kalab", Description: "kalab keepalive lab"}); err != nil {
		s.Close()
		return nil, fmt.Errorf("add WFP provider: %w", err)
	}
	if err := s.AddSublayer(&wf.Sublayer{ID: wfpSublayer, Name: "kalab faults", Provider: wfpProvider, Weight: 0xFFFF}); err != nil {
		s.Close()
		return nil, fmt.Errorf("add WFP sublayer: %w", err)
	}
	wfpSession.s = s
	return s, nil
}

var wfpLayerIDs = map[wfpLayer]wf.LayerID{
	wfpInbound4:        wf.LayerInboundTransportV4,
	wfpOutbound4:       wf.LayerOutboundTransportV4,
	wfpInbound6:        wf.LayerInboundTransportV6,
	wfpOutbound6:       wf.LayerOutboundTransportV6,
	wfpInboundDiscard4: wf.LayerInboundTransportV4Discard,
	wfpInboundDiscard6: wf.LayerInboundTransportV6Discard,
}

var wfpFieldIDs = map[wfpField]wf.FieldID{
	wfpProtocol:   wf.FieldIPProtocol,
	wfpLocalAddr:  wf.FieldIPLocalAddress,
	wfpLocalPort:  wf.FieldIPLocalPort,
	wfpRemoteAddr: wf.FieldIPRemoteAddress,
	wfpRemotePort: wf.FieldIPRemotePort,
}

// toRule maps a filter description to a wf.Rule with a fresh random ID.
func toRule(f wfpFilter) (*wf.Rule, error) {
	id, err := windows.GenerateGUID()
	if err != nil {
		return nil, err
	}
	r := &wf.Rule{ID: wf.RuleID(id), Name: f.Name, Layer: wfpLayerIDs[f.Layer], Sublayer: wfpSublayer,
		Provider: wfpProvider, Weight: f.Weight}
	switch f.Action {
	case wfpActionBlock:
		r.Action = wf.ActionBlock
	case wfpActionPermit:
		r.Action = wf.ActionPermit
	case wfpActionSilentDrop:
		r.Action, r.Callout = wf.ActionCalloutTerminating, calloutSilentDropV4
		if f.Layer == wfpInboundDiscard6 {
			r.Callout = calloutSilentDropV6
		}
	}
	for _, c := range f.Conds {
		v := c.Value
		if p, ok := v.(uint8); ok {
			v = wf.IPProto(p)
		}
		r.Conditions = append(r.Conditions, &wf.Match{Field: wfpFieldIDs[c.Field], Op: wf.MatchTypeEqual, Value: v})
	}
	return r, nil
}

// install adds the filters; on error it removes what it added.
func install(fs []wfpFilter) (func() error, []wf.RuleID, error) {
	s, err := session()
	if err != nil {
		return nil, nil, err
	}
	var ids []wf.RuleID
	remove := func() error {
		var errs []error
		for _, id := range ids {
			if err := s.DeleteRule(id); err != nil && !errors.Is(err, windows.Errno(windows.FWP_E_FILTER_NOT_FOUND)) {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	for _, f := range fs {
		r, err := toRule(f)
		if err == nil {
			err = s.AddRule(r)
		}
		if err != nil {
			if f.Action == wfpActionSilentDrop {
				continue // insurance only (see wfp.go); the blocks are what count
			}
			_ = remove()
			return nil, nil, fmt.Errorf("add WFP filter %q: %w", f.Name, err)
		}
		ids = append(ids, r.ID)
	}
	return remove, ids, nil
}

var wfpRuns struct {
	sync.Mutex
	ids map[string][]wf.RuleID
}

func remember(run string, ids []wf.RuleID) {
	wfpRuns.Lock()
	defer wfpRuns.Unlock()
	if wfpRuns.ids == nil {
		wfpRuns.ids = map[string][]wf.RuleID{}
	}
	wfpRuns.ids[run] = ids
}

// installFlowDrop blocks one TCP flow at the transport layers (both, or
// the one spec.Direction names).
func installFlowDrop(spec DropSpec) (remove func() error, err error) {
	remove, ids, err := install(wfpFlowFilters(spec.Run, spec.Flow, spec.Direction))
	if err != nil {
		return nil, err
	}
	remember(spec.Run, ids)
	return remove, nil
}

// installHostDrop silences this host toward the peer except serf's port,
// both ways or in spec.Direction only.
func installHostDrop(spec HostDropSpec) (remove func() error, err error) {
	remove, ids, err := install(wfpHostFilters(spec.Run, spec.Peer, spec.KeepPort, spec.Direction))
	if err != nil {
		return nil, err
	}
	remember(spec.Run, ids)
	return remove, nil
}

// DropCounters: WFP keeps no per-filter counters. The net-event ring
// (DropEvents, ~100-150 machine-wide events) is supporting evidence only;
// the proof is the server's unanswered probes (docs/drop-mechanisms.md §2).
func DropCounters(run string, _ int) (Counters, error) {
	s, err := session()
	if err != nil {
		return Counters{}, err
	}
	wfpRuns.Lock()
	ours := map[wf.RuleID]bool{}
	for _, id := range wfpRuns.ids[run] {
		ours[id] = true
	}
	wfpRuns.Unlock()
	kernel := map[uint64]bool{}
	if rules, err := s.Rules(); err == nil {
		for _, r := range rules {
			if ours[r.ID] {
				kernel[r.KernelID] = true
			}
		}
	}
	c := Counters{Known: false, Evidence: "WFP has no filter counters"}
	if evs, err := s.DropEvents(); err == nil {
		n := 0
		for _, e := range evs {
			if kernel[e.FilterID] {
				n++
			}
		}
		c.Evidence = fmt.Sprintf("%d WFP drop events for this run's filters (best effort: a small machine-wide ring)", n)
	}
	return c, nil
}

// Sweep deletes filters under kalab's provider left by a non-dynamic
// session (dynamic ones die with their session). Best effort: wf's Rules()
// fails on foreign filters it cannot parse.
func Sweep(_ int) error {
	s, err := session()
	if err != nil {
		return fmt.Errorf("sweep WFP: %w", err)
	}
	rules, err := s.Rules()
	if err != nil {
		return fmt.Errorf("sweep WFP (best effort, foreign filters may be unparseable): %w", err)
	}
	var errs []error
	for _, r := range rules {
		if r.Provider == wfpProvider || r.Sublayer == wfpSublayer || strings.HasPrefix(r.Name, "kalab ") {
			errs = append(errs, s.DeleteRule(r.ID))
		}
	}
	return errors.Join(errs...)
}
