package advise

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

const (
	ms  = time.Millisecond
	sec = time.Second
)

var (
	linux   = keepalive.Platform{OS: "linux"}
	windows = keepalive.Platform{OS: "windows"}
	macos   = keepalive.Platform{OS: "darwin"}
	all3    = []keepalive.Platform{linux, windows, macos}
)

func query(mode keepalive.Mode, hz int, ps ...keepalive.Platform) Query {
	return Query{Platforms: ps, Mode: mode, Phase: keepalive.PhaseCycling, HZ: hz, HZSource: "from --hz"}
}

func st(idle, intvl time.Duration, count int) keepalive.Settings {
	return keepalive.Settings{Idle: idle, Interval: intvl, Count: count}
}

func codes(qs []Quirk) []string {
	var out []string
	for _, q := range qs {
		out = append(out, q.Code)
	}
	return out
}

// TestPredict: the model's windows, the applied settings and the quirks,
// per OS and mode (docs/keepalive-models.md §3, §5, §6, §8).
func TestPredict(t *testing.T) {
	for _, tc := range []struct {
		name        string
		p           keepalive.Platform
		mode        keepalive.Mode
		s           keepalive.Settings
		hz          int
		uto         time.Duration
		applied     keepalive.Settings
		fromT0      keepalive.Window
		afterFault  keepalive.Window
		probes      int
		quirks      []string
		probesPerHr float64
	}{
		{name: "linux 1/1/3 at HZ=250 dies 4.096 s after the last ACK", p: linux, mode: keepalive.ModeListener, s: st(sec, sec, 3), hz: 250,
			applied: st(sec, sec, 3), fromT0: keepalive.Window{Min: 4096 * ms, Max: 4096 * ms}, afterFault: keepalive.Window{Min: 3072 * ms, Max: 4096 * ms},
			probes: 3, quirks: nil, probesPerHr: 3600.0 / 1.024},
		{name: "linux 1/3/10 re-arms at the interval", p: linux, mode: keepalive.ModeListener, s: st(sec, 3*sec, 10), hz: 250,
			applied: st(sec, 3*sec, 10), fromT0: keepalive.Window{Min: 33792 * ms, Max: 33792 * ms}, afterFault: keepalive.Window{Min: 30720 * ms, Max: 33792 * ms},
			probes: 10, quirks: []string{QuirkLinuxRearm}, probesPerHr: 3600.0 / 3.072},
		{name: "linux user timeout replaces the count", p: linux, mode: keepalive.ModePerConn, s: st(sec, sec, 3), hz: 250, uto: 5 * sec,
			applied: st(sec, sec, 3), fromT0: keepalive.Window{Min: 5120 * ms, Max: 5120 * ms}, afterFault: keepalive.Window{Min: 4096 * ms, Max: 5120 * ms},
			probes: 4, quirks: []string{QuirkLinuxUserTimeout}, probesPerHr: 3600.0 / 1.024},
		{name: "windows 1/1/10 holds the published 10.3 s", p: windows, mode: keepalive.ModeListener, s: st(sec, sec, 10),
			applied: st(sec, sec, 10), fromT0: keepalive.Window{Min: 11 * sec, Max: 11500 * ms}, afterFault: keepalive.Window{Min: 10 * sec, Max: 11500 * ms},
			probes: 10, quirks: []string{QuirkWindowsBuildUnknown, QuirkTimerUnmeasured}, probesPerHr: 3600},
		{name: "windows before 1703 fixes the count at 10", p: keepalive.Platform{OS: "windows", Build: 14393}, mode: keepalive.ModeListener, s: st(sec, sec, 3),
			applied: st(sec, sec, 10), fromT0: keepalive.Window{Min: 11 * sec, Max: 11500 * ms}, afterFault: keepalive.Window{Min: 10 * sec, Max: 11500 * ms},
			probes: 10, quirks: []string{QuirkCountFixed, QuirkWindowsSIO, QuirkTimerUnmeasured}, probesPerHr: 3600},
		{name: "macos listener loses idle", p: macos, mode: keepalive.ModeListener, s: st(sec, sec, 3),
			applied: st(2*time.Hour, sec, 3), fromT0: keepalive.Window{Min: 7203 * sec, Max: 7203*sec + 500*ms}, afterFault: keepalive.Window{Min: 3 * sec, Max: 7203*sec + 500*ms},
			probes: 3, quirks: []string{QuirkListenerIdle, QuirkTimerUnmeasured}, probesPerHr: 0.5},
		{name: "macos per-connection keeps idle", p: macos, mode: keepalive.ModePerConn, s: st(sec, sec, 3),
			applied: st(sec, sec, 3), fromT0: keepalive.Window{Min: 4 * sec, Max: 4500 * ms}, afterFault: keepalive.Window{Min: 3 * sec, Max: 4500 * ms},
			probes: 3, quirks: []string{QuirkTimerUnmeasured}, probesPerHr: 3600},
		{name: "Go's default accept path re-applies 15/15/9", p: linux, mode: keepalive.ModeListenerGoDefault, s: st(sec, sec, 3), hz: 250,
			applied: keepalive.GoDefault, probes: 9, quirks: []string{QuirkGoDefault}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := query(tc.mode, tc.hz, tc.p)
			q.UserTimeout = tc.uto
			m, err := Predict(q, tc.s)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.OSes) != 1 {
				t.Fatalf("%d OS answers, want 1", len(m.OSes))
			}
			o := m.OSes[0]
			if o.Applied != tc.applied {
				t.Errorf("applied %s, want %s", o.Applied.Short(), tc.applied.Short())
			}
			if tc.fromT0 != (keepalive.Window{}) && (o.Prediction.FromT0 != tc.fromT0 || o.Prediction.AfterFault != tc.afterFault) {
				t.Errorf("from T0 %s, after the fault %s; want %s, %s", o.Prediction.FromT0, o.Prediction.AfterFault, tc.fromT0, tc.afterFault)
			}
			if o.Prediction.Probes != tc.probes {
				t.Errorf("%d probes, want %d", o.Prediction.Probes, tc.probes)
			}
			if got := codes(o.Quirks); !slices.Equal(got, tc.quirks) {
				t.Errorf("quirks %v, want %v", got, tc.quirks)
			}
			if tc.probesPerHr != 0 && (o.ProbesPerHour < tc.probesPerHr-0.01 || o.ProbesPerHour > tc.probesPerHr+0.01) {
				t.Errorf("%.2f probes per idle hour, want %.2f", o.ProbesPerHour, tc.probesPerHr)
			}
		})
	}
}

// TestPredictRejects: what an OS refuses is an error naming the flag, the
// value and what is allowed; what old Windows ignores is not.
func TestPredictRejects(t *testing.T) {
	for _, tc := range []struct {
		ps   []keepalive.Platform
		s    keepalive.Settings
		want []string
	}{
		{all3, st(sec, sec, 200), []string{"--count 200", "linux", "1..127"}},
		{[]keepalive.Platform{linux}, st(1500*ms, sec, 3), []string{"--idle 1.5s", "whole multiples of 1s"}},
		{[]keepalive.Platform{linux}, st(40000*sec, sec, 3), []string{"--idle", "1s..9h6m7s"}},
	} {
		_, err := Predict(query(keepalive.ModeListener, 250, tc.ps...), tc.s)
		if err == nil {
			t.Errorf("%s on %v: no error", tc.s, tc.ps)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tc.s, err, w)
			}
		}
	}
	if _, err := Predict(query(keepalive.ModeListener, 250, keepalive.Platform{OS: "windows", Build: 14393}), st(sec, sec, 3)); err != nil {
		t.Errorf("old Windows ignores the count, which is a quirk, not an error: %v", err)
	}
}

// TestSearch: suggestions fit the target on every OS (AfterFault.Max, the
// worst case), #1 is the best by the ranking and the rest trade probes for
// count; nothing fitting gives the tightest settings.
func TestSearch(t *testing.T) {
	for _, tc := range []struct {
		name     string
		q        Query
		target   time.Duration
		minCount int
		first    keepalive.Settings // zero: nothing fits
		tightest keepalive.Settings
		by       []string
		quirk    string // expected on some OS of the first answer
	}{
		{name: "10s on three OSes", q: query(keepalive.ModePerConn, 250, all3...), target: 10 * sec, minCount: 1,
			first: st(8*sec, sec, 1), by: []string{"windows", "macos"}},
		{name: "10s, at least 3 probes", q: query(keepalive.ModePerConn, 250, all3...), target: 10 * sec, minCount: 3,
			first: st(6*sec, sec, 3), by: []string{"windows", "macos"}},
		{name: "10s on Linux alone", q: query(keepalive.ModeListener, 250, linux), target: 10 * sec, minCount: 3,
			first: st(6*sec, sec, 3), by: []string{"linux"}},
		{name: "30s: the timer wheel makes Linux constrain", q: query(keepalive.ModePerConn, 250, all3...), target: 30 * sec, minCount: 1,
			first: st(28*sec, sec, 1), by: []string{"linux"}},
		{name: "old Windows: count 10 only", q: query(keepalive.ModePerConn, 250, linux, keepalive.Platform{OS: "windows", Build: 14393}), target: 60 * sec, minCount: 1,
			first: st(49*sec, sec, 10), by: []string{"windows"}},
		{name: "nothing fits 1s", q: query(keepalive.ModePerConn, 250, all3...), target: sec, minCount: 1,
			tightest: st(sec, sec, 1), by: []string{"windows", "macos"}},
		{name: "macOS listener keeps 2 h", q: query(keepalive.ModeListener, 250, all3...), target: 10 * sec, minCount: 1,
			tightest: st(sec, sec, 1), by: []string{"macos"}, quirk: QuirkListenerIdle},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Search(tc.q, tc.target, tc.minCount, 3)
			if err != nil {
				t.Fatal(err)
			}
			if tc.first == (keepalive.Settings{}) {
				if len(a.Suggestions) != 0 || a.Tightest == nil {
					t.Fatalf("want nothing to fit, got %d suggestions", len(a.Suggestions))
				}
				if a.Tightest.Settings != tc.tightest || a.Tightest.Worst <= tc.target || a.Tightest.Spare >= 0 {
					t.Errorf("tightest %s worst %s spare %s; want %s over %s", a.Tightest.Settings.Short(), a.Tightest.Worst, a.Tightest.Spare, tc.tightest.Short(), tc.target)
				}
				if !slices.Equal(a.Tightest.ConstrainedBy, tc.by) {
					t.Errorf("constrained by %v, want %v", a.Tightest.ConstrainedBy, tc.by)
				}
				checkQuirk(t, a.Tightest.OSes, tc.quirk)
				return
			}
			if len(a.Suggestions) == 0 {
				t.Fatal("nothing fits")
			}
			if got := a.Suggestions[0].Settings; got != tc.first {
				t.Errorf("#1 is %s, want %s", got.Short(), tc.first.Short())
			}
			if got := a.Suggestions[0].ConstrainedBy; !slices.Equal(got, tc.by) {
				t.Errorf("#1 constrained by %v, want %v", got, tc.by)
			}
			checkQuirk(t, a.Suggestions[0].OSes, tc.quirk)
			for i, s := range a.Suggestions {
				if len(s.OSes) != len(tc.q.Platforms) {
					t.Errorf("#%d answers for %d OSes, want %d", i+1, len(s.OSes), len(tc.q.Platforms))
				}
				for _, o := range s.OSes {
					if o.Prediction.AfterFault.Max > tc.target {
						t.Errorf("#%d %s: %s worst case %s > %s", i+1, s.Settings.Short(), o.Name, o.Prediction.AfterFault.Max, tc.target)
					}
				}
				if s.Settings.Count < tc.minCount || s.Settings.Idle%sec != 0 || s.Settings.Interval%sec != 0 {
					t.Errorf("#%d %s: not whole seconds with count ≥ %d", i+1, s.Settings.Short(), tc.minCount)
				}
				if i > 0 {
					p := a.Suggestions[i-1]
					if s.ProbesPerHour <= p.ProbesPerHour || s.Settings.Count <= p.Settings.Count {
						t.Errorf("#%d %s does not trade more probes for a larger count than #%d %s", i+1, s.Settings.Short(), i, p.Settings.Short())
					}
				}
			}
		})
	}
}

func checkQuirk(t *testing.T, oses []OSModel, code string) {
	t.Helper()
	if code == "" {
		return
	}
	for _, o := range oses {
		if slices.Contains(codes(o.Quirks), code) {
			return
		}
	}
	t.Errorf("no OS has quirk %s", code)
}

// TestSearchMatchesBruteForce: the pruned walk returns what trying every
// idle, interval and count returns.
func TestSearchMatchesBruteForce(t *testing.T) {
	if testing.Short() {
		t.Skip("brute force is slow")
	}
	for _, tc := range []struct {
		q      Query
		target time.Duration
		lo     int
	}{
		{query(keepalive.ModePerConn, 250, all3...), 10 * sec, 1},
		{query(keepalive.ModePerConn, 250, all3...), 17 * sec, 2},
		{query(keepalive.ModeListener, 250, linux), 13 * sec, 1},
		{query(keepalive.ModeListener, 1000, linux), 19 * sec, 1},
		{query(keepalive.ModeListener, 0, linux), 12 * sec, 1},
		{query(keepalive.ModeListener, 100, linux, windows), 15 * sec, 3},
		{query(keepalive.ModePerConn, 250, windows, macos), 14 * sec, 1},
		{query(keepalive.ModePerConn, 250, linux, windows, macos), 24 * sec, 2},
	} {
		a, err := Search(tc.q, tc.target, tc.lo, 3)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range a.Suggestions {
			got = append(got, s.Settings.Short())
		}
		want := bruteForce(t, tc.q, tc.target, tc.lo, 3)
		if !slices.Equal(got, want) {
			t.Errorf("%v within %s (hz %d, count ≥ %d): search %v, brute force %v", tc.q.Platforms, tc.target, tc.q.HZ, tc.lo, got, want)
		}
	}
}

// bruteForce models every setting up to the target and keeps #1 and the
// probe/count trade-off behind it.
func bruteForce(t *testing.T, q Query, target time.Duration, minCount, top int) []string {
	t.Helper()
	lo, hi, err := CountRange(q.Platforms, minCount)
	if err != nil {
		t.Fatal(err)
	}
	e := &searcher{q: q, target: target}
	n := int64(target / sec)
	var fit []Suggestion
	for idle := int64(1); idle <= n; idle++ {
		for intvl := int64(1); intvl <= n; intvl++ {
			for c := lo; c <= min(hi, int(n)); c++ {
				s, err := e.eval(settingsOf(idle, intvl, c))
				if err != nil {
					t.Fatal(err)
				}
				if s.Worst <= target {
					fit = append(fit, s)
				}
			}
		}
	}
	slices.SortStableFunc(fit, func(a, b Suggestion) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
	var front []Suggestion
	for _, s := range fit {
		if n := len(front); n == 0 || (s.ProbesPerHour > front[n-1].ProbesPerHour && s.Settings.Count > front[n-1].Settings.Count) {
			front = append(front, s)
		}
	}
	var out []string
	for i, s := range front {
		if i == top {
			break
		}
		out = append(out, s.Settings.Short())
	}
	return out
}

// TestCompare: the measured medians of matching runs beside the model, from
// the Linux lab's quick experiment; other OSes and settings have no runs.
func TestCompare(t *testing.T) {
	rs, rr, err := ReadResults([]string{"../../testdata/linux-lab-quick.jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	if rr.Runs != 6 {
		t.Fatalf("read %d runs, want 6", rr.Runs)
	}
	for _, tc := range []struct {
		name             string
		q                Query
		s                keepalive.Settings
		runs             int
		after, t0, other time.Duration
	}{
		{"linux 1/1/3 listener: the two drops", query(keepalive.ModeListener, 250, linux), st(sec, sec, 3), 2,
			(3633328219 + 3633569138) / 2, (4095986970 + 4096047574) / 2, 0},
		{"linux 1/1/3 per-connection: another mode", query(keepalive.ModePerConn, 250, linux), st(sec, sec, 3), 0, 0, 0, 0},
		{"linux 1/3/10: other settings", query(keepalive.ModeListener, 250, linux), st(sec, 3*sec, 10), 0, 0, 0, 0},
		{"windows 1/1/3: another OS", query(keepalive.ModeListener, 250, windows), st(sec, sec, 3), 0, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Predict(tc.q, tc.s)
			if err != nil {
				t.Fatal(err)
			}
			CompareModel(&m, rs, rr)
			got := m.OSes[0].Measured
			if got == nil || got.Runs != tc.runs {
				t.Fatalf("measured %+v, want %d runs", got, tc.runs)
			}
			if tc.runs == 0 {
				if got.AfterFault != nil || measuredLine(got) != "no runs" {
					t.Errorf("no runs expected, got %+v (%q)", got, measuredLine(got))
				}
				return
			}
			if got.AfterFault == nil || got.AfterFault.Median != tc.after || got.AfterFault.N != tc.runs {
				t.Errorf("after the fault %+v, want median %s over %d", got.AfterFault, tc.after, tc.runs)
			}
			if got.FromT0 == nil || got.FromT0.Median != tc.t0 {
				t.Errorf("from T0 %+v, want median %s", got.FromT0, tc.t0)
			}
			if got.Fixture || !slices.Equal(got.HZ, []int{250}) {
				t.Errorf("fixture %v, HZ %v; want measured at 250", got.Fixture, got.HZ)
			}
			if line := measuredLine(got); !strings.Contains(line, "after the fault median 3.633 s (n=2") {
				t.Errorf("measured line %q", line)
			}
		})
	}
}

// TestCompareFixtures: fixture results are labelled, never counted as
// measurements.
func TestCompareFixtures(t *testing.T) {
	rs, rr, err := ReadResults([]string{"../../testdata/windows-fixture.jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Predict(query(keepalive.ModeListener, 250, windows), st(sec, sec, 3))
	if err != nil {
		t.Fatal(err)
	}
	CompareModel(&m, rs, rr)
	got := m.OSes[0].Measured
	if !got.Fixture || got.AfterFault == nil || got.AfterFault.N != 3 || !strings.HasPrefix(measuredLine(got), "fixture runs only") {
		t.Errorf("measured %+v (%q): want 3 fixture runs, labelled", got, measuredLine(got))
	}
}

// TestJSONShape: the documented keys of both documents.
func TestJSONShape(t *testing.T) {
	m, err := Predict(query(keepalive.ModeListener, 250, linux, windows), st(sec, sec, 3))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	decode(t, m, &doc)
	wantKeys(t, "model", doc, "schema", "kind", "query", "requested", "oses")
	if doc["kind"] != "model" || doc["schema"] != float64(Schema) {
		t.Errorf("kind %v schema %v", doc["kind"], doc["schema"])
	}
	if _, ok := doc["results"]; ok {
		t.Error("results present without --results")
	}
	wantKeys(t, "query", doc["query"].(map[string]any), "platforms", "mode", "phase", "hz", "hz_source")
	o := doc["oses"].([]any)[0].(map[string]any)
	wantKeys(t, "oses[0]", o, "name", "platform", "requested", "applied", "prediction", "probes_per_idle_hour", "quirks")
	if _, ok := o["measured"]; ok {
		t.Error("measured present without --results")
	}
	if q, ok := o["quirks"].([]any); !ok || len(q) != 0 {
		t.Errorf("linux quirks = %v, want []", o["quirks"])
	}
	pr := o["prediction"].(map[string]any)
	wantKeys(t, "prediction", pr, "from_t0", "after_fault", "cycle", "probes", "rule", "hz")
	if af := pr["after_fault"].(map[string]any); af["max"] != float64(4096*ms) {
		t.Errorf("after_fault.max = %v, want %d (nanoseconds)", af["max"], 4096*ms)
	}
	wq := doc["oses"].([]any)[1].(map[string]any)["quirks"].([]any)[0].(map[string]any)
	wantKeys(t, "quirk", wq, "code", "text")

	a, err := Search(query(keepalive.ModePerConn, 250, all3...), 10*sec, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	decode(t, a, &doc)
	wantKeys(t, "advice", doc, "schema", "kind", "query", "target_ns", "search", "suggestions")
	wantKeys(t, "search", doc["search"].(map[string]any), "max_idle_ns", "max_interval_ns", "min_count", "max_count", "modelled")
	s := doc["suggestions"].([]any)[0].(map[string]any)
	wantKeys(t, "suggestion", s, "settings", "probes_per_idle_hour", "worst_after_fault_ns", "spare_ns", "constrained_by", "oses")
	if _, ok := doc["tightest"]; ok {
		t.Error("tightest present although settings fit")
	}

	none, err := Search(query(keepalive.ModePerConn, 250, all3...), sec, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(none)
	if !bytes.Contains(b, []byte(`"suggestions":[]`)) || !bytes.Contains(b, []byte(`"tightest":{`)) {
		t.Errorf("nothing fits: want suggestions [] and a tightest, got %s", b)
	}
}

func decode(t *testing.T, v any, into *map[string]any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	*into = nil
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatal(err)
	}
}

func wantKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s has no %q: %v", what, k, m)
		}
	}
}

// TestRunErrors: every flag error names the flag, the value and the fix.
func TestRunErrors(t *testing.T) {
	ok := Request{OS: "linux", Mode: "listener", HZ: 250, HZSet: true, Idle: sec, Interval: sec, Count: 3, IdleSet: true, IntervalSet: true, CountSet: true, MinCount: 1, Top: 3}
	for _, tc := range []struct {
		edit func(*Request)
		want []string
	}{
		{func(r *Request) { r.OS = "linux,freebsd" }, []string{"--os", "freebsd", "linux, windows, macos"}},
		{func(r *Request) { r.Mode = "inherit" }, []string{"--mode", "inherit", "per-connection"}},
		{func(r *Request) { r.HZ = -5 }, []string{"--hz -5", "250"}},
		{func(r *Request) { r.CountSet = false }, []string{"--count is required", "--detect-within"}},
		{func(r *Request) { r.Idle = 0 }, []string{"--idle 0s", "positive"}},
		{func(r *Request) { r.WindowsBuild = 14393 }, []string{"--windows-build 14393", "--os"}},
		{func(r *Request) { r.WindowsBuild = 42; r.OS = "windows" }, []string{"--windows-build 42", "6000"}},
		{func(r *Request) { r.UserTimeout = -sec }, []string{"--user-timeout", "milliseconds"}},
		{func(r *Request) { r.DetectWithin = 10 * sec }, []string{"--idle cannot be combined with --detect-within"}},
		{func(r *Request) { r.SearchFlagsSet = true }, []string{"--min-count", "--detect-within"}},
		{func(r *Request) {
			r.IdleSet, r.IntervalSet, r.CountSet, r.DetectWithin, r.Mode = false, false, false, 10*sec, "listener-go-default"
		}, []string{"--mode listener-go-default", "per-connection"}},
		{func(r *Request) {
			r.IdleSet, r.IntervalSet, r.CountSet, r.DetectWithin = false, false, false, 3*time.Hour
		}, []string{"--detect-within 3h0m0s", "2h0m0s"}},
		{func(r *Request) { r.Results = []string{"no-such.jsonl"} }, []string{"--results", "no-such.jsonl"}},
	} {
		r := ok
		tc.edit(&r)
		err := Run(&bytes.Buffer{}, &bytes.Buffer{}, r)
		if err == nil {
			t.Errorf("%+v: no error", r)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
	}
	if err := Run(&bytes.Buffer{}, &bytes.Buffer{}, ok); err != nil {
		t.Errorf("valid request: %v", err)
	}
}

// TestParseOSes: macos is darwin, each OS once, --windows-build on windows.
func TestParseOSes(t *testing.T) {
	ps, err := ParseOSes("linux, macOS,darwin,windows", 14393)
	if err != nil {
		t.Fatal(err)
	}
	want := []keepalive.Platform{linux, macos, {OS: "windows", Build: 14393}}
	if !slices.Equal(ps, want) {
		t.Errorf("got %v, want %v", ps, want)
	}
}

// TestSeconds: durations to the millisecond, with h/m/s from two minutes.
func TestSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{
		4096 * ms:                      "4.096 s",
		4 * sec:                        "4 s",
		4500 * ms:                      "4.5 s",
		3633448678:                     "3.633 s",
		7203*sec + 500*ms:              "7203.5 s (2h0m3.5s)",
		-1500 * ms:                     "−1.5 s",
		keepalive.GoDefault.Interval:   "15 s",
		keepalive.GoDefault.Idle * 9:   "135 s (2m15s)",
		time.Duration(0):               "0 s",
		time.Duration(999_999):         "0.001 s",
		time.Duration(2*time.Hour + 1): "7200 s (2h0m0s)",
	} {
		if got := Seconds(d); got != want {
			t.Errorf("Seconds(%d) = %q, want %q", d, got, want)
		}
	}
}

// TestImportRules: advise answers from the models and results only; it
// must not pull in the executor, the agent's roles or the daemon.
func TestImportRules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("skipping: the go command is not on PATH")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, bad := range []string{"internal/experiment", "internal/role", "internal/agentd"} {
		for _, dep := range strings.Fields(string(out)) {
			if dep == "github.com/kalab-dev/kalab/"+bad {
				t.Errorf("internal/advise depends on %s", bad)
			}
		}
	}
}
