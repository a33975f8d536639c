package report

import (
	"encoding/csv"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// TestAnswers: the report opens with one sentence per group, before the
// findings, and each says what the server noticed, anchored on the fault
// in words, with the model beside it.
func TestAnswers(t *testing.T) {
	tests := []struct {
		input string
		group string // by label prefix
		want  string
	}{
		{"sample", "G1", "Linux 6.18.44 [lab]: with 1s/1s/3 the server noticed a client silenced by a drop 3.70 s after it went silent (median of 3; model 3.07–4.10 s)"},
		{"sample", "G2", "Linux 6.18.44 [lab, emulated]: with 1s/1s/3: no answer for a client whose VM was paused (emulated): no run was measured (1 failed)"},
		{"sample", "G3", "Linux 6.18.44 [lab]: with 1s/1s/3 the server did not notice a paused client within 6.50 s (1 run; its kernel keeps answering)"},
		{"sample", "G4", "Linux 6.18.44 [lab]: with 1s/1s/3 the server noticed a killed client at once (peer closed, EOF, within 3 ms; 1 run)"},
		{"sample", "G7", "Windows 10 22H2 (10.0.19045) [fixture: model, not measured]: with 1s/3s/10 the server noticed a client silenced by a host drop 30.60 s after it went silent"},
		{"mechanisms", "G2", "Linux 6.18.44-fc-v782: with 1s/1s/10 the server noticed a client silenced by a one-way drop (its answers lost) 10.83 s after it went silent (median of 2; model 10.24–11.26 s)"},
		{"mechanisms", "G5", "Linux 6.18.44-fc-v782: with 1s/1s/10 unacked uto 5s the server noticed a client silenced by a drop 5.53 s after it went silent (median of 2; model 5.43–5.68 s)"},
		{"mechanisms", "G16", "Linux 6.18.44-fc-v782: with heartbeat 200ms×3 the server noticed a paused client 0.47 s after it went silent (median of 2; model 0.40–0.62 s)"},
		{"blips", "G1", "Linux 6.18.44-fc-v782: with 1s/1s/3 a 2 s drop was survived (2 of 2 runs: an echo crossed the connection after the heal; model's earliest detection 3.07 s)"},
		{"blips", "G2", "with 1s/1s/3 the server noticed a client silenced by a drop 3.59 s after it went silent, before the 6 s outage ended (median of 2; model 3.07–4.10 s)"},
		{"blips", "G3", "with 1s/1s/3 a 2 s pause was survived (2 of 2 runs: an echo crossed the connection after the heal)"},
	}
	reports := map[string]*Report{}
	for _, tt := range tests {
		t.Run(tt.input+"/"+tt.group, func(t *testing.T) {
			r := reports[tt.input]
			if r == nil {
				r = buildNamed(t, tt.input)
				reports[tt.input] = r
			}
			i := slices.IndexFunc(r.Answers, func(a Answer) bool { return a.Group == tt.group })
			if i < 0 {
				t.Fatalf("no answer for %s", tt.group)
			}
			if got := r.Answers[i].Text; !strings.Contains(got, tt.want) {
				t.Errorf("answer of %s:\n got %q\nwant %q", tt.group, got, tt.want)
			}
		})
	}
	for name, r := range reports {
		if len(r.Answers) != len(r.Groups) {
			t.Errorf("%s: %d answers for %d groups", name, len(r.Answers), len(r.Groups))
		}
		md := string(r.Markdown())
		answer, findings := strings.Index(md, "## The answer\n"), strings.Index(md, "## Findings\n")
		if answer < 0 || findings < answer || strings.Index(md, "\n## ") != answer-1 {
			t.Errorf("%s: report.md does not open with the answer (at %d, findings at %d)", name, answer, findings)
		}
		for _, a := range r.Answers {
			if !strings.Contains(md[answer:findings], "- "+a.Text+" ["+a.Group+"]\n") {
				t.Errorf("%s: report.md's first section lacks %q", name, a.Text)
			}
		}
	}
}

// TestAnswerWords: the pieces a sentence is made of.
func TestAnswerWords(t *testing.T) {
	tests := []struct{ got, want string }{
		{winSecs(keepalive.Window{Min: 3072 * ms, Max: 4096 * ms}), "3.07–4.10 s"},
		{winSecs(keepalive.Window{Min: 11264 * ms, Max: 11264 * ms}), "11.26 s"},
		{winSecs(keepalive.Window{Min: 3 * time.Second, Max: 2*time.Hour + 3*time.Second}), "3.00 s–2.00 h"},
		{winSecs(keepalive.Window{Min: 2 * ms, Max: 600 * ms}), "2 ms–0.60 s"},
		{holdSecs(2 * time.Second), "2 s"},
		{holdSecs(2500 * ms), "2.50 s"},
		{article("drop"), "a drop"},
		{article("one-way drop (its answers lost)"), "a one-way drop (its answers lost)"},
		{article("emulated drop"), "an emulated drop"},
		{medianOf(1), "1 run"},
		{medianOf(3), "median of 3"},
		{faultNoun(&Group{FaultKind: results.KindDrop, FaultScope: results.ScopeHost}), "host drop"},
		{faultNoun(&Group{FaultKind: results.KindDrop, FaultDirection: results.DirectionToClient}), "one-way drop (the server's packets lost)"},
		{faultPhrase(&Group{FaultKind: results.KindVMPause, Emulated: true}), "a client whose VM was paused (emulated)"},
		{faultPhrase(&Group{FaultKind: results.KindPause}), "a paused client"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// TestVerdictAgreesWithOutcome: a run's vs-model verdict is early or late
// exactly when its outcome is a deviation, over every committed result:
// the report uses results.Judge's tolerance, not one of its own.
func TestVerdictAgreesWithOutcome(t *testing.T) {
	for _, name := range []string{"crossos", "mechanisms", "blips", "sample"} {
		r := buildNamed(t, name)
		compared := 0
		for _, res := range r.runs {
			d := deviation(res)
			if d == nil || (res.Outcome != results.OutcomePass && res.Outcome != results.OutcomeDeviation) {
				continue
			}
			if res.Why != "" && strings.Contains(res.Why, "not the requested") {
				continue // a deviation for the options, not the time
			}
			compared++
			outside := d.Verdict == VsEarly || d.Verdict == VsLate
			if outside != (res.Outcome == results.OutcomeDeviation) {
				t.Errorf("%s %s: verdict %s (by %s) but outcome %s (%s)", name, res.Run, d.Verdict, d.By, res.Outcome, res.Why)
			}
		}
		if compared == 0 {
			t.Errorf("%s: no run compared", name)
		}
		for _, g := range r.Groups {
			if g.VsModel != nil && g.VsModel.Outside() > g.Outcomes.Deviation {
				t.Errorf("%s %s: %d of %d outside the model, but %d deviations", name, g.ID, g.VsModel.Outside(), g.VsModel.Compared, g.Outcomes.Deviation)
			}
		}
	}
	// The heartbeat groups are compared too (their T0 is the last answer).
	r := buildNamed(t, "mechanisms")
	for _, g := range r.Groups {
		if g.Scenario == keepalive.ScenarioHeartbeat && (g.VsModel == nil || g.VsModel.Compared != g.Runs) {
			t.Errorf("%s: heartbeat group not compared with its model: %+v", g.ID, g.VsModel)
		}
	}
}

// TestOtherOSes: a mechanism measured on only some OSes gets the others
// from the model, labelled as such; measured ones are shown instead.
func TestOtherOSes(t *testing.T) {
	s113 := settings(time.Second, time.Second, 3)
	tests := []struct {
		name   string
		os     string
		g      Group
		want   string
		window *keepalive.Window
	}{
		{"Windows at a current build", "windows", Group{Requested: s113, Mode: keepalive.ModeListener},
			"model, not measured: 3.00–4.50 s after the fault on Windows 11 24H2 (build 26100)", &keepalive.Window{Min: 3 * time.Second, Max: 4500 * ms}},
		{"Linux at the results' HZ", "linux", Group{Requested: s113, Mode: keepalive.ModePerConn},
			"model, not measured: 3.07–4.10 s after the fault on Linux at HZ=250", &keepalive.Window{Min: 3072 * ms, Max: 4096 * ms}},
		{"macOS listener loses idle", "darwin", Group{Requested: s113, Mode: keepalive.ModeListener},
			"on macOS for the applied 2h/1s/3 (the listener's idle is not inherited)", nil},
		{"macOS per connection", "darwin", Group{Requested: s113, Mode: keepalive.ModePerConn},
			"model, not measured: 3.00–4.50 s after the fault on macOS", &keepalive.Window{Min: 3 * time.Second, Max: 4500 * ms}},
		{"Go's default accept path", "windows", Group{Requested: s113, Mode: keepalive.ModeListenerGoDefault},
			"for the applied 15s/15s/9 (Go's default accept path overwrites the listener's settings)", nil},
		{"refused settings", "linux", Group{Requested: settings(1500*ms, time.Second, 3), Mode: keepalive.ModePerConn},
			"model: Linux refuses these settings", nil},
		{"unacked not modelled", "windows", Group{Requested: s113, Scenario: keepalive.ScenarioUnacked}, "not modelled here", nil},
		{"heartbeat not modelled", "darwin", Group{Scenario: keepalive.ScenarioHeartbeat}, "not modelled here (the application's own timer decides", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := modelCell(tt.os, &tt.g, 250)
			if !strings.Contains(c.Text, tt.want) || c.InResults {
				t.Errorf("cell %+v, want text containing %q", c, tt.want)
			}
			if tt.window != nil && (c.Model == nil || *c.Model != *tt.window) {
				t.Errorf("model window %v, want %v", c.Model, tt.window)
			}
		})
	}

	// A Linux-only run answers "and on Windows?"; a mechanism measured on
	// all three OSes gets no row.
	r := buildNamed(t, "mechanisms")
	if len(r.OtherOSes) != 4 {
		t.Fatalf("%d rows, want one per mechanism (4)", len(r.OtherOSes))
	}
	row := r.OtherOSes[0]
	if row.Mechanism != "1s/1s/10" || !row.Cells[0].InResults || row.Cells[1].InResults || row.Cells[1].Model == nil ||
		!strings.HasPrefix(row.Cells[1].Text, "model, not measured: ") || !strings.HasPrefix(row.Cells[0].Text, "measured: 10.78 s after the fault (G1") {
		t.Errorf("first row %+v", row)
	}
	for _, row := range buildNamed(t, "crossos").OtherOSes {
		n := 0
		for _, c := range row.Cells {
			if c.InResults {
				n++
			}
		}
		if n == len(modelOSes) {
			t.Errorf("%s: measured on every OS, but listed", row.Mechanism)
		}
	}
}

// TestSkipped: runs the plan skipped are counted as skipped, not failed
// nor other, named with their reason, and left out of the deviations.
func TestSkipped(t *testing.T) {
	rs := sampleResults(t)
	skip := rs[0]
	skip.Run, skip.Name, skip.Mode = "quick-skip", "", keepalive.ModePerConn
	skip.Detected, skip.Measured, skip.Probes, skip.Anchors = false, results.Measured{}, nil, results.Anchors{}
	skip.Effective = keepalive.Effective{}
	skip.Outcome, skip.Why = results.OutcomeSkipped, "the model says the run takes 2h0m10s, over max_run 10m0s"
	rs = append(rs, skip)
	r := Build(rs)
	i := slices.IndexFunc(r.Groups, func(g Group) bool { return g.Mode == keepalive.ModePerConn })
	g := r.Groups[i]
	if g.Outcomes != (Outcomes{Skipped: 1}) {
		t.Errorf("outcomes %+v, want one skipped", g.Outcomes)
	}
	if got := outcomesText(g.Outcomes); got != "skipped 1" {
		t.Errorf("outcomes text %q", got)
	}
	a := r.Answers[i].Text
	if !strings.Contains(a, "with 1s/1s/3 per-connection: the runs against a client silenced by a drop were skipped, not run (1 run): the model says") {
		t.Errorf("answer %q", a)
	}
	if !slices.ContainsFunc(r.Findings, func(f string) bool {
		return strings.HasPrefix(f, "1 run skipped by the plan (not failures") && strings.Contains(f, "quick-skip")
	}) {
		t.Errorf("no finding for the skipped run:\n%s", strings.Join(r.Findings, "\n"))
	}
	for _, l := range deviationLines(r) {
		if strings.Contains(l, "quick-skip") {
			t.Errorf("a skipped run is listed as a deviation: %s", l)
		}
	}
	if b := outcomeBadge(results.OutcomeSkipped); b.Class != "o-skipped" {
		t.Errorf("badge %+v", b)
	}
	tl, err := timeline(skip)
	if err != nil || !strings.HasPrefix(tl.Missing, "not run") {
		t.Errorf("timeline %q, %v", tl.Missing, err)
	}
}

// TestCSVScenarioColumns: runs.csv ends with the scenario, the user
// timeout and the heartbeat, after every column older readers know.
func TestCSVScenarioColumns(t *testing.T) {
	tail := []string{"scenario", "user_timeout_s", "heartbeat_period_s", "heartbeat_misses"}
	if !slices.Equal(csvColumns[len(csvColumns)-len(tail):], tail) || slices.Index(csvColumns, "echo_err") != len(csvColumns)-len(tail)-1 {
		t.Fatalf("runs.csv columns end %v", csvColumns[len(csvColumns)-6:])
	}
	r := buildNamed(t, "mechanisms")
	b, err := r.CSV()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, row := range rows[1:] {
		got := strings.Join(row[len(row)-len(tail):], ",")
		seen[got] = true
	}
	for _, want := range []string{"idle,,,", "unacked,5,,", "user-timeout,3,,", "heartbeat,,0.2,3"} {
		if !seen[want] {
			t.Errorf("no run with %q in the last columns; have %v", want, seen)
		}
	}
}
