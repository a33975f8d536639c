package report

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// labReport builds the report of a lab result file in testdata/:
// mechanisms.jsonl (idle, unacked uto 5s, user-timeout uto 3s and
// heartbeat 200ms×3 against drops both ways, to the server, to the client
// and a pause, on two agent pairs) or blips.jsonl (1s/1s/3 against a 2 s
// drop and pause, which it survives, and a 6 s drop, which it detects).
func labReport(t *testing.T, file string) (*Report, string, string) {
	t.Helper()
	rs, err := results.Read(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	r := Build(rs)
	r.Generated = generated
	html, err := r.HTML()
	if err != nil {
		t.Fatal(err)
	}
	return r, string(r.Markdown()), string(html)
}

// TestScenarioSections: the Groups and Detection times tables are split
// by scenario, in the order idle, unacked, user-timeout, heartbeat, and
// the mechanism comparison is there only with two mechanisms or more.
func TestScenarioSections(t *testing.T) {
	titles := []string{"### Idle: keepalive", "### Unacked: retransmission",
		"### User timeout: keepalive with a cap on unacknowledged time", "### Heartbeat: the application decides"}
	tests := []struct {
		file              string
		sections          []string
		first, outages    bool
		groups, firstRows int
	}{
		{"mechanisms.jsonl", titles, true, false, 16, 4},
		{"blips.jsonl", titles[:1], false, true, 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r, md, html := labReport(t, tt.file)
			if len(r.Groups) != tt.groups {
				t.Errorf("%d groups, want %d", len(r.Groups), tt.groups)
			}
			groups, times := md[strings.Index(md, "## Groups"):], md[strings.Index(md, "## Detection times"):]
			for _, part := range []string{groups, times} {
				at := -1
				for _, s := range tt.sections {
					i := strings.Index(part, s+"\n")
					if i <= at {
						t.Errorf("subsection %q missing or out of order", s)
					}
					at = i
				}
			}
			for _, c := range []struct {
				on      bool
				md, tag string
			}{{tt.first, "\n## Which mechanism detects first\n", "<h2>Which mechanism detects first</h2>"},
				{tt.outages, "\n## Outages survived\n", "<h2>Outages survived</h2>"}} {
				if strings.Contains(md, c.md) != c.on || strings.Contains(html, c.tag) != c.on {
					t.Errorf("%q in report.md and %q in report.html: want present=%v", c.md, c.tag, c.on)
				}
			}
			n := 0
			if r.FirstDetection != nil {
				n = len(r.FirstDetection.Rows)
			}
			if n != tt.firstRows {
				t.Errorf("%d mechanism rows, want %d", n, tt.firstRows)
			}
		})
	}
}

// TestWhichMechanismFirst: the heartbeat wins every row of the mechanisms
// results, each drop direction keeps its row, and the kernel's mechanisms
// do not notice a paused peer.
func TestWhichMechanismFirst(t *testing.T) {
	r, md, _ := labReport(t, "mechanisms.jsonl")
	fd := r.FirstDetection
	want := []string{"1s/1s/10", "1s/1s/10 unacked uto 5s", "1s/1s/10 user-timeout uto 3s", "heartbeat 200ms×3"}
	if strings.Join(fd.Mechanisms, "|") != strings.Join(want, "|") {
		t.Fatalf("columns %q, want %q", fd.Mechanisms, want)
	}
	tests := []struct {
		fault, winner string
		keepalive     string // what the keepalive columns start with
	}{
		{"drop flow", "heartbeat 200ms×3, 0.46 s after the fault; 1s/1s/10 user-timeout uto 3s next at 2.57 s", ""},
		{"drop flow→server (the client's answers lost)", "heartbeat 200ms×3, 0.47 s after the fault; 1s/1s/10 user-timeout uto 3s next at 2.58 s", ""},
		{"drop flow→client (the server's packets lost)", "heartbeat 200ms×3, 0.46 s after the fault; 1s/1s/10 user-timeout uto 3s next at 2.58 s", ""},
		{"pause", "heartbeat 200ms×3, 0.47 s after the fault; no other mechanism detected it", "not detected (n=2; the peer's kernel answers)"},
	}
	for i, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			row := fd.Rows[i]
			if row.Fault != tt.fault || row.Server != "Linux 6.18.44-fc-v782 [lab]" || row.Winner != tt.winner {
				t.Errorf("row %q %q, winner %q; want %q, winner %q", row.Server, row.Fault, row.Winner, tt.fault, tt.winner)
			}
			for j, c := range row.Cells {
				hb := fd.Mechanisms[j] == "heartbeat 200ms×3"
				if c.Fastest != hb || c.Runs != 2 {
					t.Errorf("%s: fastest %v, %d runs", fd.Mechanisms[j], c.Fastest, c.Runs)
				}
				if !hb && tt.keepalive != "" && c.Text != tt.keepalive {
					t.Errorf("%s: %q, want %q", fd.Mechanisms[j], c.Text, tt.keepalive)
				}
			}
			if !strings.Contains(md, "| **"+row.Cells[3].Text+"** | "+tt.winner+" |") {
				t.Errorf("report.md does not bold the heartbeat cell %q of %s", row.Cells[3].Text, tt.fault)
			}
		})
	}
}

// TestScenarioLabels: heartbeat groups are labelled by their heartbeat,
// their keepalive is off as intended (never "differs"), the unacked model
// has no T0 window, and report.json carries the scenario and heartbeat.
func TestScenarioLabels(t *testing.T) {
	r, md, html := labReport(t, "mechanisms.jsonl")
	for _, bad := range []string{"0/0/0", "heartbeat ()", "not applied", "**differs**", "| 0 ms (HZ=250) |"} {
		if strings.Contains(md, bad) {
			t.Errorf("report.md says %q", bad)
		}
	}
	if strings.Contains(html, "not applied") || regexp.MustCompile(`from T0</span> 0 ms`).MatchString(html) {
		t.Error("report.html shows keepalive not applied or a 0 ms T0 model")
	}
	for _, f := range r.Findings {
		if strings.Contains(f, "heartbeat") && strings.Contains(f, "differ") {
			t.Errorf("finding on a heartbeat group: %q", f)
		}
	}
	for _, g := range r.Groups {
		mT0, _, _ := modelCells(&g)
		switch g.Scenario {
		case keepalive.ScenarioHeartbeat:
			if g.Mechanism != "heartbeat 200ms×3" || g.Heartbeat == nil || len(g.Effective) != 1 || g.Effective[0].Status != EffectiveOffAsIntended {
				t.Errorf("%s: mechanism %q heartbeat %v effective %+v", g.ID, g.Mechanism, g.Heartbeat, g.Effective)
			}
			if !strings.Contains(md, "| "+g.ID+" | Linux 6.18.44-fc-v782 | heartbeat 200ms×3 | keepalive off |") ||
				!strings.Contains(md, heartbeatOff+" ×2") {
				t.Errorf("%s: report.md row lacks the heartbeat, its mode or its effective options", g.ID)
			}
		case keepalive.ScenarioUnacked:
			if mT0 != "— (from the write)" {
				t.Errorf("%s: unacked model from T0 %q", g.ID, mT0)
			}
		}
	}
	js, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Groups []struct {
			Scenario  string               `json:"scenario"`
			Heartbeat *keepalive.Heartbeat `json:"heartbeat"`
			Mechanism string               `json:"mechanism"`
		} `json:"groups"`
		Runs []struct {
			Scenario  string               `json:"scenario"`
			Heartbeat *keepalive.Heartbeat `json:"heartbeat"`
			Settings  string               `json:"settings"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	hb := keepalive.Heartbeat{Period: 200 * ms, Misses: 3}
	for _, g := range back.Groups {
		if (g.Scenario == "heartbeat") != (g.Heartbeat != nil && *g.Heartbeat == hb) || g.Mechanism == "" {
			t.Errorf("report.json group: scenario %q heartbeat %v mechanism %q", g.Scenario, g.Heartbeat, g.Mechanism)
		}
	}
	for _, run := range back.Runs {
		if (run.Scenario == "heartbeat") != (run.Heartbeat != nil && run.Settings == "heartbeat 200ms×3") {
			t.Errorf("report.json run: scenario %q heartbeat %v settings %q", run.Scenario, run.Heartbeat, run.Settings)
		}
	}
}

// TestOutagesSurvived: the blips results give one outage row per held
// group, each against the model's window, and one SVG bar each.
func TestOutagesSurvived(t *testing.T) {
	r, md, html := labReport(t, "blips.jsonl")
	tests := []struct {
		fault, window, outcome string
		survived, detected     int
	}{
		{"drop flow hold 2s", "3.072 s – 4.096 s after the fault", "survived ×2 (echo ≤ 0.22 ms after the heal)", 2, 0},
		{"drop flow hold 6s", "3.072 s – 4.096 s after the fault", "detected at 3.59 s (n=2)", 0, 2},
		{"pause hold 2s", "none: the paused peer's kernel answers", "survived ×2 (echo ≤ 0.42 ms after the heal)", 2, 0},
	}
	if len(r.Outages) != len(tests) {
		t.Fatalf("%d outage rows, want %d", len(r.Outages), len(tests))
	}
	for i, tt := range tests {
		o := r.Outages[i]
		if o.Fault != tt.fault || o.windowText() != tt.window || o.Outcome != tt.outcome || o.Survived != tt.survived || len(o.Detections) != tt.detected {
			t.Errorf("row %d: %q %q %q survived %d detected %d; want %+v", i, o.Fault, o.windowText(), o.Outcome, o.Survived, len(o.Detections), tt)
		}
		if !strings.Contains(md, "| "+strings.Join(o.mdRow(), " | ")+" |") {
			t.Errorf("report.md lacks the outage row of %s", o.Group)
		}
		if strings.Count(html, `aria-label="outage bar `+o.Group+`:`) != 1 || !strings.Contains(html, `id="outage-`+o.Group+`"`) {
			t.Errorf("report.html has not exactly one outage bar for %s", o.Group)
		}
	}
	if n := strings.Count(html, `aria-label="outage bar `); n != len(tests) {
		t.Errorf("%d outage bars, want %d", n, len(tests))
	}
}

// TestUnackedTimeline: the unacked model runs from the write after the
// fault, so its band sits after the fault, not at T0 + 0.
func TestUnackedTimeline(t *testing.T) {
	rs, err := results.Read(filepath.Join("testdata", "mechanisms.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range rs {
		if res.Scenario != keepalive.ScenarioUnacked || !res.Detected {
			continue
		}
		tl, err := timeline(res)
		if err != nil {
			t.Fatal(err)
		}
		if tl.Model == nil || *tl.Model != res.Model.AfterFault {
			t.Errorf("%s: model band %v, want %v after the fault", res.Run, tl.Model, res.Model.AfterFault)
		}
	}
}
