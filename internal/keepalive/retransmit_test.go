package keepalive

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	ms  = time.Millisecond
	sec = time.Second
)

// limits returns p's stock retransmission values, changed by edit.
func limits(t *testing.T, goos string, edit func(*RetransmitLimits)) RetransmitLimits {
	t.Helper()
	l, err := RetransmitDefaults(Platform{OS: goos})
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&l)
	}
	return l
}

func TestTCPModelTimeout(t *testing.T) {
	for _, tc := range []struct {
		boundary int
		rtoMax   time.Duration
		want     time.Duration
	}{
		{15, 120 * sec, 924600 * ms}, // tcp(7), ip-sysctl.rst: "924.6 seconds"
		{5, 120 * sec, 12600 * ms},   // (2^6 − 1) × 200 ms; the lab's §6.3 run
		{9, 120 * sec, 204600 * ms},  // last doubling before the cap: ilog2(600) = 9
		{10, 120 * sec, 324600 * ms}, // one capped RTO more
		{15, 60 * sec, 522200 * ms},  // tcp_rto_max_ms = 60000: ilog2(300) = 8
		{0, 120 * sec, 200 * ms},
	} {
		if got := tcpModelTimeout(tc.boundary, tc.rtoMax); got != tc.want {
			t.Errorf("tcpModelTimeout(%d, %s) = %s, want %s", tc.boundary, tc.rtoMax, got, tc.want)
		}
	}
}

// TestPredictRetransmit: when each OS gives up on data a silent peer never
// acknowledges (docs/keepalive-models.md §4). near/within are checks on the
// window: near = the window reaches within tolerance of a value, within =
// the window lies inside [lo, hi], contains = the value is inside.
func TestPredictRetransmit(t *testing.T) {
	noTLP := func(l *RetransmitLimits) { l.TailLossProbe = false }
	for _, tc := range []struct {
		name     string
		goos     string
		edit     func(*RetransmitLimits)
		rtt, uto time.Duration
		hz       int
		limit    string
		want     *Window // exact window, when the model pins it
		near     time.Duration
		tol      time.Duration
		contains time.Duration
		rtx      [2]int
	}{
		// The acceptance cases: TCP_USER_TIMEOUT 5 s dies near 5 s after the
		// first retransmission, with or without HZ.
		{name: "linux TCP_USER_TIMEOUT 5s, HZ unknown", goos: "linux", rtt: ms, uto: 5 * sec, limit: "TCP_USER_TIMEOUT",
			near: 5 * sec, tol: sec, want: &Window{Min: 5402 * ms, Max: 6080250 * time.Microsecond}, rtx: [2]int{4, 4}},
		{name: "linux TCP_USER_TIMEOUT 5s, HZ=250", goos: "linux", rtt: ms, uto: 5 * sec, hz: 250, limit: "TCP_USER_TIMEOUT",
			near: 5 * sec, tol: sec, want: &Window{Min: 5420 * ms, Max: 5672 * ms}, rtx: [2]int{4, 4}},
		// tcp_retries2 = 15 with the RTO starting at TCP_RTO_MIN: the budget
		// 924.6 s, reached at the earliest 924.8 s after the write (the
		// first retransmission comes 200 ms after it).
		{name: "linux tcp_retries2 15 at RTO_MIN, no TLP, HZ unknown", goos: "linux", edit: noTLP, limit: "tcp_retries2",
			near: 924600 * ms, tol: sec, rtx: [2]int{15, 16}},
		{name: "linux tcp_retries2 15 at RTO_MIN, HZ unknown", goos: "linux", limit: "tcp_retries2",
			near: 924600 * ms, tol: sec, rtx: [2]int{15, 16}},
		// On the HZ=250 wheel the six capped RTOs take 120.832 s each and the
		// level-3 ones before them round up too: about 938 s, not 924.6.
		{name: "linux tcp_retries2 15, RTT 1ms, HZ=250", goos: "linux", rtt: ms, hz: 250, limit: "tcp_retries2",
			want: &Window{Min: 937692 * ms, Max: 939736 * ms}, rtx: [2]int{15, 15}},
		// The lab's measurements (docs/keepalive-models.md §6.3, veth RTT
		// ≈ 50 µs, HZ=250) fall inside the windows; without the tail loss
		// probe 13.49 s would not.
		{name: "lab: TCP_USER_TIMEOUT 5000 measured 5.58 s", goos: "linux", rtt: 50 * time.Microsecond, uto: 5 * sec, hz: 250,
			limit: "TCP_USER_TIMEOUT", contains: 5580 * ms, rtx: [2]int{4, 4}},
		{name: "lab: tcp_retries2 5 measured 13.49 s", goos: "linux", edit: func(l *RetransmitLimits) { l.Retries = 5 },
			rtt: 50 * time.Microsecond, hz: 250, limit: "tcp_retries2", contains: 13490 * ms, rtx: [2]int{5, 5}},
		// Windows [infer]: 5 retransmissions from 300 ms: 63 × 300 ms.
		{name: "windows TcpMaxDataRetransmissions 5", goos: "windows", rtt: ms, limit: "TcpMaxDataRetransmissions",
			want: &Window{Min: 18900 * ms, Max: 19400 * ms}, rtx: [2]int{5, 5}},
		{name: "windows TCP_MAXRT 5s", goos: "windows", rtt: ms, uto: 5 * sec, limit: "TCP_MAXRT",
			want: &Window{Min: 5 * sec, Max: 9800 * ms}, rtx: [2]int{4, 4}},
		{name: "windows RTT above MinRto", goos: "windows", rtt: 500 * ms, limit: "TcpMaxDataRetransmissions",
			want: &Window{Min: 31500 * ms, Max: 32 * sec}, rtx: [2]int{5, 5}},
		// macOS: 12 retransmissions, RTO 200 ms slop + 30 ms (off-subnet) or
		// 100 ms (local subnet) × tcp_backoff.
		{name: "macos TCP_MAXRXTSHIFT", goos: "darwin", rtt: ms, limit: "TCP_MAXRXTSHIFT",
			want: &Window{Min: 17930 * ms, Max: 54200 * ms}, rtx: [2]int{12, 12}},
		{name: "macos TCP_RXT_CONNDROPTIME 5s", goos: "darwin", rtt: ms, uto: 5 * sec, limit: "TCP_RXT_CONNDROPTIME",
			want: &Window{Min: 7330 * ms, Max: 8 * sec}, rtx: [2]int{5, 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Platform{OS: tc.goos}
			pr, err := PredictRetransmit(p, RetransmitOptions{Limits: limits(t, tc.goos, tc.edit), RTT: tc.rtt, UserTimeout: tc.uto, HZ: tc.hz})
			if err != nil {
				t.Fatal(err)
			}
			w := pr.FromWrite
			if pr.Limit != tc.limit {
				t.Errorf("Limit = %q, want %q", pr.Limit, tc.limit)
			}
			if tc.want != nil && w != *tc.want {
				t.Errorf("FromWrite = %s, want %s", w, *tc.want)
			}
			if tc.tol > 0 && (w.Min > tc.near+tc.tol || w.Max < tc.near-tc.tol) {
				t.Errorf("FromWrite = %s does not reach %s ± %s", w, tc.near, tc.tol)
			}
			if tc.contains > 0 && !w.Contains(tc.contains, 0) {
				t.Errorf("FromWrite = %s does not contain the measured %s", w, tc.contains)
			}
			if tc.uto > 0 && tc.goos == "linux" && w.Min < tc.uto {
				t.Errorf("FromWrite = %s starts before the user timeout %s", w, tc.uto)
			}
			if got := [2]int{pr.MinRetransmissions, pr.MaxRetransmissions}; got != tc.rtx {
				t.Errorf("retransmissions %v, want %v", got, tc.rtx)
			}
			if w.Min > w.Max || pr.Rule == "" {
				t.Errorf("bad prediction %+v", pr)
			}
		})
	}
}

func TestPredictRetransmitRejects(t *testing.T) {
	lin := limits(t, "linux", nil)
	for name, tc := range map[string]struct {
		p Platform
		o RetransmitOptions
	}{
		"limits of another OS": {Platform{OS: "windows"}, RetransmitOptions{Limits: lin}},
		"negative RTT":         {Platform{OS: "linux"}, RetransmitOptions{Limits: lin, RTT: -ms}},
		"unsupported OS":       {Platform{OS: "plan9"}, RetransmitOptions{Limits: RetransmitLimits{OS: "plan9", RTOMin: ms, RTOMax: sec}}},
	} {
		if _, err := PredictRetransmit(tc.p, tc.o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := RetransmitDefaults(Platform{OS: "plan9"}); err == nil {
		t.Error("RetransmitDefaults(plan9): no error")
	}
}

// TestLinuxLimitsFrom: the sysctls a host has override the defaults and say
// so; missing ones (older kernels) keep the constants.
func TestLinuxLimitsFrom(t *testing.T) {
	write := func(dir string, files map[string]string) {
		for n, v := range files {
			if err := os.WriteFile(filepath.Join(dir, n), []byte(v+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name    string
		files   map[string]string
		retries int
		rtoMin  time.Duration
		rtoMax  time.Duration
		tlp     bool
		sources map[string]string
		wantErr bool
	}{
		{name: "no sysctls: defaults", retries: 15, rtoMin: 200 * ms, rtoMax: 120 * sec, tlp: true,
			sources: map[string]string{"net.ipv4.tcp_retries2": SourceDefault, "TCP_RTO_MIN": SourceConstant}},
		{name: "newer kernel", files: map[string]string{"tcp_retries2": "8", "tcp_rto_min_us": "50000", "tcp_rto_max_ms": "60000", "tcp_early_retrans": "0"},
			retries: 8, rtoMin: 50 * ms, rtoMax: 60 * sec, tlp: false,
			sources: map[string]string{"net.ipv4.tcp_retries2": SourceSysctl, "net.ipv4.tcp_rto_min_us": SourceSysctl,
				"net.ipv4.tcp_rto_max_ms": SourceSysctl, "net.ipv4.tcp_early_retrans": SourceSysctl}},
		{name: "older kernel", files: map[string]string{"tcp_retries2": "15", "tcp_early_retrans": "3"},
			retries: 15, rtoMin: 200 * ms, rtoMax: 120 * sec, tlp: true,
			sources: map[string]string{"net.ipv4.tcp_retries2": SourceSysctl, "TCP_RTO_MIN": SourceConstant, "TCP_RTO_MAX": SourceConstant}},
		{name: "garbage keeps the default", files: map[string]string{"tcp_retries2": "lots"}, retries: 15, rtoMin: 200 * ms, rtoMax: 120 * sec, tlp: true,
			sources: map[string]string{"net.ipv4.tcp_retries2": SourceDefault}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(dir, tc.files)
			l, err := linuxLimitsFrom(dir)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if l.Retries != tc.retries || l.RTOMin != tc.rtoMin || l.RTOMax != tc.rtoMax || l.TailLossProbe != tc.tlp {
				t.Errorf("got %+v", l)
			}
			got := map[string]string{}
			for _, v := range l.Values {
				got[v.Name] = v.Source
			}
			for n, src := range tc.sources {
				if got[n] != src {
					t.Errorf("%s: source %q, want %q (values %+v)", n, got[n], src, l.Values)
				}
			}
			if len(l.Values) != 4 {
				t.Errorf("%d values, want 4 (a sysctl replaces its constant): %+v", len(l.Values), l.Values)
			}
		})
	}
}

// TestRetransmitDefaultsNamed: every typed value is listed with a source.
func TestRetransmitDefaultsNamed(t *testing.T) {
	for _, goos := range []string{"linux", "windows", "darwin"} {
		l := limits(t, goos, nil)
		if l.OS != goos || l.Retries == 0 || l.RTOMin == 0 || l.RTOMax == 0 || len(l.Values) < 3 {
			t.Errorf("%s: %+v", goos, l)
		}
		for _, v := range l.Values {
			if v.Source != SourceDefault && v.Source != SourceConstant || v.Name == "" || v.Value == "" || strings.Contains(v.Value, "%") {
				t.Errorf("%s: bad value %+v", goos, v)
			}
		}
	}
}
