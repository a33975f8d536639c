package advise

import (
	"fmt"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// Advice is the answer to `coordinator model --detect-within D`: settings
// whose worst-case detection after the fault is at most D on every listed
// OS, best first.
type Advice struct {
	// Schema is the Schema constant; Kind is always "advice".
	Schema int    `json:"schema"`
	Kind   string `json:"kind"`
	// Query is what every prediction shares.
	Query Query `json:"query"`
	// Target is --detect-within: the most any OS may take, from the fault
	// to the detection, in the worst case (AfterFault.Max).
	Target time.Duration `json:"target_ns"`
	// Search is the space that was searched.
	Search SearchSpace `json:"search"`
	// Suggestions are the settings that fit, best first. #1 is the best:
	// fewest probes per idle hour on the busiest OS, then the largest count,
	// then the largest idle, then the smallest worst case. Each next one is
	// the best at a higher probe rate that buys a larger count than all
	// before it: the trade-off between probes and robustness. Empty (not
	// null) when nothing fits.
	Suggestions []Suggestion `json:"suggestions"`
	// Tightest is, when nothing fits, the fastest settings in the search
	// space (1s/1s/the smallest count) and how long they take; absent
	// otherwise.
	Tightest *Suggestion `json:"tightest,omitempty"`
	// Results describes the --results files read; absent without them.
	Results *ResultsRead `json:"results,omitempty"`
}

// SearchSpace is what Search tried: whole seconds for idle and interval,
// and the counts every listed OS accepts.
type SearchSpace struct {
	// MaxIdle and MaxInterval bound idle and interval, searched in whole
	// seconds from 1 s: the target, capped by the OSes' limits.
	MaxIdle     time.Duration `json:"max_idle_ns"`
	MaxInterval time.Duration `json:"max_interval_ns"`
	// MinCount..MaxCount is the count range: every listed OS's limits
	// (exactly 10 with a Windows before build 15063) and --min-count.
	MinCount int `json:"min_count"`
	MaxCount int `json:"max_count"`
	// Modelled is how many settings were run through the model (the rest
	// were ruled out by bounds).
	Modelled int `json:"modelled"`
}

// Suggestion is one set of settings with every OS's answer.
type Suggestion struct {
	// Settings are what to configure, in whole seconds.
	Settings keepalive.Settings `json:"settings"`
	// ProbesPerHour is the busiest OS's OSModel.ProbesPerHour: the most
	// probe packets any listed OS sends per idle hour.
	ProbesPerHour float64 `json:"probes_per_idle_hour"`
	// Worst is the largest AfterFault.Max over the OSes: the worst-case
	// detection after the fault.
	Worst time.Duration `json:"worst_after_fault_ns"`
	// Spare is Target − Worst (negative for a Tightest that misses).
	Spare time.Duration `json:"spare_ns"`
	// ConstrainedBy names the OSes whose worst case equals Worst, the ones
	// closest to the target, which limit the choice.
	ConstrainedBy []string `json:"constrained_by"`
	// OSes are the per-OS answers, in the order of Query.Platforms.
	OSes []OSModel `json:"oses"`
}

// MaxTarget is the largest --detect-within Search takes.
const MaxTarget = 2 * time.Hour

// searcher evaluates candidates and counts them.
type searcher struct {
	q        Query
	target   time.Duration
	linux    bool // q models Linux
	modelled int
}

// eval models s on every platform.
func (e *searcher) eval(s keepalive.Settings) (Suggestion, error) {
	e.modelled++
	sg := Suggestion{Settings: s}
	for _, p := range e.q.Platforms {
		m, err := model(e.q, p, s)
		if err != nil {
			return Suggestion{}, err
		}
		sg.OSes = append(sg.OSes, m)
		sg.ProbesPerHour = max(sg.ProbesPerHour, m.ProbesPerHour)
		sg.Worst = max(sg.Worst, m.Prediction.AfterFault.Max)
	}
	sg.Spare = e.target - sg.Worst
	for _, m := range sg.OSes {
		if m.Prediction.AfterFault.Max == sg.Worst {
			sg.ConstrainedBy = append(sg.ConstrainedBy, m.Name)
		}
	}
	return sg, nil
}

// better is the ranking: fewer probes per idle hour, then a larger count
// (robust to single losses), then a larger idle, then a smaller worst
// case, then a smaller interval.
func better(a, b Suggestion) bool {
	switch {
	case a.ProbesPerHour != b.ProbesPerHour:
		return a.ProbesPerHour < b.ProbesPerHour
	case a.Settings.Count != b.Settings.Count:
		return a.Settings.Count > b.Settings.Count
	case a.Settings.Idle != b.Settings.Idle:
		return a.Settings.Idle > b.Settings.Idle
	case a.Worst != b.Worst:
		return a.Worst < b.Worst
	}
	return a.Settings.Interval < b.Settings.Interval
}

// CountRange is the probe count every platform accepts, from minCount up.
func CountRange(ps []keepalive.Platform, minCount int) (lo, hi int, err error) {
	lo, hi = max(1, minCount), 1<<31-1
	for _, p := range ps {
		l, err := keepalive.LimitsFor(p)
		if err != nil {
			return 0, 0, err
		}
		if !l.CountSettable {
			if l.FixedCount < lo {
				return 0, 0, fmt.Errorf("--min-count %d: %s fixes the count at %d (TCP_KEEPCNT arrives in build %d); lower --min-count or give a newer --windows-build",
					minCount, displayPlatform(p), l.FixedCount, keepalive.WindowsBuildKeepCnt)
			}
			lo, hi = l.FixedCount, l.FixedCount
			continue
		}
		if l.MaxCount < lo {
			return 0, 0, fmt.Errorf("--min-count %d: %s allows at most %d probes", minCount, displayPlatform(p), l.MaxCount)
		}
		lo, hi = max(lo, l.MinCount), min(hi, l.MaxCount)
	}
	return lo, hi, nil
}

// Search finds settings whose AfterFault.Max is at most target on every
// platform of q: idle and interval in whole seconds from 1 s, count in
// CountRange, ranked by better. It returns the best (#1) and then the
// trade-off behind it: each next suggestion is the best at a higher probe
// rate that buys a larger count than every suggestion before it (anything
// else at a higher rate is only less robust, or only faster than needed).
//
// Detection grows with idle, interval and count, and the probe rate falls
// as idle grows, so the search walks idle down from the largest that fits
// (found by bisection with interval 1 s and the smallest count). At each
// idle it takes, per interval, the largest count that fits (galloping up
// from the count that fitted at the previous idle, then bisecting), and
// stops at the interval whose count bound (target − idle) / interval is
// below the best count so far. The walk ends when top suggestions are held
// and the next idle sends more probes than the last, or when the last has
// the largest count allowed. When nothing fits, Tightest says how close
// 1s/1s/the smallest count gets.
func Search(q Query, target time.Duration, minCount, top int) (Advice, error) {
	if q.Mode == keepalive.ModeListenerGoDefault {
		return Advice{}, fmt.Errorf("--mode %s with --detect-within: Go re-applies %s to every accepted socket whatever is set, so there is nothing to choose; "+
			"drop --detect-within to see that window, or use --mode listener or per-connection", q.Mode, keepalive.GoDefault.Short())
	}
	if target <= 0 || target > MaxTarget {
		return Advice{}, fmt.Errorf("--detect-within %s: allowed a positive duration up to %s, e.g. 10s", target, MaxTarget)
	}
	top = max(1, top)
	lo, hi, err := CountRange(q.Platforms, minCount)
	if err != nil {
		return Advice{}, err
	}
	maxSec := int64(target / time.Second)
	for _, p := range q.Platforms {
		l, err := keepalive.LimitsFor(p)
		if err != nil {
			return Advice{}, err
		}
		maxSec = min(maxSec, int64(l.MaxIdle/time.Second), int64(l.MaxInterval/time.Second))
	}
	a := Advice{Schema: Schema, Kind: "advice", Query: q, Target: target, Suggestions: []Suggestion{},
		Search: SearchSpace{MaxIdle: time.Duration(maxSec) * time.Second, MaxInterval: time.Duration(maxSec) * time.Second, MinCount: lo, MaxCount: hi}}
	e := &searcher{q: q, target: target, linux: hasLinux(q)}
	best, err := e.search(maxSec, lo, hi, top)
	if err != nil {
		return Advice{}, err
	}
	a.Search.Modelled = e.modelled
	if len(best) == 0 {
		t, err := e.eval(settingsOf(1, 1, lo))
		if err != nil {
			return Advice{}, err
		}
		t = explainAll(q, t)
		a.Tightest = &t
		return a, nil
	}
	for _, s := range best {
		a.Suggestions = append(a.Suggestions, explainAll(q, s))
	}
	return a, nil
}

// settingsOf builds whole-second settings.
func settingsOf(idle, intvl int64, count int) keepalive.Settings {
	return keepalive.Settings{Idle: time.Duration(idle) * time.Second, Interval: time.Duration(intvl) * time.Second, Count: count}
}

// search is Search's walk; it returns at most top suggestions, best first.
func (e *searcher) search(maxSec int64, lo, hi, top int) ([]Suggestion, error) {
	fits := func(idle, intvl int64, c int) (Suggestion, bool, error) {
		s, err := e.eval(settingsOf(idle, intvl, c))
		return s, err == nil && s.Worst <= e.target, err
	}
	if maxSec < 1 {
		return nil, nil
	}
	if _, ok, err := fits(1, 1, lo); err != nil || !ok {
		return nil, err
	}
	// The largest idle that fits at all (with 1 s and the smallest count).
	l, h := int64(1), maxSec
	for l < h {
		mid := (l + h + 1) / 2
		_, ok, err := fits(mid, 1, lo)
		if err != nil {
			return nil, err
		}
		if ok {
			l = mid
		} else {
			h = mid - 1
		}
	}
	var front []Suggestion  // the trade-off: probes and count both rising
	hint := map[int64]int{} // per interval, the count that fitted at the last idle
	for idle := l; idle >= 1; idle-- {
		best, found, err := e.bestAt(idle, maxSec, lo, hi, hint, fits)
		if err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		n := len(front)
		switch {
		case n > 0 && best.ProbesPerHour == front[n-1].ProbesPerHour:
			if better(best, front[n-1]) {
				front[n-1] = best
			}
		case n >= top || (n > 0 && front[n-1].Settings.Count >= hi):
			return front[:min(n, top)], nil // more probes buy nothing more
		case n == 0 || best.Settings.Count > front[n-1].Settings.Count:
			front = append(front, best)
		}
	}
	return front[:min(len(front), top)], nil
}

// bestAt is the best suggestion with this idle: per interval the largest
// count that fits, from the interval's hint up.
func (e *searcher) bestAt(idle, maxSec int64, lo, hi int, hint map[int64]int,
	fits func(idle, intvl int64, c int) (Suggestion, bool, error)) (Suggestion, bool, error) {
	var best Suggestion
	found := false
	for intvl := int64(1); intvl <= maxSec; intvl++ {
		// Every OS needs idle + count × interval ≤ FromT0.Min ≤ target,
		// Linux max(idle, interval) + count × interval (it re-arms at the
		// interval), which bounds the count.
		least := idle
		if e.linux {
			least = max(idle, intvl)
		}
		room := e.target - time.Duration(least)*time.Second
		cMax := int(min(int64(hi), int64(room/(time.Duration(intvl)*time.Second))))
		if cMax < lo || (found && cMax < best.Settings.Count) {
			break
		}
		c0 := min(max(lo, hint[intvl]), cMax)
		s, ok, err := fits(idle, intvl, c0)
		if err == nil && !ok && c0 > lo {
			c0 = lo
			s, ok, err = fits(idle, intvl, c0)
		}
		if err != nil {
			return Suggestion{}, false, err
		}
		if !ok {
			break // a longer interval only detects later
		}
		cl, ch := c0, cMax // invariant: count cl fits
		for step := 1; cl < ch; step *= 2 {
			next := min(ch, cl+step)
			c, ok, err := fits(idle, intvl, next)
			if err != nil {
				return Suggestion{}, false, err
			}
			if !ok {
				ch = next - 1
				break
			}
			cl, s = next, c
		}
		for cl < ch {
			mid := (cl + ch + 1) / 2
			c, ok, err := fits(idle, intvl, mid)
			if err != nil {
				return Suggestion{}, false, err
			}
			if ok {
				cl, s = mid, c
			} else {
				ch = mid - 1
			}
		}
		hint[intvl] = cl
		if !found || better(s, best) {
			best, found = s, true
		}
	}
	return best, found, nil
}

// explainAll adds every OS's quirks to a suggestion.
func explainAll(q Query, s Suggestion) Suggestion {
	oses := make([]OSModel, len(s.OSes))
	for i, m := range s.OSes {
		oses[i] = explain(q, m)
	}
	s.OSes = oses
	return s
}
