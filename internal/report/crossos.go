package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// crossOSFindings are the statements that compare OSes: the same settings
// and fault side by side, the controls (pause, kill) over every OS, what
// each OS did with the options each mode asked for, and Windows builds that
// fix the probe count. They come first in the findings: they are what a
// reader comparing OSes looks for.
func crossOSFindings(r *Report) []string {
	var out []string
	out = append(out, sideBySide(r.Groups)...)
	out = append(out, pauseFinding(r.Groups)...)
	out = append(out, killFinding(r.Groups)...)
	out = append(out, fixedCountFindings(r.Groups)...)
	return append(out, modeFindings(r.Groups)...)
}

// shortGroup names a group inside a cross-OS sentence: OS, the mode when it
// is not the plain listener, and the source.
func shortGroup(g *Group) string {
	return g.Server + modeNote(g.Mode, g.Scenario) + " [" + sourceText(g) + "]"
}

// serverSource names a group's server and source ("Linux 6.18.44 [lab]").
func serverSource(g *Group) string { return g.Server + " [" + sourceText(g) + "]" }

// sourceText is a group's source as labels show it ("lab, emulated").
func sourceText(g *Group) string {
	if g.Emulated {
		return g.Source + ", emulated"
	}
	return g.Source
}

// sideBySide compares detection − fault (the anchor every OS has) for each
// requested settings and fault that more than one OS ran.
func sideBySide(groups []Group) []string {
	type key struct {
		mechanism              string
		kind, scope, direction string
		hold                   time.Duration
	}
	var keys []key
	byKey := map[key][]*Group{}
	for i := range groups {
		g := &groups[i]
		if g.Expect != results.ExpectDetected || g.AfterFault == nil {
			continue
		}
		k := key{g.Mechanism, g.FaultKind, g.FaultScope, g.FaultDirection, g.Hold}
		if byKey[k] == nil {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], g)
	}
	var out []string
	for _, k := range keys {
		gs := byKey[k]
		oses := map[string]bool{}
		for _, g := range gs {
			oses[g.OS] = true
		}
		if len(oses) < 2 {
			continue
		}
		var parts []string
		for _, g := range gs {
			p := fmt.Sprintf("%s %s (n=%d)", shortGroup(g), fmtDur(g.AfterFault.Median), g.AfterFault.Count)
			if g.Model != nil && g.Model.Settings != g.Requested {
				p += " for the effective " + g.Model.Settings.Short()
			}
			parts = append(parts, p)
		}
		out = append(out, fmt.Sprintf("%s %s across OSes: detection − fault median %s",
			k.mechanism, faultName(k.kind, k.scope, k.direction, k.hold, false), strings.Join(parts, "; ")))
	}
	return out
}

// osList names the distinct OSes of some groups in report order.
func osList(gs []*Group) string {
	var names []string
	for _, g := range gs {
		if n := osNames[g.OS]; n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		} else if n == "" && !slices.Contains(names, g.OS) {
			names = append(names, g.OS)
		}
	}
	return strings.Join(names, ", ")
}

// pauseFinding: a paused process's kernel still answers, so keepalive must
// never fire; say so for every OS at once, with the shortest time a pause
// was held (the claim is only as strong as that).
func pauseFinding(groups []Group) []string {
	var gs []*Group
	var runs, detected int
	held := time.Duration(-1)
	for i := range groups {
		g := &groups[i]
		if g.FaultKind != results.KindPause || g.Expect != results.ExpectNotDetected {
			continue // a pause with a hold is a short outage (survives), told per group
		}
		ms := measured(g)
		if len(ms) == 0 {
			continue
		}
		gs = append(gs, g)
		for _, res := range ms {
			runs++
			if res.Detected {
				detected++
				continue
			}
			if a := res.Anchors; a.Fault != nil && a.Healed != nil {
				if d := a.Healed.Sub(*a.Fault); held < 0 || d < held {
					held = d
				}
			}
		}
	}
	if runs == 0 {
		return nil
	}
	if detected > 0 {
		return []string{fmt.Sprintf("pause: %d of %s on %s detected a paused process although its kernel kept answering (see the groups below)",
			detected, plural(runs, "run"), osList(gs))}
	}
	within := ""
	if held >= 0 {
		within = " within " + fmtDur(held)
	}
	who := "no OS (" + osList(gs) + ") detected"
	if !strings.Contains(osList(gs), ",") {
		who = osList(gs) + " did not detect"
	}
	return []string{fmt.Sprintf("pause: %s a paused process%s (%s): the paused peer's kernel keeps answering keepalive probes, so only an application-level heartbeat notices",
		who, within, plural(runs, "run"))}
}

// killFinding: the peer's kernel closes the connection of a killed process;
// every OS should notice at once. One entry per server and source, over all
// its settings (the settings do not matter to a close).
func killFinding(groups []Group) []string {
	type acc struct {
		name string
		max  time.Duration
		runs int
	}
	var order []*acc
	var gs []*Group
	for i := range groups {
		g := &groups[i]
		if g.FaultKind != results.KindKill || g.AfterFault == nil {
			continue
		}
		gs = append(gs, g)
		name := g.Server + " [" + g.Source + "]"
		j := slices.IndexFunc(order, func(a *acc) bool { return a.name == name })
		if j < 0 {
			order = append(order, &acc{name: name, max: g.AfterFault.Max})
			j = len(order) - 1
		}
		order[j].max = max(order[j].max, g.AfterFault.Max)
		order[j].runs += g.AfterFault.Count
	}
	if len(order) == 0 {
		return nil
	}
	var parts []string
	slow := 0
	for _, a := range order {
		parts = append(parts, fmt.Sprintf("%s max %s (%s)", a.name, fmtDur(a.max), plural(a.runs, "run")))
		if a.max > results.ImmediateBound {
			slow++
		}
	}
	who := "every OS (" + osList(gs) + ")"
	if !strings.Contains(osList(gs), ",") {
		who = osList(gs)
	}
	verdict := fmt.Sprintf("%s noticed the killed client within %s", who, fmtDur(results.ImmediateBound))
	if slow > 0 {
		verdict = fmt.Sprintf("%d of %d servers took longer than %s", slow, len(order), fmtDur(results.ImmediateBound))
	}
	return []string{fmt.Sprintf("kill: %s: %s", verdict, strings.Join(parts, "; "))}
}

// fixedCountFindings: Windows before 1703 has no TCP_KEEPCNT, the count is
// fixed at 10 (keepalive.LimitsFor). kalab refuses another count rather than
// let the OS ignore it; an agent that applied it anyway shows the read-back.
func fixedCountFindings(groups []Group) []string {
	type acc struct {
		name                         string
		fixed, asked, refused, other int
		ignored                      int
		requested                    []string
	}
	var order []string
	by := map[string]*acc{}
	for i := range groups {
		g := &groups[i]
		l, err := keepalive.LimitsFor(keepalive.Platform{OS: g.OS, Build: g.Build})
		if err != nil || l.CountSettable || g.Build == 0 {
			continue
		}
		a := by[g.Server]
		if a == nil {
			a = &acc{name: g.Server, fixed: l.FixedCount}
			by[g.Server] = a
			order = append(order, g.Server)
		}
		for _, res := range g.members {
			switch {
			case res.Requested.Count == l.FixedCount:
				a.asked++
			case res.Outcome == results.OutcomeFailed:
				a.refused++
				if c := itoa(res.Requested.Count); !slices.Contains(a.requested, c) {
					a.requested = append(a.requested, c)
				}
			case res.Effective.Count.Known && res.Effective.Count.Value != res.Requested.Count:
				a.ignored++
			default:
				a.other++
			}
		}
	}
	var out []string
	for _, n := range order {
		a := by[n]
		s := fmt.Sprintf("%s: count fixed at %d by the OS (TCP_KEEPCNT needs build %d)", a.name, a.fixed, keepalive.WindowsBuildKeepCnt)
		if a.refused > 0 {
			s += fmt.Sprintf("; a requested count of %s was refused on %s (failed: kalab does not pretend the OS applied it)",
				strings.Join(a.requested, "/"), plural(a.refused, "run"))
		}
		if a.ignored > 0 {
			s += fmt.Sprintf("; setting ignored on %s (read back %d)", plural(a.ignored, "run"), a.fixed)
		}
		if a.asked > 0 {
			s += fmt.Sprintf("; %s asked for %d", plural(a.asked, "run"), a.fixed)
		}
		out = append(out, s)
	}
	return out
}

// modeFindings say, per mode, on which OSes the effective options were
// what was asked, where they were not, and where the OS cannot tell.
func modeFindings(groups []Group) []string {
	type osAcc struct {
		name                   string
		asked, differs, unread int
		diffs, why             []string
	}
	var modes []keepalive.Mode
	byMode := map[keepalive.Mode][]*osAcc{}
	for i := range groups {
		g := &groups[i]
		if g.Scenario == keepalive.ScenarioHeartbeat || g.Target != nil {
			continue // keepalive off on purpose, or a service's own options: no mode kalab applied
		}
		if !slices.Contains(modes, g.Mode) {
			modes = append(modes, g.Mode)
		}
		var a *osAcc
		for _, x := range byMode[g.Mode] {
			if x.name == g.Server {
				a = x
			}
		}
		if a == nil {
			a = &osAcc{name: g.Server}
			byMode[g.Mode] = append(byMode[g.Mode], a)
		}
		for _, e := range g.Effective {
			switch e.Status {
			case EffectiveAsRequested:
				a.asked += e.Runs
			case EffectiveDiffers:
				a.differs += e.Runs
				for _, d := range e.Differences {
					if !slices.Contains(a.diffs, d) {
						a.diffs = append(a.diffs, d)
					}
				}
				if e.Why != "" && !slices.Contains(a.why, e.Why) {
					a.why = append(a.why, e.Why)
				}
			default:
				// A run that never got a connection shows nothing about
				// the options; only count what was read and unreadable.
				if e.Effective.Enabled.Known {
					a.unread += e.Runs
				}
			}
		}
	}
	slices.SortStableFunc(modes, func(a, b keepalive.Mode) int { return modeOrder(a) - modeOrder(b) })
	var out []string
	for _, m := range modes {
		var not, ok, unread []string
		for _, a := range byMode[m] {
			if a.differs > 0 {
				s := fmt.Sprintf("%s (%s on %s", a.name, strings.Join(a.diffs, ", "), plural(a.differs, "run"))
				if len(a.why) > 0 {
					s += ": " + strings.Join(a.why, "; ")
				}
				not = append(not, s+")")
			}
			if a.asked > 0 {
				ok = append(ok, fmt.Sprintf("%s (%s)", a.name, plural(a.asked, "run")))
			}
			if a.unread > 0 {
				unread = append(unread, fmt.Sprintf("%s (%s)", a.name, plural(a.unread, "run")))
			}
		}
		if len(not)+len(ok)+len(unread) == 0 {
			continue
		}
		what := map[keepalive.Mode]string{
			keepalive.ModeListener:          "listener settings (inherited by accepted sockets)",
			keepalive.ModeListenerGoDefault: "listener settings with Go's default accept path",
			keepalive.ModePerConn:           "per-connection settings",
		}[m]
		if what == "" {
			what = string(m) + " settings"
		}
		var parts []string
		if len(not) > 0 {
			verb := "not applied on "
			if m == keepalive.ModeListener {
				verb = "not inherited on "
			}
			parts = append(parts, verb+strings.Join(not, "; "))
		}
		if len(ok) > 0 {
			parts = append(parts, "as requested on "+strings.Join(ok, ", "))
		}
		if len(unread) > 0 {
			parts = append(parts, "not fully readable on "+strings.Join(unread, ", "))
		}
		out = append(out, fmt.Sprintf("%s: %s", what, strings.Join(parts, "; ")))
	}
	return out
}

func modeOrder(m keepalive.Mode) int {
	switch m {
	case keepalive.ModeListener:
		return 0
	case keepalive.ModePerConn:
		return 1
	case keepalive.ModeListenerGoDefault:
		return 2
	}
	return 3
}
