package report

import (
	"cmp"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// Effective option statuses: how the options the kernel applied compare with
// the requested ones.
const (
	EffectiveAsRequested = "as-requested"
	EffectiveDiffers     = "differs"
	// EffectiveUnknown: some value could not be read back (or the run never
	// got a connection), and the known ones match; the report claims nothing.
	EffectiveUnknown = "unknown"
	// EffectiveOffAsIntended: a heartbeat run's keepalive read back off,
	// which is what that scenario asks for (its Requested is zero).
	EffectiveOffAsIntended = "off-as-intended"
)

// goDefault is what Go's accept path re-applies unless told not to
// (net/tcpsock.go newTCPConn; docs/keepalive-models.md §5).
var goDefault = keepalive.GoDefault

// EffectiveSeen is one distinct set of effective options in a group.
type EffectiveSeen struct {
	// Effective are the options read back; Runs how many runs had them;
	// Status compares them with the request (Effective* constants).
	Effective keepalive.Effective `json:"effective"`
	Runs      int                 `json:"runs"`
	Status    string              `json:"status"`
	// Differences name each known value that is not the requested one.
	Differences []string `json:"differences,omitempty"`
	// Why explains a difference kalab knows the cause of.
	Why string `json:"why,omitempty"`
}

// effectiveSeen collects the distinct effective option sets of a group's
// runs, in order of first appearance.
func effectiveSeen(g *Group) []EffectiveSeen {
	var out []EffectiveSeen
	idx := map[string]int{}
	for _, res := range g.members {
		e := res.Effective
		k := e.String() + "\x00" + strings.Join(e.Notes, "\x00")
		if i, ok := idx[k]; ok {
			out[i].Runs++
			continue
		}
		status, diffs := compareEffective(g.Requested, g.Scenario, e)
		idx[k] = len(out)
		out = append(out, EffectiveSeen{Effective: e, Runs: 1, Status: status, Differences: diffs,
			Why: explainDifference(g, e, status)})
	}
	return out
}

// compareEffective compares every known value with the request. Any known
// difference makes the set differ; otherwise an unknown value makes it
// unknown. A heartbeat run asks for keepalive off and nothing else.
func compareEffective(req keepalive.Settings, sc keepalive.Scenario, e keepalive.Effective) (string, []string) {
	if sc == keepalive.ScenarioHeartbeat {
		return compareHeartbeatEffective(e)
	}
	var diffs []string
	unknown := false
	if !e.Enabled.Known {
		unknown = true
	} else if !e.Enabled.Value {
		diffs = append(diffs, "keepalive off")
	}
	dur := func(name string, o keepalive.Opt[time.Duration], want time.Duration) {
		switch {
		case !o.Known:
			unknown = true
		case o.Value != want:
			diffs = append(diffs, name+" "+keepalive.ShortDuration(o.Value)+" (requested "+keepalive.ShortDuration(want)+")")
		}
	}
	dur("idle", e.Idle, req.Idle)
	dur("interval", e.Interval, req.Interval)
	switch {
	case !e.Count.Known:
		unknown = true
	case e.Count.Value != req.Count:
		diffs = append(diffs, "count "+itoa(e.Count.Value)+" (requested "+itoa(req.Count)+")")
	}
	switch {
	case len(diffs) > 0:
		return EffectiveDiffers, diffs
	case unknown:
		return EffectiveUnknown, nil
	}
	return EffectiveAsRequested, nil
}

// compareHeartbeatEffective: off is as intended; the idle, interval and
// count the OS keeps on a socket with keepalive off mean nothing.
func compareHeartbeatEffective(e keepalive.Effective) (string, []string) {
	switch {
	case !e.Enabled.Known:
		return EffectiveUnknown, nil
	case e.Enabled.Value:
		return EffectiveDiffers, []string{"keepalive on (the heartbeat scenario turns it off)"}
	}
	return EffectiveOffAsIntended, nil
}

// explainDifference names the causes docs/keepalive-models.md §2 and §5 document.
func explainDifference(g *Group, e keepalive.Effective, status string) string {
	if status != EffectiveDiffers {
		return ""
	}
	if s, ok := e.Settings(); ok && g.Mode == keepalive.ModeListenerGoDefault && s == goDefault && g.Requested != goDefault {
		return "Go's default accept path overwrote the listener's settings with 15s/15s/9"
	}
	if keepalive.LosesListenerIdle(keepalive.Platform{OS: g.OS}, g.Mode) && e.Idle.Known && e.Idle.Value != g.Requested.Idle {
		return "macOS does not inherit idle from the listener (XNU never copies t_keepidle)"
	}
	return ""
}

// effectiveShort writes effective options as idle/interval/count with "?"
// for unknown values, plus a user timeout when one is set.
func effectiveShort(e keepalive.Effective) string {
	if e.Enabled.Known && !e.Enabled.Value {
		return "off"
	}
	d := func(o keepalive.Opt[time.Duration]) string {
		if !o.Known {
			return "?"
		}
		return keepalive.ShortDuration(o.Value)
	}
	c := "?"
	if e.Count.Known {
		c = itoa(e.Count.Value)
	}
	s := d(e.Idle) + "/" + d(e.Interval) + "/" + c
	if e.UserTimeout.Known && e.UserTimeout.Value > 0 {
		s += " " + cmp.Or(e.UserTimeoutOpt, "user timeout") + " " + keepalive.ShortDuration(e.UserTimeout.Value)
	}
	return s
}
