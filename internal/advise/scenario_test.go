package advise

import (
	"bytes"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

func scenarioQuery(sc keepalive.Scenario, mode keepalive.Mode, hz int, uto time.Duration, ps ...keepalive.Platform) Query {
	q := query(mode, hz, ps...)
	q.Scenario, q.UserTimeout, q.RTT, q.OSDefaults = sc, uto, ms, true
	return q
}

// TestPredictScenarios: per OS the window after the fault, the limit that
// wins, what the socket gets and the notes (docs/keepalive-models.md §4).
func TestPredictScenarios(t *testing.T) {
	s := st(sec, sec, 10)
	for _, tc := range []struct {
		name     string
		q        Query
		s        *keepalive.Settings
		after    []keepalive.Window // per OS, exact
		fromT0   []*keepalive.Window
		limits   []string
		uto      []time.Duration // what each accepted socket gets
		quirks   [][]string
		valuesOK bool // unacked: stock values listed with their sources
	}{
		{name: "unacked, stock values, HZ=250", q: scenarioQuery(keepalive.ScenarioUnacked, keepalive.ModeListener, 250, 0, all3...),
			after:  []keepalive.Window{{Min: 937692 * ms, Max: 939736 * ms}, {Min: 18900 * ms, Max: 19400 * ms}, {Min: 17930 * ms, Max: 54200 * ms}},
			limits: []string{"tcp_retries2", "TcpMaxDataRetransmissions", "TCP_MAXRXTSHIFT"}, uto: []time.Duration{0, 0, 0},
			quirks: [][]string{{QuirkLinuxRouteRTOMin}, {QuirkInferred, QuirkWindowsTemplate, QuirkTimerUnmeasured}, {QuirkTimerUnmeasured}}, valuesOK: true},
		// Acceptance: TCP_USER_TIMEOUT 5 s kills near 5 s after the write.
		{name: "unacked, TCP_USER_TIMEOUT 5s, HZ unknown", q: scenarioQuery(keepalive.ScenarioUnacked, keepalive.ModePerConn, 0, 5*sec, linux),
			after: []keepalive.Window{{Min: 5402 * ms, Max: 6080250 * time.Microsecond}}, limits: []string{"TCP_USER_TIMEOUT"}, uto: []time.Duration{5 * sec},
			quirks: [][]string{{QuirkLinuxHZUnknown, QuirkLinuxRouteRTOMin}}, valuesOK: true},
		// macOS listeners lose TCP_RXT_CONNDROPTIME: 12 retransmissions again.
		{name: "unacked, user timeout, macOS listener", q: scenarioQuery(keepalive.ScenarioUnacked, keepalive.ModeListener, 250, 5*sec, macos),
			after: []keepalive.Window{{Min: 17930 * ms, Max: 54200 * ms}}, limits: []string{"TCP_MAXRXTSHIFT"}, uto: []time.Duration{0},
			quirks: [][]string{{QuirkUserTimeoutNotInherited, QuirkTimerUnmeasured}}, valuesOK: true},
		// Acceptance: 1s/1s/10 with a 3 s user timeout dies near 3 s on Linux;
		// Windows and macOS keep to keepalive.
		{name: "user-timeout 3s over 1s/1s/10", q: scenarioQuery(keepalive.ScenarioUserTimeout, keepalive.ModePerConn, 250, 3*sec, all3...), s: &s,
			after:  []keepalive.Window{{Min: 2048 * ms, Max: 3072 * ms}, {Min: 10 * sec, Max: 11500 * ms}, {Min: 10 * sec, Max: 11500 * ms}},
			fromT0: []*keepalive.Window{{Min: 3072 * ms, Max: 3072 * ms}, {Min: 11 * sec, Max: 11500 * ms}, {Min: 11 * sec, Max: 11500 * ms}},
			limits: []string{"TCP_USER_TIMEOUT", "TCP_KEEPCNT", "TCP_KEEPCNT"}, uto: []time.Duration{3 * sec, 3 * sec, 3 * sec},
			quirks: [][]string{nil, {QuirkInferred, QuirkTimerUnmeasured}, {QuirkTimerUnmeasured}}},
		{name: "user-timeout, listener mode", q: scenarioQuery(keepalive.ScenarioUserTimeout, keepalive.ModeListener, 250, 3*sec, linux, macos), s: &s,
			after:  []keepalive.Window{{Min: 2048 * ms, Max: 3072 * ms}, {Min: 10 * sec, Max: 7210*sec + 500*ms}},
			limits: []string{"TCP_USER_TIMEOUT", "TCP_KEEPCNT"}, uto: []time.Duration{3 * sec, 0},
			quirks: [][]string{{QuirkLinuxUserTimeout}, {QuirkListenerIdle, QuirkUserTimeoutNotInherited, QuirkTimerUnmeasured}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := PredictScenarios(tc.q, tc.s)
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind != "scenario" || len(m.OSes) != len(tc.q.Platforms) {
				t.Fatalf("kind %q, %d OSes", m.Kind, len(m.OSes))
			}
			for i, o := range m.OSes {
				pr := o.Prediction
				if pr.AfterFault != tc.after[i] {
					t.Errorf("%s: AfterFault = %s, want %s", o.Name, pr.AfterFault, tc.after[i])
				}
				if tc.fromT0 != nil && (pr.FromT0 == nil || *pr.FromT0 != *tc.fromT0[i]) {
					t.Errorf("%s: FromT0 = %v, want %s", o.Name, pr.FromT0, tc.fromT0[i])
				}
				if pr.Limit != tc.limits[i] || o.UserTimeout != tc.uto[i] {
					t.Errorf("%s: limit %q, user timeout %s; want %q, %s", o.Name, pr.Limit, o.UserTimeout, tc.limits[i], tc.uto[i])
				}
				if got := codes(o.Quirks); !slices.Equal(got, tc.quirks[i]) {
					t.Errorf("%s: quirks %v, want %v", o.Name, got, tc.quirks[i])
				}
				if tc.valuesOK && (o.ValuesFrom != "stock values (--os-defaults)" || len(pr.Values) < 3) {
					t.Errorf("%s: values from %q: %+v", o.Name, o.ValuesFrom, pr.Values)
				}
				for _, v := range pr.Values {
					if v.Source != keepalive.SourceDefault && v.Source != keepalive.SourceConstant {
						t.Errorf("%s: --os-defaults, yet %s came from %s", o.Name, v.Name, v.Source)
					}
				}
			}
		})
	}
}

// TestScenarioHostValues: without --os-defaults the host's own OS is
// modelled with the host's values, and says so; a read error is a note.
func TestScenarioHostValues(t *testing.T) {
	host := keepalive.Platform{OS: runtime.GOOS}
	if _, err := keepalive.RetransmitDefaults(host); err != nil {
		t.Skipf("no retransmission model for %s", runtime.GOOS)
	}
	defer func(f func() (keepalive.RetransmitLimits, error)) { localLimits = f }(localLimits)
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"read", nil, "the values are this host's"},
		{"partly read", errors.New("sysctl net.inet.tcp.rtt_min: no such entry"), "not every value could be read"},
	} {
		localLimits = func() (keepalive.RetransmitLimits, error) {
			l, _ := keepalive.RetransmitDefaults(host)
			l.Values[0].Source = "sysctl"
			return l, tc.err
		}
		q := scenarioQuery(keepalive.ScenarioUnacked, keepalive.ModePerConn, 250, 0, host)
		q.OSDefaults = false
		m, err := PredictScenarios(q, nil)
		if err != nil {
			t.Fatal(err)
		}
		o := m.OSes[0]
		if o.ValuesFrom != "this host's" || o.Prediction.Values[0].Source != "sysctl" || !strings.Contains(o.Quirks[0].Text, tc.want) {
			t.Errorf("%s: from %q, values %+v, quirks %+v", tc.name, o.ValuesFrom, o.Prediction.Values, o.Quirks)
		}
	}
}

// TestRunScenario: the flags of the scenarios, as `coordinator model` passes
// them, and the text.
func TestRunScenario(t *testing.T) {
	base := Request{OS: "linux,windows,macos", Mode: "listener", HZ: 250, HZSet: true, RTT: ms, OSDefaults: true, MinCount: 1, Top: 3}
	ka := func(r *Request) {
		r.Idle, r.Interval, r.Count, r.IdleSet, r.IntervalSet, r.CountSet = sec, sec, 10, true, true, true
	}
	ut := func(r *Request, uto time.Duration) {
		r.Scenario, r.UserTimeout, r.OSDefaults = "user-timeout", uto, false
	}
	for _, tc := range []struct {
		edit  func(*Request)
		want  []string // parts of the output, or of the error
		isErr bool
	}{
		{edit: func(r *Request) { r.Scenario = "unacked" }, want: []string{"scenario unacked: the server writes right after the peer went silent",
			"linux at HZ=250: 937.692 s – 939.736 s (15m39.736s) after the fault", "  limit     tcp_retries2 wins: 15 retransmissions",
			"windows: 18.9 s – 19.4 s after the fault", "macos: 17.93 s – 54.2 s after the fault", "  host      stock values (--os-defaults): net.ipv4.tcp_retries2 = 15 (default)"}},
		{edit: func(r *Request) { ut(r, 3*sec); ka(r) }, want: []string{
			"linux at HZ=250: 3.072 s after the last ACK, 2.048 s – 3.072 s after the fault", "TCP_USER_TIMEOUT 3s wins", "TCP_MAXRT 3s is documented"}},
		{edit: func(r *Request) { r.Scenario = "busy" }, isErr: true, want: []string{`--scenario "busy"`, "unacked", "user-timeout"}},
		{edit: func(r *Request) { r.Scenario, r.RTTSet, r.OSDefaults = "idle", true, false; ka(r) }, isErr: true, want: []string{"--rtt", "--scenario unacked"}},
		{edit: func(r *Request) { ut(r, 0); ka(r) }, isErr: true, want: []string{"needs --user-timeout"}},
		{edit: func(r *Request) { ut(r, 3*sec) }, isErr: true, want: []string{"--idle is required"}},
		{edit: func(r *Request) { r.Scenario, r.UserTimeout = "unacked", 1500*ms }, isErr: true,
			want: []string{"--user-timeout 1.5s", "windows's TCP_MAXRT takes whole seconds", "2s"}},
		{edit: func(r *Request) { r.Scenario, r.DetectWithin = "unacked", 10*sec }, isErr: true, want: []string{"--detect-within", "--scenario idle"}},
		{edit: func(r *Request) { r.Scenario, r.Results = "unacked", []string{"x.jsonl"} }, isErr: true, want: []string{"--results", "--scenario idle"}},
		{edit: func(r *Request) { r.Scenario, r.UserTimeout = "unacked", 3*time.Hour }, isErr: true, want: []string{"--user-timeout 3h0m0s", "2h0m0s"}},
		{edit: func(r *Request) { r.Scenario, r.RTT = "unacked", -ms }, isErr: true, want: []string{"--rtt -1ms"}},
	} {
		r := base
		tc.edit(&r)
		var out bytes.Buffer
		err := Run(&out, &bytes.Buffer{}, r)
		got := out.String()
		if tc.isErr {
			if err == nil {
				t.Errorf("%+v: no error", r)
				continue
			}
			got = err.Error()
		} else if err != nil {
			t.Errorf("%+v: %v", r, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("scenario %q: %q lacks %q", r.Scenario, got, w)
			}
		}
	}
}

// TestScenarioJSON: --json prints one ScenarioModel; the idle Model names
// its scenario too.
func TestScenarioJSON(t *testing.T) {
	m, err := PredictScenarios(scenarioQuery(keepalive.ScenarioUnacked, keepalive.ModeListener, 250, 0, linux), nil)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	decode(t, m, &doc)
	wantKeys(t, "scenario", doc, "schema", "kind", "query", "oses")
	wantKeys(t, "query", doc["query"].(map[string]any), "scenario", "rtt_ns", "os_defaults", "hz")
	o := doc["oses"].([]any)[0].(map[string]any)
	wantKeys(t, "oses[0]", o, "name", "platform", "option", "prediction", "values_from", "quirks")
	pr := o["prediction"].(map[string]any)
	wantKeys(t, "prediction", pr, "scenario", "after_fault", "limit", "verdict", "rule", "retransmit", "values")
	wantKeys(t, "retransmit", pr["retransmit"].(map[string]any), "from_write", "first_rto_ns", "first_retransmit", "min_retransmissions",
		"max_retransmissions", "limit", "budget_ns", "rule")
	if doc["kind"] != "scenario" || doc["query"].(map[string]any)["scenario"] != "unacked" {
		t.Errorf("kind %v, scenario %v", doc["kind"], doc["query"])
	}
	idle, err := Predict(query(keepalive.ModeListener, 250, linux), st(sec, sec, 3))
	if err != nil {
		t.Fatal(err)
	}
	idle.Query.Scenario = keepalive.ScenarioIdle
	decode(t, idle, &doc)
	if doc["query"].(map[string]any)["scenario"] != "idle" {
		t.Errorf("idle model query %v has no scenario", doc["query"])
	}
}
