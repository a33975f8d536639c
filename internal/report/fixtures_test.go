package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/probe"
	"github.com/kalab-dev/kalab/internal/results"
)

// The Windows and macOS results in testdata/ are fixtures: kalab has no
// Windows or macOS measurements yet, and the cross-OS report still needs
// three OSes to be built and tested. They are built here from the reference
// model (keepalive.Predict, keepalive.Settings.Validate, the read-back rules
// of sockopt_windows.go and sockopt_darwin.go) and carry Fixture=true, so
// every report labels them "fixture (model, not measured)".
//
// Regenerate after a model change with
//
//	go test ./internal/report -run TestFixtures -gen-fixtures
//
// and review the diff; TestFixtures fails while the committed files differ
// from what the model says.
var genFixtures = flag.Bool("gen-fixtures", false, "rewrite testdata/{windows,macos}-fixture.jsonl from the reference model")

// fixtureCell is one (settings, mode, fault) cell of a fixture experiment.
type fixtureCell struct {
	s           keepalive.Settings
	mode        keepalive.Mode
	kind, scope string
	reps        int
}

// fixtureServer is a server host and the cells it ran.
type fixtureServer struct {
	host, client results.Host
	ip, clientIP string
	cells        []fixtureCell
}

// fixtureExperiment is one fixture file.
type fixtureExperiment struct {
	name, file string
	start      time.Time
	// settle is the configured settle time; 0 = the planner's automatic
	// 2×max(idle, interval) + 0.5 s for the effective settings.
	settle  time.Duration
	servers []fixtureServer
}

func fixtureHost(name, os, version string, build int, arch string) results.Host {
	// No agent ran: the version says so, and there is no clock to bound.
	return results.Host{Name: name, OS: os, Arch: arch, OSVersion: version, Build: build, Kalab: "fixture",
		Caps: "drop,drop-host,pause,kill,privileged"}
}

func fixtureExperiments() []fixtureExperiment {
	s := func(idle, intvl time.Duration, cnt int) keepalive.Settings {
		return keepalive.Settings{Idle: idle, Interval: intvl, Count: cnt}
	}
	sec := time.Second
	s113, s1310, s1110 := s(sec, sec, 3), s(sec, 3*sec, 10), s(sec, sec, 10)
	winClient := fixtureHost("win-client", "windows", "10.0.26100", 26100, "amd64")
	macClient := fixtureHost("mac-client", "darwin", "15.1", 0, "arm64")
	return []fixtureExperiment{{
		name: "windows-fixture", file: "windows-fixture.jsonl",
		start: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC),
		servers: []fixtureServer{{
			// Windows 10 1607: before 1703 (no TCP_KEEPCNT) and 1709 (no
			// TCP_KEEPIDLE/TCP_KEEPINTVL): SIO_KEEPALIVE_VALS, count fixed at 10.
			host: fixtureHost("win10-1607", "windows", "10.0.14393", 14393, "amd64"), client: winClient,
			ip: "192.0.2.10", clientIP: "192.0.2.20",
			cells: []fixtureCell{
				{s1310, keepalive.ModeListener, results.KindDrop, "host", 3},
				{s1110, keepalive.ModeListener, results.KindDrop, "host", 3},
				{s1310, keepalive.ModeListener, results.KindPause, "", 2},
				{s1310, keepalive.ModeListener, results.KindKill, "", 2},
				// Count 3 cannot be set: the server role refuses it.
				{s113, keepalive.ModeListener, results.KindDrop, "flow", 1},
			},
		}, {
			host: fixtureHost("win11-24h2", "windows", "10.0.26100", 26100, "amd64"), client: winClient,
			ip: "192.0.2.11", clientIP: "192.0.2.20",
			cells: []fixtureCell{
				{s113, keepalive.ModeListener, results.KindDrop, "flow", 3},
				{s113, keepalive.ModeListener, results.KindPause, "", 2},
				{s113, keepalive.ModeListener, results.KindKill, "", 2},
				{s1310, keepalive.ModeListener, results.KindDrop, "host", 3},
				{s1110, keepalive.ModeListener, results.KindDrop, "host", 3},
				{s113, keepalive.ModeListenerGoDefault, results.KindDrop, "flow", 1},
			},
		}},
	}, {
		name: "macos-fixture", file: "macos-fixture.jsonl",
		start: time.Date(2026, 11, 21, 14, 0, 0, 0, time.UTC),
		// A fixed settle keeps the listener cell (effective idle 2 h) from
		// idling 4 h before its fault; its config would need max_run = "3h".
		settle: 3 * time.Second,
		servers: []fixtureServer{{
			host: fixtureHost("mac-sequoia", "darwin", "15.1", 0, "arm64"), client: macClient,
			ip: "192.0.2.30", clientIP: "192.0.2.40",
			cells: []fixtureCell{
				// XNU never copies t_keepidle to the accepted socket.
				{s113, keepalive.ModeListener, results.KindDrop, "flow", 1},
				{s113, keepalive.ModePerConn, results.KindDrop, "flow", 3},
				{s113, keepalive.ModePerConn, results.KindDrop, "host", 2},
				{s113, keepalive.ModePerConn, results.KindPause, "", 2},
				{s113, keepalive.ModePerConn, results.KindKill, "", 2},
				{s1310, keepalive.ModePerConn, results.KindDrop, "host", 3},
			},
		}},
	}}
}

// fixtureEffective is what the OS's read-back (sockopt_windows.go,
// sockopt_darwin.go) reports for settings applied in a mode.
func fixtureEffective(h results.Host, req keepalive.Settings, mode keepalive.Mode) keepalive.Effective {
	k := func(d time.Duration) keepalive.Opt[time.Duration] {
		return keepalive.Opt[time.Duration]{Value: d, Known: true}
	}
	applied := req
	if mode == keepalive.ModeListenerGoDefault {
		applied = goDefault
	}
	e := keepalive.Effective{Enabled: keepalive.Opt[bool]{Value: true, Known: true}}
	switch h.OS {
	case "windows":
		// TCP_MAXRT's default is not documented: the fixture does not claim one.
		e.UserTimeoutOpt = "TCP_MAXRT"
		if h.Build >= keepalive.WindowsBuildKeepIdle {
			e.Idle, e.Interval = k(applied.Idle), k(applied.Interval)
		} else {
			e.Notes = append(e.Notes, fmt.Sprintf("build %d < %d: idle and interval were set with SIO_KEEPALIVE_VALS, which cannot be read back", h.Build, keepalive.WindowsBuildKeepIdle))
		}
		if h.Build >= keepalive.WindowsBuildKeepCnt {
			e.Count = keepalive.Opt[int]{Value: applied.Count, Known: true}
		} else {
			e.Count = keepalive.Opt[int]{Value: keepalive.WindowsFixedCount, Known: true}
			e.Notes = append(e.Notes, fmt.Sprintf("build %d < %d: the probe count is fixed at %d by the OS and cannot be set", h.Build, keepalive.WindowsBuildKeepCnt, keepalive.WindowsFixedCount))
		}
	case "darwin":
		e.UserTimeoutOpt, e.UserTimeout = "TCP_RXT_CONNDROPTIME", k(0)
		e.Idle, e.Interval = k(applied.Idle), k(applied.Interval)
		e.Count = keepalive.Opt[int]{Value: applied.Count, Known: true}
		if mode != keepalive.ModePerConn {
			d, _ := keepalive.Defaults(keepalive.Platform{OS: "darwin"})
			e.Idle = k(d.Idle)
			e.Notes = append(e.Notes, fmt.Sprintf("TCP_KEEPALIVE is 0 on the socket: the system default net.inet.tcp.keepidle = %s applies", d.Idle))
		}
	}
	return e
}

// fixtureErr is the blocked Read's error as Go reports it on each OS.
func fixtureErr(os, local, remote string) (string, int, string) {
	conn := fmt.Sprintf("read tcp %s:50123->%s:49712: ", local, remote)
	if os == "windows" {
		return conn + "wsarecv: A connection attempt failed because the connected party did not properly respond after a period of time, or established connection failed because connected host has failed to respond.", 10060, "WSAETIMEDOUT"
	}
	return conn + "read: operation timed out", 60, "ETIMEDOUT"
}

// fixtureHow says that no fault was applied, and what a real run uses.
func fixtureHow(os, kind, scope string) string {
	how := map[string]map[string]string{
		"windows": {"drop flow": "WFP block filters on the flow", "drop host": "WFP block filters on all but the serf port",
			"pause": "NtSuspendProcess of the client", "kill": "TerminateProcess of the client"},
		"darwin": {"drop flow": "a pf anchor dropping the flow", "drop host": "a pf anchor dropping all but the serf port",
			"pause": "SIGSTOP of the client", "kill": "SIGKILL of the client"},
	}[os][faultName(kind, scope, "", 0, false)]
	return "none: fixture built from the model (a real run uses " + how + ")"
}

// fixtureRun builds one run as the executor would record it if the OS
// behaved exactly as the model says: detection at the model's earliest
// instant after T0, the fault landing at a different point of the answered
// probe cycle in each repetition (spread evenly over the cycle), the ping
// loss one stall period after the fault (probe's default watchdog), the heal
// one collect poll after the detection. Windows and macOS expose no
// TCP_INFO to kalab yet, so T0 and the probe instants are not recorded:
// the comparison with the model goes through the fault instant.
func fixtureRun(t *testing.T, fx fixtureExperiment, srv fixtureServer, cellNo, rep int, c fixtureCell, start time.Time) results.Result {
	t.Helper()
	res := results.Result{
		Schema: results.Schema, Experiment: fx.name,
		Run:  fmt.Sprintf("%s-%s-%s-%d-%d", fx.name, srv.host.Name, srv.client.Name, cellNo, rep),
		Cell: cellNo, Rep: rep, StartedAt: start, Fixture: true,
		Server: srv.host, Client: srv.client, Requested: c.s, Mode: c.mode,
		FaultKind: c.kind, FaultScope: c.scope, Expect: results.Expect(c.kind, ""),
	}
	plat := keepalive.Platform{OS: srv.host.OS, Build: srv.host.Build, Version: srv.host.OSVersion}
	if err := c.s.Validate(plat); err != nil {
		// role.StartServer validates against the local platform before it
		// listens; the executor records the failed step.
		res.Outcome = results.OutcomeFailed
		res.Failure = fmt.Sprintf("prepare server: server role %s: %v", res.Run, err)
		res.EndedAt = start.Add(40 * time.Millisecond)
		return res
	}
	res.Effective = fixtureEffective(srv.host, c.s, c.mode)
	eff, ok := res.Effective.Settings()
	if !ok {
		eff = c.s
	}
	settle := fx.settle
	if settle == 0 {
		settle = 2*max(eff.Idle, eff.Interval) + 500*time.Millisecond
	}
	phase := keepalive.PhaseCycling
	if settle < eff.Idle {
		phase = keepalive.PhaseFirstIdle
	}
	pred, err := keepalive.Predict(plat, eff, phase, keepalive.ModelOptions{})
	if err != nil {
		t.Fatalf("%s: %v", res.Run, err)
	}
	res.Model = &pred

	at := func(d time.Duration) *time.Time { x := start.Add(d); return &x }
	accept := 40 * time.Millisecond
	fault := accept + settle
	res.Anchors.Accept, res.Anchors.Fault = at(accept), at(fault)
	// T0: the last answered probe before the fault (cycling), or the ACK of
	// the greeting (first idle).
	t0 := accept + time.Millisecond
	if phase == keepalive.PhaseCycling {
		t0 = fault - pred.Cycle.Min*time.Duration(2*rep-1)/time.Duration(2*c.reps)
	}
	switch res.Expect {
	case results.ExpectNotDetected:
		healed := fault + pred.AfterFault.Max + 5*time.Second // the default margin
		res.Anchors.Healed = at(healed)
		res.EndedAt = start.Add(healed + 100*time.Millisecond)
		res.FaultHow = fixtureHow(srv.host.OS, c.kind, c.scope)
		res.Outcome, res.Why = results.OutcomePass, "not detected within the window + margin, as expected"
		return res
	case results.ExpectImmediate:
		// The model says immediate: the peer's kernel closes at once.
		res.Anchors.Detection = at(fault)
		res.Measured.AfterFault = dur(0)
		res.Detected, res.Err, res.ErrnoName = true, "EOF", "EOF"
		res.EndedAt = start.Add(fault + 100*time.Millisecond)
		res.FaultHow = fixtureHow(srv.host.OS, c.kind, c.scope)
		res.Outcome, res.Why = results.OutcomePass, "peer closed at once"
		return res
	}
	detect := t0 + pred.FromT0.Min
	res.Anchors.Detection = at(detect)
	res.Measured.AfterFault = dur(detect - fault)
	res.FaultHow = fixtureHow(srv.host.OS, c.kind, c.scope)
	// Packets the drop rules would count toward the client: the unanswered
	// probes, plus the ICMP echoes (every probe.DefaultInterval) of a host drop.
	res.FaultInPackets = uint64(pred.Probes)
	if c.scope == "host" {
		loss := fault + probe.DefaultStallFactor*probe.DefaultInterval
		res.Anchors.PingLoss = at(loss)
		res.Measured.AfterPingLoss = dur(detect - loss)
		res.FaultInPackets += uint64((detect - fault) / probe.DefaultInterval)
	}
	healed := detect + 250*time.Millisecond
	res.Anchors.Healed = at(healed)
	res.EndedAt = start.Add(healed + 100*time.Millisecond)
	res.Detected = true
	res.Err, res.Errno, res.ErrnoName = fixtureErr(srv.host.OS, srv.ip, srv.clientIP)
	if af := *res.Measured.AfterFault; af < pred.AfterFault.Min || af > pred.AfterFault.Max+results.LateTolerance(pred) {
		t.Fatalf("%s: fixture detection − fault %s outside its own model %s", res.Run, af, pred.AfterFault)
	}
	res.Outcome, res.Why = results.OutcomePass, "detected inside the model window"
	return res
}

// buildFixtures returns each fixture file's results.
func buildFixtures(t *testing.T) map[string][]results.Result {
	t.Helper()
	out := map[string][]results.Result{}
	for _, fx := range fixtureExperiments() {
		next := fx.start
		for _, srv := range fx.servers {
			for i, c := range srv.cells {
				for rep := 1; rep <= c.reps; rep++ {
					r := fixtureRun(t, fx, srv, i+1, rep, c, next)
					out[fx.file] = append(out[fx.file], r)
					next = r.EndedAt.Add(time.Second).Truncate(time.Second)
				}
			}
		}
	}
	return out
}

func encodeJSONL(t *testing.T, rs []results.Result) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, r := range rs {
		// The same encoding as results.Store.Append.
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(append(line, '\n'))
	}
	return b.Bytes()
}

// TestFixtures keeps testdata/{windows,macos}-fixture.jsonl equal to what
// the model says, marked as fixtures, and readable by results.Read.
func TestFixtures(t *testing.T) {
	for file, rs := range buildFixtures(t) {
		t.Run(file, func(t *testing.T) {
			path := filepath.Join("..", "..", "testdata", file)
			want := encodeJSONL(t, rs)
			if *genFixtures {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/report -run TestFixtures -gen-fixtures)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s differs from the reference model's fixtures (run go test ./internal/report -run TestFixtures -gen-fixtures and review the diff)", path)
			}
			back, err := results.Read(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range back {
				if !r.Fixture || r.Lab || r.Server.Kalab != "fixture" {
					t.Errorf("%s: fixture=%v lab=%v kalab=%q: a fixture must be marked as one", r.Run, r.Fixture, r.Lab, r.Server.Kalab)
				}
			}
		})
	}
}
