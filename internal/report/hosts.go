package report

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/results"
)

// HostRow is what the runs say about one agent host: what it ran, with
// which privileges, and how well its clock was tied to the coordinator's.
// Results from different days may disagree on a host's facts (an upgrade);
// each distinct OS version, agent version or capability set is its own row.
type HostRow struct {
	// Name is the agent's node name; Source where its runs came from
	// (hosts, lab, fixture).
	Name      string   `json:"name"`
	Source    string   `json:"source"`
	Roles     []string `json:"roles"` // "server", "client"
	OS        string   `json:"os"`
	OSName    string   `json:"os_name"`
	OSVersion string   `json:"os_version,omitempty"`
	Build     int      `json:"build,omitempty"`
	Arch      string   `json:"arch,omitempty"`
	Kalab     string   `json:"kalab_version,omitempty"`
	HZ        int      `json:"hz,omitempty"`
	Caps      []string `json:"caps"`
	// Privileged: the agent ran as root / elevated Administrator (the
	// "privileged" capability; agents before it said "root" or "admin"),
	// which drop faults and raw ICMP need.
	Privileged bool `json:"privileged"`
	Runs       int  `json:"runs"`
	// Clock offset (agent − coordinator) range over the runs, and the worst
	// error bound of those estimates (half the best round trip).
	ClockOffsetMin time.Duration `json:"clock_offset_min_ns"`
	ClockOffsetMax time.Duration `json:"clock_offset_max_ns"`
	ClockBoundMax  time.Duration `json:"clock_bound_max_ns"`
}

func isPrivilegeCap(c string) bool { return c == "privileged" || c == "root" || c == "admin" }

type hostKey struct{ name, source, os, version, kalab, caps, arch string }

// hosts lists every server and client host in order of first appearance.
func hosts(rs []results.Result) []HostRow {
	var out []HostRow
	idx := map[hostKey]int{}
	add := func(h results.Host, role, source string) {
		if h.Name == "" && h.OS == "" {
			return // the run failed before agents were chosen
		}
		k := hostKey{h.Name, source, h.OS, h.OSVersion, h.Kalab, h.Caps, h.Arch}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			caps := []string{}
			for c := range strings.SplitSeq(h.Caps, ",") {
				if c = strings.TrimSpace(c); c != "" {
					caps = append(caps, c)
				}
			}
			out = append(out, HostRow{Name: h.Name, Source: source, Roles: []string{}, OS: h.OS,
				OSName: serverName(h.OS, h.OSVersion), OSVersion: h.OSVersion, Build: h.Build, Arch: h.Arch,
				Kalab: h.Kalab, HZ: h.HZ, Caps: caps, Privileged: slices.ContainsFunc(caps, isPrivilegeCap),
				ClockOffsetMin: h.ClockOffset, ClockOffsetMax: h.ClockOffset, ClockBoundMax: h.ClockBound})
		}
		r := &out[i]
		if !slices.Contains(r.Roles, role) {
			r.Roles = append(r.Roles, role)
			slices.Sort(r.Roles)
		}
		r.Runs++
		r.ClockOffsetMin = min(r.ClockOffsetMin, h.ClockOffset)
		r.ClockOffsetMax = max(r.ClockOffsetMax, h.ClockOffset)
		r.ClockBoundMax = max(r.ClockBoundMax, h.ClockBound)
		if r.HZ == 0 {
			r.HZ = h.HZ
		}
	}
	for _, res := range rs {
		src := sourceOf(res)
		add(res.Server, "server", src)
		add(res.Client, "client", src)
	}
	slices.SortStableFunc(out, func(a, b HostRow) int {
		return cmp.Or(cmp.Compare(a.OS, b.OS), cmp.Compare(a.Source, b.Source), cmp.Compare(a.Name, b.Name))
	})
	return out
}
