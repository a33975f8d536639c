package report

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// csvColumns are runs.csv's header, documented in docs/report-json.md.
// Units are in the names: _s seconds, _ms milliseconds (3 decimals, so
// microseconds survive), instants RFC 3339 UTC with nanoseconds. An empty
// cell is a value the run does not have or the OS could not read back.
var csvColumns = []string{
	"run", "experiment", "group", "timeline", "source", "fixture", "lab", "emulated",
	"server_host", "server_os", "server_os_version", "server_build", "server_arch", "server_kalab", "server_hz", "server_caps",
	"server_clock_offset_ms", "server_clock_bound_ms",
	"client_host", "client_os", "client_os_version", "client_clock_offset_ms", "client_clock_bound_ms",
	"requested_idle_s", "requested_interval_s", "requested_count", "mode",
	"effective_enabled", "effective_idle_s", "effective_interval_s", "effective_count",
	"effective_user_timeout_s", "effective_user_timeout_opt", "effective_status", "effective_notes",
	"fault_kind", "fault_scope", "fault_direction", "fault_how", "fault_in_packets", "fault_out_packets",
	"expect", "outcome", "why", "failure",
	"model_idle_s", "model_interval_s", "model_count", "model_phase", "model_hz",
	"model_from_t0_min_ms", "model_from_t0_max_ms", "model_after_fault_min_ms", "model_after_fault_max_ms", "model_probes",
	"started_at", "ended_at", "accept", "last_peer", "fault", "fault_bound_ms", "ping_loss", "probes_at", "detection", "healed",
	"from_t0_ms", "after_fault_ms", "after_ping_loss_ms", "lateness_ms",
	"deviation_anchor", "deviation_ms", "deviation_resolution_ms", "deviation_verdict",
	"detected", "err", "errno", "errno_name", "probes", "ping_mode",
	"hold_ms", "survived", "echo_rtt_ms", "echo_err",
	// Appended last, so readers of the earlier columns keep working.
	"scenario", "user_timeout_s", "heartbeat_period_s", "heartbeat_misses",
}

// CSV renders runs.csv: one row per run with every anchor, for
// spreadsheets and scripts.
func (r *Report) CSV() ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(csvColumns); err != nil {
		return nil, fmt.Errorf("write runs.csv: %w", err)
	}
	for i, res := range r.runs {
		group := ""
		if i < len(r.Runs) {
			group = r.Runs[i].Group
		}
		row := csvRow(res, group)
		if len(row) != len(csvColumns) {
			return nil, fmt.Errorf("write runs.csv: run %s has %d columns, header %d", res.Run, len(row), len(csvColumns))
		}
		if err := w.Write(row); err != nil {
			return nil, fmt.Errorf("write runs.csv: %w", err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("write runs.csv: %w", err)
	}
	return b.Bytes(), nil
}

func csvRow(res results.Result, group string) []string {
	s, e, a, m := res.Requested, res.Effective, res.Anchors, res.Measured
	status, _ := compareEffective(res.Requested, res.Scenario, res.Effective)
	row := []string{
		res.Run, res.Experiment, group, timelineID(res.Run), sourceOf(res), bstr(res.Fixture), bstr(res.Lab), bstr(res.Emulated),
		res.Server.Name, res.Server.OS, res.Server.OSVersion, nz(res.Server.Build), res.Server.Arch, res.Server.Kalab, nz(res.Server.HZ), res.Server.Caps,
		millis(res.Server.ClockOffset), millis(res.Server.ClockBound),
		res.Client.Name, res.Client.OS, res.Client.OSVersion, millis(res.Client.ClockOffset), millis(res.Client.ClockBound),
		sec(s.Idle), sec(s.Interval), strconv.Itoa(s.Count), string(res.Mode),
		optBool(e.Enabled), optSec(e.Idle), optSec(e.Interval), optInt(e.Count),
		optSec(e.UserTimeout), e.UserTimeoutOpt, status, strings.Join(e.Notes, "; "),
		res.FaultKind, res.FaultScope, res.FaultDirection, res.FaultHow, u64(res.FaultInPackets), u64(res.FaultOutPackets),
		string(res.Expect), res.Outcome, res.Why, res.Failure,
	}
	if p := res.Model; p != nil {
		row = append(row, sec(p.Settings.Idle), sec(p.Settings.Interval), strconv.Itoa(p.Settings.Count), string(p.Phase), nz(p.HZ),
			millis(p.FromT0.Min), millis(p.FromT0.Max), millis(p.AfterFault.Min), millis(p.AfterFault.Max), strconv.Itoa(p.Probes))
	} else {
		row = append(row, make([]string, 10)...)
	}
	var probes []string
	for _, t := range a.Probes {
		probes = append(probes, instant(&t))
	}
	row = append(row,
		instant(&res.StartedAt), instant(&res.EndedAt), instant(a.Accept), instant(a.LastPeer), instant(a.Fault),
		optMS(a.Fault != nil, a.FaultBound), instant(a.PingLoss), strings.Join(probes, ";"), instant(a.Detection), instant(a.Healed),
		millisp(m.FromT0), millisp(m.AfterFault), millisp(m.AfterPingLoss), millisp(m.Lateness),
	)
	if d := deviation(res); d != nil {
		row = append(row, d.Anchor, millis(d.By), millis(d.Resolution), d.Verdict)
	} else {
		row = append(row, "", "", "", "")
	}
	probeCount := ""
	if res.Probes != nil {
		probeCount = strconv.Itoa(*res.Probes)
	}
	errno := ""
	if res.Errno != 0 {
		errno = strconv.Itoa(res.Errno)
	}
	hold := ""
	if res.Hold > 0 {
		hold = millis(res.Hold)
	}
	uto, period, misses := "", "", ""
	if res.UserTimeout > 0 {
		uto = sec(res.UserTimeout)
	}
	if h := res.Heartbeat; h != nil && !h.IsZero() {
		period, misses = sec(h.Period), strconv.Itoa(h.Misses)
	}
	return append(row, bstr(res.Detected), res.Err, errno, res.ErrnoName, probeCount, res.PingMode,
		hold, bstr(res.Survived), millisp(res.EchoRTT), res.EchoErr,
		string(cmp.Or(scenarioOf(res.Scenario), keepalive.ScenarioIdle)), uto, period, misses)
}

func bstr(b bool) string { return strconv.FormatBool(b) }

func nz(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func u64(n uint64) string { return strconv.FormatUint(n, 10) }

// sec writes a settings value in seconds, as precise as it is ("1", "1.5").
func sec(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

// ms writes a duration in milliseconds with microsecond precision.
func millis(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64)
}

func millisp(d *time.Duration) string {
	if d == nil {
		return ""
	}
	return millis(*d)
}

func optMS(ok bool, d time.Duration) string {
	if !ok {
		return ""
	}
	return millis(d)
}

func instant(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func optBool(o keepalive.Opt[bool]) string {
	if !o.Known {
		return ""
	}
	return bstr(o.Value)
}

func optSec(o keepalive.Opt[time.Duration]) string {
	if !o.Known {
		return ""
	}
	return sec(o.Value)
}

func optInt(o keepalive.Opt[int]) string {
	if !o.Known {
		return ""
	}
	return strconv.Itoa(o.Value)
}
