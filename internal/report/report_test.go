package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const ms = time.Millisecond

// generated is the fixed clock the golden files are written with.
var generated = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func dur(d time.Duration) *time.Duration { return &d }
func intp(n int) *int                    { return &n }

func settings(idle, intvl time.Duration, cnt int) keepalive.Settings {
	return keepalive.Settings{Idle: idle, Interval: intvl, Count: cnt}
}

// effective is a fully read-back Effective with no user timeout.
func effective(s keepalive.Settings) keepalive.Effective {
	return keepalive.Effective{
		Enabled:  keepalive.Opt[bool]{Value: true, Known: true},
		Idle:     keepalive.Opt[time.Duration]{Value: s.Idle, Known: true},
		Interval: keepalive.Opt[time.Duration]{Value: s.Interval, Known: true},
		Count:    keepalive.Opt[int]{Value: s.Count, Known: true},
		// 0 = not set.
		UserTimeout:    keepalive.Opt[time.Duration]{Known: true},
		UserTimeoutOpt: "TCP_USER_TIMEOUT",
	}
}

func predict(t *testing.T, os string, s keepalive.Settings, hz int) *keepalive.Prediction {
	t.Helper()
	p, err := keepalive.Predict(keepalive.Platform{OS: os}, s, keepalive.PhaseCycling, keepalive.ModelOptions{HZ: hz})
	if err != nil {
		t.Fatal(err)
	}
	return &p
}

// sampleResults are synthetic runs covering every case the report handles:
// Linux flow drops passing at 4.096 s (the model at HZ=250), a host drop
// with a ping-loss anchor, a paused client never detected, a killed client
// detected after 3 ms with EOF, Go's default overwriting the listener's
// settings (a deviation), a failed emulated vm-pause, and a Windows fixture.
func sampleResults(t *testing.T) []results.Result {
	linux := results.Host{Name: "h1", OS: "linux", Arch: "amd64", OSVersion: "6.18.44", HZ: 250}
	client := results.Host{Name: "h2", OS: "linux", Arch: "amd64", OSVersion: "6.18.44", HZ: 250}
	s113, s1310 := settings(time.Second, time.Second, 3), settings(time.Second, 3*time.Second, 10)
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	n := 0
	base := func(run, kind, scope string, s keepalive.Settings, mode keepalive.Mode) results.Result {
		n++
		st := start.Add(time.Duration(n) * time.Minute)
		return results.Result{
			Schema: results.Schema, Experiment: "quick", Run: run, Cell: n, StartedAt: st, EndedAt: st.Add(20 * time.Second),
			Lab: true, Server: linux, Client: client, Requested: s, Mode: mode, Effective: effective(s),
			FaultKind: kind, FaultScope: scope, Expect: results.Expect(kind, ""), Outcome: results.OutcomePass,
		}
	}
	timedOut := func(r *results.Result, probes int) {
		r.Detected = true
		r.Err = "read tcp 198.18.0.1:7000->198.18.0.2:40000: read: connection timed out"
		r.Errno, r.ErrnoName, r.Probes = 110, "ETIMEDOUT", intp(probes)
	}

	var out []results.Result
	for i, af := range []time.Duration{3820 * ms, 3440 * ms, 3700 * ms} {
		r := base("quick-00"+string(rune('1'+i)), results.KindDrop, "flow", s113, keepalive.ModeListener)
		r.Rep = i
		r.Model = predict(t, "linux", s113, 250)
		r.Measured = results.Measured{FromT0: dur(4096 * ms), AfterFault: dur(af), Lateness: dur(0)}
		timedOut(&r, 3)
		r.Why = "detected inside the model window"
		out = append(out, r)
	}

	r := base("quick-004", results.KindDrop, "host", s1310, keepalive.ModeListener)
	r.Model = predict(t, "linux", s1310, 250)
	r.Measured = results.Measured{FromT0: dur(33792 * ms), AfterFault: dur(32330 * ms), AfterPingLoss: dur(31904 * ms), Lateness: dur(0)}
	timedOut(&r, 10)
	r.Why = "detected inside the model window"
	out = append(out, r)

	r = base("quick-005", results.KindPause, "", s113, keepalive.ModeListener)
	r.Model = predict(t, "linux", s113, 250)
	fault := r.StartedAt.Add(5 * time.Second)
	healed := fault.Add(6500 * ms)
	r.Anchors = results.Anchors{Fault: &fault, Healed: &healed}
	r.Probes = intp(0)
	r.Why = "not detected, as expected for a paused process"
	out = append(out, r)

	r = base("quick-006", results.KindKill, "", s113, keepalive.ModeListener)
	// The executor predicts and computes lateness for every run; for a kill
	// it is meaningless and must stay out of the group's lateness.
	r.Model = predict(t, "linux", s113, 250)
	r.Measured = results.Measured{FromT0: dur(1503 * ms), AfterFault: dur(3 * ms), Lateness: dur(1503*ms - 4096*ms)}
	r.Detected, r.Err, r.ErrnoName, r.Probes = true, "EOF", "EOF", intp(0)
	r.Why = "peer closed within 1 s"
	out = append(out, r)

	goDef := settings(15*time.Second, 15*time.Second, 9)
	r = base("quick-007", results.KindDrop, "flow", s113, keepalive.ModeListenerGoDefault)
	r.Effective = effective(goDef)
	r.Model = predict(t, "linux", goDef, 250)
	r.Measured = results.Measured{FromT0: dur(151040 * ms), AfterFault: dur(150200 * ms), Lateness: dur(0)}
	timedOut(&r, 9)
	r.Outcome, r.Why = results.OutcomeDeviation, "effective 15s/15s/9 | not the requested 1s/1s/3"
	out = append(out, r)

	r = base("quick-008", results.KindVMPause, "", s113, keepalive.ModeListener)
	r.Emulated = true
	r.Effective = keepalive.Effective{}
	r.Outcome = results.OutcomeFailed
	r.Failure = "client agent h2: apply fault vm-pause: nftables: operation not permitted"
	out = append(out, r)

	r = base("published-001", results.KindDrop, "host", s1310, keepalive.ModeListener)
	r.Experiment, r.Fixture, r.Lab = "published", true, false
	r.Server = results.Host{Name: "win1", OS: "windows", OSVersion: "10.0.19045", Build: 19045}
	r.Effective.UserTimeoutOpt = "TCP_MAXRT"
	r.Model = predict(t, "windows", s1310, 0)
	r.Measured = results.Measured{FromT0: dur(31 * time.Second), AfterFault: dur(30600 * ms), AfterPingLoss: dur(31200 * ms)}
	r.Detected, r.Err, r.Errno, r.ErrnoName = true, "wsarecv: A connection attempt failed", 10060, "WSAETIMEDOUT"
	r.Why = "detected inside the model window"
	out = append(out, r)
	return out
}

func build(t *testing.T) *Report {
	t.Helper()
	r := Build(sampleResults(t))
	r.Generated = generated
	return r
}

func TestBuildGroups(t *testing.T) {
	r := build(t)
	st := func(med, lo, hi time.Duration, n int) *Stats {
		return &Stats{Count: n, Median: med, Min: lo, Max: hi, P95: hi}
	}
	tests := []struct {
		id, label                     string
		runs                          int
		fromT0, afterFault, afterPing *Stats
		outcomes                      Outcomes
		effectiveStatus               []string
		errors                        []Tally
		modelFromT0                   *keepalive.Window
	}{
		{"G1", "Linux 6.18.44 1s/1s/3 (listener) drop flow [lab]", 3,
			st(4096*ms, 4096*ms, 4096*ms, 3), st(3700*ms, 3440*ms, 3820*ms, 3), nil,
			Outcomes{Pass: 3}, []string{EffectiveAsRequested}, []Tally{{"ETIMEDOUT", 3}},
			&keepalive.Window{Min: 4096 * ms, Max: 4096 * ms}},
		{"G2", "Linux 6.18.44 1s/1s/3 (listener) vm-pause [lab, emulated]", 1,
			nil, nil, nil, Outcomes{Failed: 1}, []string{EffectiveUnknown}, nil, nil},
		{"G3", "Linux 6.18.44 1s/1s/3 (listener) pause [lab]", 1,
			nil, nil, nil, Outcomes{Pass: 1}, []string{EffectiveAsRequested}, nil,
			&keepalive.Window{Min: 4096 * ms, Max: 4096 * ms}},
		{"G4", "Linux 6.18.44 1s/1s/3 (listener) kill [lab]", 1,
			st(1503*ms, 1503*ms, 1503*ms, 1), st(3*ms, 3*ms, 3*ms, 1), nil,
			Outcomes{Pass: 1}, []string{EffectiveAsRequested}, []Tally{{"EOF", 1}},
			&keepalive.Window{Min: 4096 * ms, Max: 4096 * ms}},
		{"G5", "Linux 6.18.44 1s/1s/3 (listener-go-default) drop flow [lab]", 1,
			st(151040*ms, 151040*ms, 151040*ms, 1), st(150200*ms, 150200*ms, 150200*ms, 1), nil,
			Outcomes{Deviation: 1}, []string{EffectiveDiffers}, []Tally{{"ETIMEDOUT", 1}},
			&keepalive.Window{Min: 151040 * ms, Max: 151040 * ms}},
		{"G6", "Linux 6.18.44 1s/3s/10 (listener) drop host [lab]", 1,
			st(33792*ms, 33792*ms, 33792*ms, 1), st(32330*ms, 32330*ms, 32330*ms, 1), st(31904*ms, 31904*ms, 31904*ms, 1),
			Outcomes{Pass: 1}, []string{EffectiveAsRequested}, []Tally{{"ETIMEDOUT", 1}},
			&keepalive.Window{Min: 33792 * ms, Max: 33792 * ms}},
		{"G7", "Windows 10 22H2 (10.0.19045) 1s/3s/10 (listener) drop host [fixture]", 1,
			st(31*time.Second, 31*time.Second, 31*time.Second, 1), st(30600*ms, 30600*ms, 30600*ms, 1), st(31200*ms, 31200*ms, 31200*ms, 1),
			Outcomes{Pass: 1}, []string{EffectiveAsRequested}, []Tally{{"WSAETIMEDOUT", 1}},
			&keepalive.Window{Min: 31 * time.Second, Max: 31500 * ms}},
	}
	if len(r.Groups) != len(tests) {
		t.Fatalf("%d groups, want %d: %v", len(r.Groups), len(tests), labels(r.Groups))
	}
	for i, tt := range tests {
		g := r.Groups[i]
		t.Run(tt.id, func(t *testing.T) {
			if g.ID != tt.id || g.Label != tt.label {
				t.Errorf("group %d = %s %q, want %s %q", i, g.ID, g.Label, tt.id, tt.label)
			}
			if g.Runs != tt.runs || len(g.RunIDs) != tt.runs {
				t.Errorf("runs = %d (%v), want %d", g.Runs, g.RunIDs, tt.runs)
			}
			for _, c := range []struct {
				name      string
				got, want *Stats
			}{{"from T0", g.FromT0, tt.fromT0}, {"after fault", g.AfterFault, tt.afterFault}, {"after ping loss", g.AfterPingLoss, tt.afterPing}} {
				if (c.got == nil) != (c.want == nil) || (c.got != nil && *c.got != *c.want) {
					t.Errorf("%s = %+v, want %+v", c.name, c.got, c.want)
				}
			}
			if g.Outcomes != tt.outcomes {
				t.Errorf("outcomes = %+v, want %+v", g.Outcomes, tt.outcomes)
			}
			var status []string
			for _, e := range g.Effective {
				status = append(status, e.Status)
			}
			if !slices.Equal(status, tt.effectiveStatus) {
				t.Errorf("effective status = %v, want %v", status, tt.effectiveStatus)
			}
			if !slices.Equal(g.Errors, tt.errors) {
				t.Errorf("errors = %v, want %v", g.Errors, tt.errors)
			}
			switch {
			case tt.modelFromT0 == nil && g.Model != nil:
				t.Errorf("model = %+v, want none", g.Model)
			case tt.modelFromT0 != nil && (g.Model == nil || g.Model.FromT0 != *tt.modelFromT0):
				t.Errorf("model = %+v, want from T0 %s", g.Model, tt.modelFromT0)
			}
		})
	}
	if r.Groups[3].Lateness != nil {
		t.Errorf("kill group has a lateness: %+v", r.Groups[3].Lateness)
	}
	if got := r.Groups[4].Effective[0].Why; !strings.Contains(got, "Go's default") {
		t.Errorf("Go default override not explained: %q", got)
	}
	if !slices.Equal(r.Experiments, []string{"published", "quick"}) {
		t.Errorf("experiments = %v", r.Experiments)
	}
}

func labels(gs []Group) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Label)
	}
	return out
}

func TestStats(t *testing.T) {
	tests := []struct {
		in   []time.Duration
		want *Stats
	}{
		{nil, nil},
		{[]time.Duration{5}, &Stats{1, 5, 5, 5, 5}},
		{[]time.Duration{9, 1, 5}, &Stats{3, 5, 1, 9, 9}},
		{[]time.Duration{4, 1, 2, 9}, &Stats{4, 3, 1, 9, 9}}, // even: mean of 2 and 4
		// Nearest rank: the 19th of 20 values is the 95th percentile.
		{[]time.Duration{20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, &Stats{20, 10, 1, 20, 19}},
	}
	for _, tt := range tests {
		got := stats(tt.in)
		if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
			t.Errorf("stats(%v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestFmtDur(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0 ms"},
		{250 * time.Microsecond, "0.250 ms"},
		{3 * ms, "3 ms"},
		{4096 * ms, "4.096 s"},
		{33792 * ms, "33.79 s"},
		{31 * time.Second, "31.00 s"},
		{7875 * time.Second, "7875 s"},
		{-96 * ms, "-96 ms"},
	}
	for _, tt := range tests {
		if got := fmtDur(tt.d); got != tt.want {
			t.Errorf("fmtDur(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestCompareEffective(t *testing.T) {
	s113 := settings(time.Second, time.Second, 3)
	partial := effective(s113)
	partial.Count = keepalive.Opt[int]{}
	off := effective(s113)
	off.Enabled.Value = false
	idle2h := effective(settings(2*time.Hour, time.Second, 3))
	tests := []struct {
		name   string
		sc     keepalive.Scenario
		e      keepalive.Effective
		status string
		diffs  []string
	}{
		{"as requested", "", effective(s113), EffectiveAsRequested, nil},
		{"go default", "", effective(goDefault), EffectiveDiffers,
			[]string{"idle 15s (requested 1s)", "interval 15s (requested 1s)", "count 9 (requested 3)"}},
		{"macOS idle", "", idle2h, EffectiveDiffers, []string{"idle 2h (requested 1s)"}},
		{"count unknown", "", partial, EffectiveUnknown, nil},
		{"nothing read", "", keepalive.Effective{}, EffectiveUnknown, nil},
		{"keepalive off", "", off, EffectiveDiffers, []string{"keepalive off"}},
		// A heartbeat run asks for keepalive off; the OS's defaults behind
		// it mean nothing.
		{"heartbeat off", keepalive.ScenarioHeartbeat, off, EffectiveOffAsIntended, nil},
		{"heartbeat on", keepalive.ScenarioHeartbeat, effective(s113), EffectiveDiffers,
			[]string{"keepalive on (the heartbeat scenario turns it off)"}},
		{"heartbeat unread", keepalive.ScenarioHeartbeat, keepalive.Effective{}, EffectiveUnknown, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, diffs := compareEffective(s113, tt.sc, tt.e)
			if status != tt.status || !slices.Equal(diffs, tt.diffs) {
				t.Errorf("got %s %q, want %s %q", status, diffs, tt.status, tt.diffs)
			}
		})
	}
	g := &Group{OS: "darwin", Mode: keepalive.ModeListener, Requested: s113}
	if why := explainDifference(g, idle2h, EffectiveDiffers); !strings.Contains(why, "macOS does not inherit idle") {
		t.Errorf("macOS idle not explained: %q", why)
	}
}

func TestReference(t *testing.T) {
	r := build(t)
	want := []struct {
		settings                              keepalive.Settings
		published, windows, linux, linuxHZ250 time.Duration
	}{
		{settings(time.Second, 3*time.Second, 10), 31200 * ms, 31 * time.Second, 33 * time.Second, 33792 * ms},
		{settings(time.Second, time.Second, 10), 10300 * ms, 11 * time.Second, 11 * time.Second, 11264 * ms},
	}
	if len(r.Reference) != len(want) {
		t.Fatalf("%d reference rows, want %d", len(r.Reference), len(want))
	}
	for i, w := range want {
		got := r.Reference[i]
		if got.OS != "windows" || got.Settings != w.settings || got.Published != w.published || got.WindowsModel != w.windows ||
			got.LinuxModel != w.linux || got.LinuxModelHZ250 != w.linuxHZ250 || got.Anchor != "host went silent" {
			t.Errorf("reference %d = %+v, want %+v", i, got, w)
		}
	}
	if !strings.Contains(r.Reference[0].Note, "Windows probes every idle") || !strings.Contains(r.Reference[0].Note, "33 s") {
		t.Errorf("reference note = %q", r.Reference[0].Note)
	}
}

func TestFindings(t *testing.T) {
	r := build(t)
	want := []string{
		"fixtures: 1 of 9 runs are built from the model, not measured; their times only echo the model",
		"Linux 6.18.44 1s/1s/3 (listener) drop flow [lab]: detection − last ACK = 4.096 s (all 3 runs), ETIMEDOUT, model 4.096 s at HZ=250 (lateness 0 ms); the formula max(idle, interval) + count×interval gives 4.000 s, so the kernel was 96 ms later than it: the timer wheel rounds every re-arm up to its level's granularity",
		"Linux 6.18.44 1s/1s/3 (listener) pause [lab]: no run detected the paused process within the model window + margin (1 run; fault held ≥ 6.500 s, model after fault ≤ 4.096 s)",
		"Linux 6.18.44 1s/1s/3 (listener) kill [lab]: detection − fault = 3 ms (1 run), EOF, immediate (≤ 1.000 s)",
		"Linux 6.18.44 1s/3s/10 (listener) drop host [lab]: detection − last ACK = 33.79 s (1 run), ETIMEDOUT, model 33.79 s at HZ=250 (lateness 0 ms); the formula max(idle, interval) + count×interval gives 33.00 s, so the kernel was 792 ms later than it: the timer wheel rounds every re-arm up to its level's granularity",
		"Windows 10 22H2 (10.0.19045) 1s/3s/10 (listener) drop host [fixture]: detection − ping loss = 31.20 s (1 run) vs the published 31.20 s (Jeong Seong-tae; same anchor: host went silent)",
		"Linux 6.18.44 1s/1s/3 (listener-go-default) drop flow [lab]: listener settings overwritten by Go's default on 1 of 1 run (effective 15s/15s/9, requested 1s/1s/3)",
		"1 run deviated from the expectation: quick-007 [G5] (effective 15s/15s/9 | not the requested 1s/1s/3)",
		"1 run failed: quick-008 [G2] (client agent h2: apply fault vm-pause: nftables: operation not permitted)",
	}
	for _, w := range want {
		if !slices.Contains(r.Findings, w) {
			t.Errorf("missing finding %q\nhave:\n%s", w, strings.Join(r.Findings, "\n"))
		}
	}
	for _, f := range r.Findings {
		if strings.Contains(f, "vm-pause [lab, emulated]: ") {
			t.Errorf("a failed group must not yield a detection finding: %q", f)
		}
	}
}

func TestMarkdownLabels(t *testing.T) {
	md := string(build(t).Markdown())
	row := func(run string) []string {
		for _, line := range strings.Split(md, "\n") {
			if strings.HasPrefix(line, "| "+run+" |") {
				var cols []string
				for _, c := range strings.Split(strings.Trim(line, "|"), " | ") {
					cols = append(cols, strings.TrimSpace(c))
				}
				return cols
			}
		}
		t.Fatalf("no run row for %s in:\n%s", run, md)
		return nil
	}
	// Columns: run group source server settings mode fault outcome why
	// from_t0 after_fault after_ping_loss errno probes failure.
	tests := []struct {
		run                                   string
		source, fromT0, afterFault, afterPing string
		errno, probes                         string
	}{
		{"quick-001", "lab", "4.096 s", "3.820 s", "n/a", "ETIMEDOUT", "3"},
		{"quick-004", "lab", "33.79 s", "32.33 s", "31.90 s", "ETIMEDOUT", "10"},
		{"quick-005", "lab", "n/a", "n/a", "n/a", "", "0"},
		{"quick-006", "lab", "1.503 s", "3 ms", "n/a", "EOF", "0"},
		{"quick-008", "lab, emulated", "n/a", "n/a", "n/a", "", "n/a"},
		{"published-001", "**fixture** (model, not measured)", "31.00 s", "30.60 s", "31.20 s", "WSAETIMEDOUT", "n/a"},
	}
	for _, tt := range tests {
		c := row(tt.run)
		got := []string{c[2], c[9], c[10], c[11], c[12], c[13]}
		want := []string{tt.source, tt.fromT0, tt.afterFault, tt.afterPing, tt.errno, tt.probes}
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", tt.run, got, want)
		}
	}
	for _, s := range []string{"# kalab report: published, quick", "> **Fixtures:** 1 of 9 runs", `effective 15s/15s/9 \| not`} {
		if !strings.Contains(md, s) {
			t.Errorf("report.md lacks %q", s)
		}
	}
}

// crossOSResults are the committed results of testdata/ at the module
// root: measured Linux lab runs and the Windows and macOS fixtures, the
// acceptance input of "coordinator report".
func crossOSResults(t *testing.T) []results.Result {
	t.Helper()
	return readGlob(t, filepath.Join("..", "..", "testdata", "*.jsonl"))
}

// readGlob reads every results file the pattern matches, in file-name
// order, and fails without one.
func readGlob(t *testing.T, pattern string) []results.Result {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no %s: %v", pattern, err)
	}
	var all []results.Result
	for _, f := range files {
		rs, err := results.Read(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rs...)
	}
	return all
}

// TestGolden renders report.md, report.json and runs.csv for the synthetic
// sample (every case the report handles) and for the committed cross-OS
// results, and compares them with testdata/<case>/.
func TestGolden(t *testing.T) {
	tests := []struct {
		name           string
		load           func(*testing.T) []results.Result
		groups, runs   int
		oses, fixtures int
	}{
		{"sample", sampleResults, 7, 9, 2, 1},
		{"crossos", crossOSResults, 28, 88, 3, 38},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Build(tt.load(t))
			r.Generated = generated
			dir := filepath.Join(t.TempDir(), "out", "nested")
			if err := Write(dir, r); err != nil {
				t.Fatal(err)
			}
			for _, name := range Files {
				if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
					t.Errorf("Write did not produce %s: %v", name, err)
				}
			}
			for _, name := range []string{"report.md", "report.json", "runs.csv"} {
				got, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", tt.name, name)
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/report -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from %s (run go test ./internal/report -update and review the diff)", name, golden)
				}
			}
			// report.json must round-trip into the same struct.
			b, err := os.ReadFile(filepath.Join(dir, "report.json"))
			if err != nil {
				t.Fatal(err)
			}
			var back Report
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("decode report.json: %v", err)
			}
			if back.Schema != Schema || !back.Generated.Equal(generated) || len(back.Groups) != tt.groups || len(back.Runs) != tt.runs {
				t.Errorf("round trip: schema %d generated %s, %d groups, %d runs; want %d groups, %d runs",
					back.Schema, back.Generated, len(back.Groups), len(back.Runs), tt.groups, tt.runs)
			}
			oses := map[string]bool{}
			for _, g := range back.Groups {
				oses[g.OS] = true
			}
			if len(oses) != tt.oses || countSource(back.Runs, SourceFixture) != tt.fixtures {
				t.Errorf("%d OSes, %d fixture runs; want %d, %d", len(oses), countSource(back.Runs, SourceFixture), tt.oses, tt.fixtures)
			}
			// runs.csv: a header and one row per run, every row as wide.
			f, err := os.Open(filepath.Join(dir, "runs.csv"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rows, err := csv.NewReader(f).ReadAll()
			if err != nil {
				t.Fatalf("runs.csv: %v", err)
			}
			if len(rows) != tt.runs+1 || !slices.Equal(rows[0], csvColumns) {
				t.Errorf("runs.csv: %d rows, header %v", len(rows), rows[0])
			}
		})
	}
}

func TestEmpty(t *testing.T) {
	r := Build(nil)
	if len(r.Groups) != 0 || len(r.Runs) != 0 || len(r.Reference) != 2 || r.Generated.IsZero() {
		t.Errorf("empty build: %+v", r)
	}
	if md := string(r.Markdown()); !strings.Contains(md, "No results.") || !strings.Contains(md, "31.20 s") {
		t.Errorf("empty report.md:\n%s", md)
	}
	js, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"groups": []`, `"findings": []`, `"runs": []`, `"experiments": []`} {
		if !strings.Contains(string(js), k) {
			t.Errorf("empty report.json lacks %s:\n%s", k, js)
		}
	}
	if err := Write(t.TempDir(), nil); err == nil {
		t.Error("Write(nil) succeeded")
	}
}

// TestDirectionGroups: one-way drops form their own groups, named with
// their direction, apart from drops both ways (recorded as "both", or
// without a direction by kalab from before directions, which group
// together), and runs.csv carries the direction as recorded.
func TestDirectionGroups(t *testing.T) {
	linux := results.Host{Name: "h1", OS: "linux", OSVersion: "6.18.44", HZ: 250}
	s := settings(time.Second, time.Second, 3)
	var rs []results.Result
	for i, f := range []struct{ scope, direction string }{
		{"flow", results.DirectionToClient}, {"flow", ""}, {"flow", results.DirectionToServer},
		{"flow", results.DirectionBoth}, {"host", results.DirectionToClient},
	} {
		rs = append(rs, results.Result{
			Schema: results.Schema, Experiment: "oneway", Run: "oneway-00" + string(rune('1'+i)), Lab: true,
			Server: linux, Client: linux, Requested: s, Mode: keepalive.ModeListener, Effective: effective(s),
			FaultKind: results.KindDrop, FaultScope: f.scope, FaultDirection: f.direction,
			Expect: results.ExpectDetected, Outcome: results.OutcomePass,
		})
	}
	r := Build(rs)
	type group struct{ label, direction, runs string }
	var got []group
	for _, g := range r.Groups {
		got = append(got, group{g.Label, g.FaultDirection, strings.Join(g.RunIDs, ",")})
	}
	want := []group{
		{"Linux 6.18.44 1s/1s/3 (listener) drop flow [lab]", "", "oneway-002,oneway-004"},
		{"Linux 6.18.44 1s/1s/3 (listener) drop flow→server (the client's answers lost) [lab]", "to-server", "oneway-003"},
		{"Linux 6.18.44 1s/1s/3 (listener) drop flow→client (the server's packets lost) [lab]", "to-client", "oneway-001"},
		{"Linux 6.18.44 1s/1s/3 (listener) drop host→client (the server's packets lost) [lab]", "to-client", "oneway-005"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("groups:\n%q\nwant:\n%q", got, want)
	}
	if f := r.Runs[2].Fault; f != "drop flow→server (the client's answers lost)" {
		t.Errorf("run row fault %q, want drop flow→server (the client's answers lost)", f)
	}
	md := string(r.Markdown())
	for _, w := range []string{"| drop flow→server (the client's answers lost) |", "| drop flow→client (the server's packets lost) |",
		"| drop host→client (the server's packets lost) |"} {
		if !strings.Contains(md, w) {
			t.Errorf("report.md lacks %q", w)
		}
	}
	b, err := r.CSV()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := slices.Index(rows[0], "fault_direction")
	if col < 0 {
		t.Fatalf("runs.csv has no fault_direction column: %v", rows[0])
	}
	var dirs []string
	for _, row := range rows[1:] {
		dirs = append(dirs, row[col])
	}
	if !slices.Equal(dirs, []string{"to-client", "", "to-server", "both", "to-client"}) {
		t.Errorf("runs.csv fault_direction %q", dirs)
	}
}

// TestHoldGroups: each hold is its own group, named with the hold; a
// survives group's finding counts the runs that survived with the slowest
// echo, and one that was detected anyway is named.
func TestHoldGroups(t *testing.T) {
	linux := results.Host{Name: "h1", OS: "linux", OSVersion: "6.18.44", HZ: 250}
	s := settings(time.Second, time.Second, 3)
	d := func(v time.Duration) *time.Duration { return &v }
	var rs []results.Result
	for i, f := range []struct {
		hold     time.Duration
		expect   results.Expectation
		detected bool
		echo     *time.Duration
		outcome  string
	}{
		{2 * time.Second, results.ExpectSurvives, false, d(time.Millisecond), results.OutcomePass},
		{2 * time.Second, results.ExpectSurvives, false, d(2 * time.Millisecond), results.OutcomePass},
		{2 * time.Second, results.ExpectSurvives, true, nil, results.OutcomeDeviation},
		{6 * time.Second, results.ExpectDetected, true, nil, results.OutcomePass},
		{0, results.ExpectDetected, true, nil, results.OutcomePass},
	} {
		res := results.Result{
			Schema: results.Schema, Experiment: "blips", Run: "blips-00" + string(rune('1'+i)), Lab: true,
			Server: linux, Client: linux, Requested: s, Mode: keepalive.ModeListener, Effective: effective(s),
			FaultKind: results.KindDrop, FaultScope: results.ScopeFlow, FaultDirection: results.DirectionBoth, Hold: f.hold,
			Expect: f.expect, Outcome: f.outcome, Detected: f.detected, EchoRTT: f.echo, Survived: f.echo != nil,
		}
		if f.detected {
			res.ErrnoName = "ETIMEDOUT"
		}
		rs = append(rs, res)
	}
	r := Build(rs)
	var labels []string
	for _, g := range r.Groups {
		labels = append(labels, g.Label+" "+string(g.Expect)+" "+strings.Join(g.RunIDs, ","))
	}
	want := []string{
		"Linux 6.18.44 1s/1s/3 (listener) drop flow [lab] detected-in-window blips-005",
		"Linux 6.18.44 1s/1s/3 (listener) drop flow hold 2s [lab] survives blips-001,blips-002,blips-003",
		"Linux 6.18.44 1s/1s/3 (listener) drop flow hold 6s [lab] detected-in-window blips-004",
	}
	if !slices.Equal(labels, want) {
		t.Errorf("groups:\n%q\nwant:\n%q", labels, want)
	}
	if f := r.Runs[0].Fault; f != "drop flow hold 2s" {
		t.Errorf("run row fault %q", f)
	}
	all := strings.Join(r.Findings, "\n")
	for _, w := range []string{
		"drop flow hold 2s [lab]: 2 of 3 runs survived (echo ≤ 2 ms after the heal",
		"drop flow hold 2s [lab]: 1 of 3 runs detected the outage, ETIMEDOUT although it ended before the model's earliest detection: blips-003",
	} {
		if !strings.Contains(all, w) {
			t.Errorf("findings lack %q:\n%s", w, all)
		}
	}
}
