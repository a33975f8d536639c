package report

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// targetResults reads every lab run against a real service in testdata
// (targets-*.jsonl: Redis, PostgreSQL with its options and with its
// defaults, nginx, Redis by bisection), in file-name order.
func targetResults(t *testing.T) []results.Result {
	t.Helper()
	return readGlob(t, filepath.Join("testdata", "targets-*.jsonl"))
}

// redisResults are the Redis sample's runs (tcp-keepalive 3: two drops,
// two kills), each with its own copy of the target.
func redisResults(t *testing.T) []results.Result {
	t.Helper()
	rs, err := results.Read(filepath.Join("testdata", "targets-redis.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range rs {
		c := *rs[i].Target
		rs[i].Target = &c
	}
	return rs
}

// redisDrops are the Redis sample's drop runs, changed by edit.
func redisDrops(t *testing.T, edit func(*results.Result)) []results.Result {
	t.Helper()
	var out []results.Result
	for _, res := range redisResults(t) {
		if res.FaultKind == results.KindDrop {
			edit(&res)
			out = append(out, res)
		}
	}
	return out
}

// bisected turns a drop run into a bisection's result: no agent watched
// the service, so there is no detection instant, only a bracket.
func bisected(res *results.Result) {
	res.Target.Method = results.MethodBisection
	res.Target.Bracket = &keepalive.Window{Min: 5500 * time.Millisecond, Max: 6 * time.Second}
	res.Target.Trials = 5
	res.Target.Ended, res.Target.EffectiveFrom, res.Target.Timer = "", "", ""
	res.Anchors, res.Measured = results.Anchors{}, results.Measured{} // no agent: no instant at all
	res.Effective = keepalive.Effective{}
}

// defaults turns a drop run into one against the service's defaults (no
// config line, the kernel's 2h/75s/9 read back), which keeps the silent
// client's connection through the observation.
func defaults(res *results.Result) {
	s := settings(2*time.Hour, 75*time.Second, 9)
	res.Target.ConfigLines = nil
	res.Target.Ended = ""
	res.Requested, res.Effective = s, effective(s)
	p, err := keepalive.Predict(keepalive.Platform{OS: "linux"}, s, keepalive.PhaseFirstIdle, keepalive.ModelOptions{HZ: 250})
	if err != nil {
		panic(err)
	}
	res.Model = &p
	res.Expect, res.Detected, res.Outcome = results.ExpectNotDetected, false, results.OutcomePass
	res.Anchors.Detection, res.Measured = nil, results.Measured{}
}

// keepaliveOffTarget turns a drop run into one against a service that
// leaves keepalive off (nginx without so_keepalive).
func keepaliveOffTarget(res *results.Result) {
	defaults(res)
	res.Target.Product, res.Target.Version, res.Target.Process, res.Target.Port = "nginx", "nginx 1.22.1", "nginx", 8080
	res.Requested, res.Model = keepalive.Settings{}, nil
	res.Effective = keepalive.Effective{Enabled: keepalive.Opt[bool]{Known: true}}
}

// realHost turns a drop run into one against a service kalab did not
// start (a real host's postgres): no product, version or config lines.
func realHost(res *results.Result) {
	res.Target.Product, res.Target.Version, res.Target.ConfigLines, res.Target.Process = "", "", nil, "postgres"
	res.Target.Port = 5432
}

// TestServiceAnswers: a service's groups are labelled and answered with
// the service, its configuration and where its options came from; the
// defaults keep the connection with the model in hours; bisection shows
// a bracket, never a point.
func TestServiceAnswers(t *testing.T) {
	inputs := map[string]func(*testing.T) []results.Result{
		"redis":   redisResults,
		"targets": targetResults,
		"bisect":  func(t *testing.T) []results.Result { return redisDrops(t, bisected) },
		"default": func(t *testing.T) []results.Result { return redisDrops(t, defaults) },
		"off":     func(t *testing.T) []results.Result { return redisDrops(t, keepaliveOffTarget) },
		"real":    func(t *testing.T) []results.Result { return redisDrops(t, realHost) },
	}
	tests := []struct {
		input, group string
		label        string // the group's label
		answer       string // in its answer
		finding      string // in its "Your services" finding
	}{
		{"redis", "G1", "Linux 6.18.44-fc-v782 redis-server 7.0.15 :6379 (tcp-keepalive 3 → 3s/1s/3 read from its socket) drop flow [lab]",
			"Linux 6.18.44-fc-v782: redis-server 7.0.15 (tcp-keepalive 3) dropped a client silenced by a drop 6.09 s after its last ACK, 5.60 s after it went silent (median of 2; model 6.08 s)",
			"redis-server 7.0.15 with tcp-keepalive 3 dropped a client silenced by a drop 6.09 s after its last ACK on Linux 6.18.44-fc-v782 (median of 2; 5.60 s after it went silent); the model says 6.08 s"},
		{"redis", "G2", "redis-server 7.0.15 :6379 (tcp-keepalive 3 → 3s/1s/3 read from its socket) kill [lab]",
			"redis-server 7.0.15 (tcp-keepalive 3) noticed a killed client at once (its socket: gone, within 28 ms; 2 runs)",
			"redis-server 7.0.15 with tcp-keepalive 3 noticed a killed client at once (its socket: gone, within 28 ms; 2 runs) on Linux 6.18.44-fc-v782"},
		{"targets", "G1", "PostgreSQL 15.18 :5432 (its defaults → 2h/75s/9 read from its socket) drop flow",
			"PostgreSQL 15.18 (its defaults) kept the silent client's connection for the whole observation (48.15 s); the model says 2 h 11 min – 2 h 14 min after its last ACK",
			"PostgreSQL 15.18 with its defaults (2h/75s/9) kept the silent client's connection for the whole observation (48.15 s) on Linux 6.18.44-fc-v782; the model says 2 h 11 min – 2 h 14 min after its last ACK"},
		{"targets", "G2", "PostgreSQL 15.18 :5432 (tcp_keepalives_idle = 2, tcp_keepalives_interval = 1, tcp_keepalives_count = 3 → 2s/1s/3 read from its socket) drop flow",
			"PostgreSQL 15.18 (tcp_keepalives_idle = 2, tcp_keepalives_interval = 1, tcp_keepalives_count = 3) dropped a client silenced by a drop 5.11 s after its last ACK, 4.57 s after it went silent (median of 2; model 5.09 s)",
			"PostgreSQL 15.18 with tcp_keepalives_idle = 2, tcp_keepalives_interval = 1, tcp_keepalives_count = 3 dropped a client silenced by a drop 5.11 s after its last ACK on Linux 6.18.44-fc-v782"},
		{"targets", "G3", "PostgreSQL 15.18 :5432", "noticed a killed client at once (its socket: closed by the client, within 2 ms; 2 runs)", "closed by the client"},
		{"targets", "G4", "nginx 1.22.1 :8080 (listen 198.19.231.2:8080 so_keepalive=2:1:3; → 2s/1s/3 read from its socket) drop flow",
			"nginx 1.22.1 (listen 198.19.231.2:8080 so_keepalive=2:1:3;) dropped a client silenced by a drop 5.10 s after its last ACK", "the model says 5.09 s"},
		{"targets", "G6", "redis-server 7.0.15 :6379 (tcp-keepalive 3; options not read back) by bisection drop flow",
			"redis-server 7.0.15 (tcp-keepalive 3) dropped a client silenced by a drop between 6.00 and 6.25 s after it went silent (bisection, 7 trials; model 6.08–6.33 s)",
			"redis-server 7.0.15 with tcp-keepalive 3 dropped a client silenced by a drop between 6.00 and 6.25 s after it went silent on Linux 6.18.44-fc-v782 (bisection, 7 trials); the model says 6.08–6.33 s"},
		{"bisect", "G1", "redis-server 7.0.15 :6379 (tcp-keepalive 3; options not read back) by bisection",
			"dropped a client silenced by a drop between 5.50 and 6.00 s after it went silent (bisection, 10 trials; model 6.08 s)",
			"between 5.50 and 6.00 s after it went silent on Linux 6.18.44-fc-v782 (bisection, 10 trials)"},
		{"default", "G1", "redis-server 7.0.15 :6379 (its defaults → 2h/75s/9 read from its socket)",
			"redis-server 7.0.15 (its defaults) kept the silent client's connection for the whole observation (5.76 s; 2 runs); the model says 2 h 11 min – 2 h 14 min after its last ACK",
			"redis-server 7.0.15 with its defaults (2h/75s/9) kept the silent client's connection"},
		{"off", "G1", "nginx 1.22.1 :8080 (keepalive off, read from its socket) drop flow",
			"nginx 1.22.1 (its defaults) kept the silent client's connection for the whole observation (5.76 s; 2 runs); with keepalive off, no timer of its kernel drops it",
			"nginx 1.22.1 with its defaults (keepalive off) kept"},
		{"real", "G1", "postgres :5432 (configuration not recorded → 3s/1s/3 read from its socket) drop flow",
			"postgres (configuration not recorded) dropped a client silenced by a drop 6.09 s after its last ACK",
			"postgres (3s/1s/3 read from its socket) dropped a client silenced by a drop 6.09 s after its last ACK on Linux 6.18.44-fc-v782"},
	}
	reports := map[string]*Report{}
	for _, tt := range tests {
		t.Run(tt.input+"/"+tt.group, func(t *testing.T) {
			r := reports[tt.input]
			if r == nil {
				r = Build(inputs[tt.input](t))
				reports[tt.input] = r
			}
			i := slices.IndexFunc(r.Groups, func(g Group) bool { return g.ID == tt.group })
			if i < 0 {
				t.Fatalf("no group %s", tt.group)
			}
			g := r.Groups[i]
			if !strings.Contains(g.Label, tt.label) {
				t.Errorf("label of %s:\n got %q\nwant %q", tt.group, g.Label, tt.label)
			}
			if a := r.Answers[i]; !strings.Contains(a.Text, tt.answer) || a.Target == nil || a.Target != g.Target {
				t.Errorf("answer of %s:\n got %q (target %v)\nwant %q", tt.group, a.Text, a.Target, tt.answer)
			}
			j := slices.IndexFunc(r.Services, func(s ServiceRow) bool { return s.Group == tt.group })
			if j < 0 {
				t.Fatalf("no service row for %s", tt.group)
			}
			if got := r.Services[j].Finding; !strings.Contains(got, tt.finding) {
				t.Errorf("finding of %s:\n got %q\nwant %q", tt.group, got, tt.finding)
			}
		})
	}
}

// TestBisectionNeverAPoint: a bisection's group has no detection
// statistics, and every place it is shown gives the bracket.
func TestBisectionNeverAPoint(t *testing.T) {
	r := Build(redisDrops(t, bisected))
	r.Generated = generated
	if len(r.Groups) != 1 {
		t.Fatalf("%d groups, want 1", len(r.Groups))
	}
	g := r.Groups[0]
	if g.FromT0 != nil || g.AfterFault != nil || g.Target.Bracket == nil || g.Target.Trials != 10 {
		t.Errorf("group: from T0 %v, after fault %v, bracket %v, %d trials", g.FromT0, g.AfterFault, g.Target.Bracket, g.Target.Trials)
	}
	s := r.Services[0]
	for _, c := range []struct{ name, got, want string }{
		{"after last ACK", s.AfterLastACK, "n/a (bisection)"},
		{"after the fault", s.AfterFault, "between 5.500 s and 6.000 s (a bracket, not a point)"},
		{"method", s.Method, "bisection: between 5.500 s and 6.000 s, ±250 ms (10 trials)"},
		{"ended", s.Ended, "not watched (bisection: no agent on its host)"},
		{"effective", s.Effective, "options not read back"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	md := string(r.Markdown())
	if !strings.Contains(md, "| bracket 5.500 s – 6.000 s (bisection, 10 trials) |") {
		t.Errorf("report.md's detection times lack the bracket")
	}
	page, err := r.HTML()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<strong>bracket</strong>", "bisection brackets the detection between 5.500 s and 6.000 s"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if r.FirstDetection != nil {
		t.Errorf("a bracket was ranked as a detection time: %+v", r.FirstDetection)
	}
}

// TestServicesSection: "Your services" exists exactly when results
// measured a service, in report.md, report.html and report.json, with
// the service's version, port and configuration lines; kalab's own
// server's reports have none of it.
func TestServicesSection(t *testing.T) {
	tests := []struct {
		input    string
		services int
		want     []string // in the section of report.md
	}{
		{"sample", 0, nil},
		{"crossos", 0, nil},
		{"mechanisms", 0, nil},
		{"targets-redis", 2, []string{"| G1 | Linux 6.18.44-fc-v782 [lab] | redis-server 7.0.15 | 6379 | drop flow | tcp-keepalive 3 | 3s/1s/3 read from its socket | 6.080 s | 3.072 s – 6.080 s | 6.094 s (6.092 s – 6.096 s, p95 6.096 s, n=2) | 5.599 s (5.598 s – 5.600 s, p95 5.600 s, n=2) | keepalive timeout (the kernel reset it after the unanswered probes) ×2 | observed (an agent read its socket) | pass 2 |"}},
		{"targets", 8, []string{"| PostgreSQL 15.18 | 5432 | drop flow | its defaults | 2h/75s/9 read from its socket | 7882 s – 8013 s (2 h 11 min – 2 h 14 min)",
			"| tcp_keepalives_idle = 2, tcp_keepalives_interval = 1, tcp_keepalives_count = 3 |", "| nginx 1.22.1 | 8080 |",
			"still open when the observation ended ×1", "closed by the client (its FIN arrived first) ×2"}},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			r := buildNamed(t, tt.input)
			if len(r.Services) != tt.services {
				t.Fatalf("%d service rows, want %d", len(r.Services), tt.services)
			}
			md := string(r.Markdown())
			page, err := r.HTML()
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			has := strings.Contains(md, "## Your services\n")
			if has != (tt.services > 0) || strings.Contains(string(page), `id="services"`) != has ||
				strings.Contains(string(b), `"services"`) != has || strings.Contains(string(b), `"target"`) != has {
				t.Fatalf("services shown: md %v, html %v, json %v; want %v", has, strings.Contains(string(page), `id="services"`),
					strings.Contains(string(b), `"services"`), tt.services > 0)
			}
			if !has {
				return
			}
			section := md[strings.Index(md, "## Your services\n"):strings.Index(md, "## Findings\n")]
			for _, w := range tt.want {
				if !strings.Contains(section, w) {
					t.Errorf("the services section lacks %q:\n%s", w, section)
				}
			}
			for _, s := range r.Services {
				if !strings.Contains(section, "- "+s.Finding+" ["+s.Group+"]\n") {
					t.Errorf("the services section lacks the finding of %s", s.Group)
				}
				if !strings.Contains(string(page), s.Service) {
					t.Errorf("report.html lacks %s", s.Service)
				}
			}
			var back Report
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			for i, g := range back.Groups {
				if g.Target == nil || back.Answers[i].Target == nil || g.Target.Version == "" || g.Target.Ended != "" {
					t.Errorf("report.json group %s: target %+v, answer's %+v", g.ID, g.Target, back.Answers[i].Target)
				}
			}
			for _, run := range back.Runs {
				if run.Target == nil {
					t.Errorf("report.json run %s has no target", run.Run)
				}
			}
		})
	}
}

// TestTargetGroupsApart: a service's runs never share a group with
// kalab's own server's, nor with another configuration or method of the
// same service, though every other key part is the same.
func TestTargetGroupsApart(t *testing.T) {
	var rs []results.Result
	for _, variant := range []func(*results.Result){
		func(*results.Result) {},
		func(r *results.Result) { r.Target = nil; r.Run += "-own" },
		func(r *results.Result) { r.Target.ConfigLines = []string{"tcp-keepalive 4"}; r.Run += "-4" },
		func(r *results.Result) { bisected(r); r.Run += "-bisect" },
		func(r *results.Result) { r.Target.Port = 6380; r.Run += "-6380" },
	} {
		rs = append(rs, redisDrops(t, variant)...)
	}
	r := Build(rs)
	if len(r.Groups) != 5 {
		t.Fatalf("%d groups, want 5: %v", len(r.Groups), labels(r.Groups))
	}
	if g := r.Groups[0]; g.Target != nil || g.Mode != keepalive.ModePerConn || g.Label != "Linux 6.18.44-fc-v782 3s/1s/3 (per-connection) drop flow [lab]" {
		t.Errorf("kalab's own server first, as before: %q (mode %q)", g.Label, g.Mode)
	}
	for _, g := range r.Groups[1:] {
		if g.Target == nil || g.Mode != "" || g.Runs != 2 {
			t.Errorf("%s: target %v, mode %q, %d runs", g.Label, g.Target, g.Mode, g.Runs)
		}
	}
	if len(r.Services) != 4 || len(r.OtherOSes) != 1 || r.OtherOSes[0].Mechanism != "3s/1s/3 per-connection" {
		t.Errorf("%d service rows (want 4), other OSes %+v (want only kalab's own 3s/1s/3)", len(r.Services), r.OtherOSes)
	}
}

// TestServiceWords: the pieces a service's sentences are made of.
func TestServiceWords(t *testing.T) {
	tests := []struct{ got, want string }{
		{hoursMinutes(7882 * time.Second), "2 h 11 min"},
		{hoursMinutes(2 * time.Hour), "2 h"},
		{hoursMinutes(45 * time.Minute), "45 min"},
		{hoursText(keepalive.Window{Min: 7882 * time.Second, Max: 8013 * time.Second}), "2 h 11 min – 2 h 14 min"},
		{hoursText(keepalive.Window{Min: 5088 * ms, Max: 5088 * ms}), "5.09 s"},
		{betweenSecs(keepalive.Window{Min: 6 * time.Second, Max: 6250 * ms}), "6.00 and 6.25 s"},
		{endShort(results.EndedKeepalive), "keepalive timeout"},
		{endShort("new-kind"), "new-kind"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
