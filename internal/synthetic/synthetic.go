// Package synthetic builds large results files from the reference model
// for benchmarks: every run is what the executor would record if the OS
// behaved as keepalive.Predict says, with the detection spread inside the
// model window, a little jitter and a few deliberate deviations. Every run
// is marked Fixture and belongs to the experiment "synthetic", so a report
// labels it "fixture (model, not measured)", never as a measurement.
//
// The output is deterministic: the random numbers come from math/rand/v2's
// PCG with a fixed PCG state, so the same n always gives the same runs.
package synthetic

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// Experiment is the experiment name every synthetic run carries.
const Experiment = "synthetic"

// server is one synthetic server host with the client that faces it.
type server struct {
	host, client results.Host
	modes        []keepalive.Mode
}

// cell is one (server, settings, mode, fault) combination.
type cell struct {
	srv         server
	s           keepalive.Settings
	mode        keepalive.Mode
	kind, scope string
}

func host(name, os, version string, build, hz int, arch string) results.Host {
	// No agent ran: the version says so.
	return results.Host{Name: name, OS: os, Arch: arch, OSVersion: version, Build: build, HZ: hz, Kalab: "synthetic",
		Caps: "drop,drop-host,pause,kill,privileged"}
}

// servers are 3 Linux, 2 Windows and 2 macOS servers.
func servers() []server {
	lc := host("lin-client", "linux", "6.12.0", 0, 250, "amd64")
	wc := host("win-client", "windows", "10.0.26100", 26100, 0, "amd64")
	mc := host("mac-client", "darwin", "15.1", 0, 0, "arm64")
	linModes := []keepalive.Mode{keepalive.ModeListener, keepalive.ModePerConn}
	return []server{
		{host("lin-a", "linux", "6.12.0", 0, 250, "amd64"), lc, linModes},
		{host("lin-b", "linux", "6.1.0", 0, 1000, "amd64"), lc, linModes},
		{host("lin-c", "linux", "6.18.4", 0, 100, "arm64"), lc, linModes},
		{host("win10-22h2", "windows", "10.0.19045", 19045, 0, "amd64"), wc, []keepalive.Mode{keepalive.ModeListener}},
		{host("win11-24h2", "windows", "10.0.26100", 26100, 0, "amd64"), wc, []keepalive.Mode{keepalive.ModeListener}},
		{host("mac-sonoma", "darwin", "14.7", 0, 0, "arm64"), mc, []keepalive.Mode{keepalive.ModePerConn}},
		{host("mac-sequoia", "darwin", "15.1", 0, 0, "arm64"), mc, []keepalive.Mode{keepalive.ModePerConn}},
	}
}

func cells() []cell {
	sec := time.Second
	set := []keepalive.Settings{
		{Idle: sec, Interval: sec, Count: 3}, {Idle: sec, Interval: 3 * sec, Count: 10},
		{Idle: sec, Interval: sec, Count: 10}, {Idle: 2 * sec, Interval: sec, Count: 5},
	}
	faults := [][2]string{{results.KindDrop, "flow"}, {results.KindDrop, "host"}, {results.KindPause, ""}, {results.KindKill, ""}}
	var out []cell
	for _, srv := range servers() {
		for _, s := range set {
			for _, m := range srv.modes {
				for _, f := range faults {
					out = append(out, cell{srv, s, m, f[0], f[1]})
				}
			}
		}
	}
	return out
}

// Results returns n synthetic runs, the same for the same n: the cells
// (server, settings, mode, fault) in turn, repeated until n runs exist.
// Each run's outcome is what results.Judge says of it.
func Results(n int) []results.Result {
	rng := rand.New(rand.NewPCG(0x6b616c6162, 0x73796e7468)) // a fixed PCG state
	cs := cells()
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	out := make([]results.Result, 0, max(n, 0))
	for i := range n {
		c := cs[i%len(cs)]
		r := run(rng, c, i%len(cs)+1, i/len(cs)+1, start)
		out = append(out, r)
		start = r.EndedAt.Add(time.Second).Truncate(time.Second)
	}
	return out
}

func effective(s keepalive.Settings, os string) keepalive.Effective {
	k := func(d time.Duration) keepalive.Opt[time.Duration] {
		return keepalive.Opt[time.Duration]{Value: d, Known: true}
	}
	e := keepalive.Effective{Enabled: keepalive.Opt[bool]{Value: true, Known: true},
		Idle: k(s.Idle), Interval: k(s.Interval), Count: keepalive.Opt[int]{Value: s.Count, Known: true}}
	switch os {
	case "linux":
		e.UserTimeoutOpt, e.UserTimeout = "TCP_USER_TIMEOUT", k(0)
	case "windows":
		e.UserTimeoutOpt = "TCP_MAXRT"
	case "darwin":
		e.UserTimeoutOpt, e.UserTimeout = "TCP_RXT_CONNDROPTIME", k(0)
	}
	return e
}

// errOf is the blocked Read's error as Go reports it on each OS.
func errOf(os string) (string, int, string) {
	conn := "read tcp 192.0.2.10:7000->192.0.2.20:50123: "
	switch os {
	case "windows":
		return conn + "wsarecv: A connection attempt failed because the connected party did not properly respond after a period of time.", 10060, "WSAETIMEDOUT"
	case "darwin":
		return conn + "read: operation timed out", 60, "ETIMEDOUT"
	}
	return conn + "read: connection timed out", 110, "ETIMEDOUT"
}

func dur(d time.Duration) *time.Duration { return &d }

// jitter is a uniform duration in [0, d).
func jitter(rng *rand.Rand, d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rng.Int64N(int64(d)))
}

// run builds one run of cell c. About 1 run in 100 deviates: a detection
// late by more than the tolerance, a pause that was noticed, or a kill
// noticed only after a while.
func run(rng *rand.Rand, c cell, cellNo, rep int, start time.Time) results.Result {
	srv := c.srv
	res := results.Result{
		Schema: results.Schema, Experiment: Experiment,
		Run:  fmt.Sprintf("synthetic-%s-%d-%d", srv.host.Name, cellNo, rep),
		Name: fmt.Sprintf("%s·%s·%s→%s·#%d", faultName(c.kind, c.scope), c.s.Short(), srv.host.Name, srv.client.Name, rep),
		Cell: cellNo, Rep: rep, StartedAt: start, Fixture: true,
		Server: srv.host, Client: srv.client, Requested: c.s, Mode: c.mode,
		FaultKind: c.kind, FaultScope: c.scope, Expect: results.Expect(c.kind, ""),
		FaultHow: "none: synthetic run built from the model",
	}
	plat := keepalive.Platform{OS: srv.host.OS, Build: srv.host.Build, Version: srv.host.OSVersion}
	res.Effective = effective(c.s, srv.host.OS)
	pred, err := keepalive.Predict(plat, c.s, keepalive.PhaseCycling, keepalive.ModelOptions{HZ: srv.host.HZ})
	if err != nil {
		res.Outcome, res.Failure = results.OutcomeFailed, "model: "+err.Error()
		res.EndedAt = start.Add(40 * time.Millisecond)
		return res
	}
	res.Model = &pred
	deviate := rng.IntN(100) == 0
	at := func(d time.Duration) *time.Time { x := start.Add(d); return &x }
	accept := 40*time.Millisecond + jitter(rng, 5*time.Millisecond)
	settle := 2*max(c.s.Idle, c.s.Interval) + 500*time.Millisecond
	fault := accept + settle
	res.Anchors.Accept, res.Anchors.Fault = at(accept), at(fault)
	end := fault
	switch res.Expect {
	case results.ExpectNotDetected:
		end = fault + pred.AfterFault.Max + 5*time.Second
		if deviate {
			d := fault + pred.AfterFault.Min + jitter(rng, pred.AfterFault.Max-pred.AfterFault.Min)
			detected(&res, srv.host.OS, at(d), d-fault)
			end = d
		}
		res.Anchors.Healed = at(end)
	case results.ExpectImmediate:
		d := fault + jitter(rng, 3*time.Millisecond)
		if deviate {
			d += 2 * time.Second
		}
		res.Detected, res.Err, res.ErrnoName = true, "EOF", "EOF"
		res.Anchors.Detection, res.Measured.AfterFault = at(d), dur(d-fault)
		end = d
	default:
		// T0: the last answered probe (or the greeting) before the fault,
		// somewhere in the probe cycle.
		t0 := fault - jitter(rng, pred.Cycle.Min)
		span := pred.FromT0.Max - pred.FromT0.Min
		fromT0 := pred.FromT0.Min + jitter(rng, span+1) + jitter(rng, 2*time.Millisecond)
		if deviate {
			fromT0 = pred.FromT0.Max + results.LateTolerance(pred) + 100*time.Millisecond + jitter(rng, time.Second)
		}
		d := t0 + fromT0
		detected(&res, srv.host.OS, at(d), d-fault)
		if srv.host.OS == "linux" {
			// Only Linux exposes TCP_INFO: T0 and the probes.
			res.Anchors.LastPeer = at(t0)
			res.Measured.FromT0 = dur(fromT0)
			res.Measured.Lateness = dur(fromT0 - pred.FromT0.Min)
			probes := pred.Probes
			res.Probes = &probes
			for p := range probes {
				res.Anchors.Probes = append(res.Anchors.Probes, *at(t0 + c.s.Idle + time.Duration(p)*c.s.Interval))
			}
		}
		if c.scope == "host" {
			loss := min(fault+time.Second, d)
			res.Anchors.PingLoss = at(loss)
			res.Measured.AfterPingLoss = dur(d - loss)
		}
		end = d + 250*time.Millisecond
		res.Anchors.Healed = at(end)
	}
	res.EndedAt = start.Add(end + 100*time.Millisecond)
	res.Outcome, res.Why = results.Judge(res, srv.host.HZ)
	return res
}

// detected records a keepalive timeout at instant d, after the fault.
func detected(res *results.Result, os string, d *time.Time, afterFault time.Duration) {
	res.Detected = true
	res.Anchors.Detection = d
	res.Measured.AfterFault = dur(afterFault)
	res.Err, res.Errno, res.ErrnoName = errOf(os)
}

func faultName(kind, scope string) string {
	if scope == "" {
		return kind
	}
	return kind + "-" + scope
}
