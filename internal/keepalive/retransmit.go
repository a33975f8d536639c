package keepalive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/unsupported"
)

// Where a HostValue came from (HostValue.Source).
const (
	// SourceSysctl: read from this host's sysctls (/proc/sys on Linux,
	// sysctl(3) on macOS).
	SourceSysctl = "sysctl"
	// SourceRegistry: read from this host's registry (Windows).
	SourceRegistry = "registry"
	// SourceDefault: the OS's stock value, not read from any host (another
	// OS than this host's, stock values asked for, or the host does not set
	// it: an absent registry value means the default).
	SourceDefault = "default"
	// SourceConstant: a kernel constant that no setting changes.
	SourceConstant = "constant"
)

// HostValue is one OS value a retransmission model used, as the OS names
// it, and where it came from.
type HostValue struct {
	// Name is the sysctl (net.ipv4.tcp_retries2), registry value
	// (TcpMaxDataRetransmissions) or kernel constant (TCP_MAXRXTSHIFT).
	Name string `json:"name"`
	// Value is the value in the OS's own unit, e.g. "15", "200000 us".
	Value string `json:"value"`
	// Source is one of the Source* constants.
	Source string `json:"source"`
}

// RetransmitLimits are the values that decide when an OS gives up on data
// the peer never acknowledges (docs/keepalive-models.md §4). The typed
// fields feed PredictRetransmit; Values lists them as the OS names them,
// with their sources, for people.
type RetransmitLimits struct {
	// OS is the GOOS whose kernel the values describe.
	OS string `json:"os"`
	// Retries is the retransmission limit: Linux net.ipv4.tcp_retries2
	// (15; a time budget, not a count: tcp_model_timeout), Windows
	// TcpMaxDataRetransmissions (5), macOS TCP_MAXRXTSHIFT (12, constant).
	Retries int `json:"retries"`
	// RTOMin is the RTO floor: Linux tcp_rto_min_us (TCP_RTO_MIN, 200 ms),
	// added to the smoothed RTT; Windows MinRto (300 ms, the Internet
	// template's); macOS t_rttmin for a peer off the local subnet
	// (TCPTV_REXMTMIN, 30 ms).
	RTOMin time.Duration `json:"rto_min_ns"`
	// RTOMinLocal is macOS's t_rttmin for a peer on the local subnet
	// (net.inet.tcp.rtt_min, 100 ms); 0 elsewhere.
	RTOMinLocal time.Duration `json:"rto_min_local_ns,omitempty"`
	// RTOMax caps the backed-off RTO: Linux tcp_rto_max_ms (TCP_RTO_MAX,
	// 120 s), Windows 60 s, macOS TCPTV_REXMTMAX (64 s).
	RTOMax time.Duration `json:"rto_max_ns"`
	// Slop is macOS net.inet.tcp.rexmt_slop (200 ms), added to every RTO of
	// an established connection; 0 elsewhere.
	Slop time.Duration `json:"slop_ns,omitempty"`
	// TailLossProbe is Linux net.ipv4.tcp_early_retrans 3 or 4 (the
	// default 3): a loss probe goes out first and the retransmission timer
	// starts after it.
	TailLossProbe bool `json:"tail_loss_probe,omitempty"`
	// Values are the values above as the OS names them, with sources.
	Values []HostValue `json:"values"`
}

// Stock values (docs/keepalive-models.md §4 cites each).
const (
	linuxRetries2     = 15                     // net.ipv4.tcp_retries2, ip-sysctl.rst
	linuxRTOMin       = 200 * time.Millisecond // TCP_RTO_MIN = HZ/5, include/net/tcp.h
	linuxRTOMax       = 120 * time.Second      // TCP_RTO_MAX, include/net/tcp.h
	linuxEarlyRetrans = 3                      // net.ipv4.tcp_early_retrans: TLP on
	windowsRetries    = 5                      // TcpMaxDataRetransmissions
	windowsMinRTO     = 300 * time.Millisecond // MinRto of the Internet template
	windowsRTOMax     = 60 * time.Second       // TCP_MAXRT docs: "maximum value of 60sec"
	darwinMaxShift    = 12                     // TCP_MAXRXTSHIFT, bsd/netinet/tcp_timer.h
	darwinRexmtMin    = 30 * time.Millisecond  // TCPTV_REXMTMIN = TCP_RETRANSHZ/33
	darwinRTTMinLocal = 100 * time.Millisecond // net.inet.tcp.rtt_min (tcp_TCPTV_MIN)
	darwinRexmtMax    = 64 * time.Second       // TCPTV_REXMTMAX
	darwinRexmtSlop   = 200 * time.Millisecond // net.inet.tcp.rexmt_slop (TCPTV_REXMTSLOP)
)

// darwinBackoff is XNU's tcp_backoff[] (bsd/netinet/tcp_timer.c).
var darwinBackoff = [darwinMaxShift + 1]int64{1, 2, 4, 8, 16, 32, 64, 64, 64, 64, 64, 64, 64}

// set records a value under name, replacing an earlier one of the same
// name or, with replace, of that name (a constant a sysctl supersedes).
func (l *RetransmitLimits) set(replace, name, value, source string) {
	for i, v := range l.Values {
		if v.Name == name || v.Name == replace {
			l.Values[i] = HostValue{Name: name, Value: value, Source: source}
			return
		}
	}
	l.Values = append(l.Values, HostValue{Name: name, Value: value, Source: source})
}

// RetransmitDefaults returns p's stock retransmission values, each with
// source "default" or "constant": what a host nobody tuned uses.
func RetransmitDefaults(p Platform) (RetransmitLimits, error) {
	itoa := strconv.Itoa
	switch p.OS {
	case "linux":
		return RetransmitLimits{OS: "linux", Retries: linuxRetries2, RTOMin: linuxRTOMin, RTOMax: linuxRTOMax, TailLossProbe: true,
			Values: []HostValue{
				{"net.ipv4.tcp_retries2", itoa(linuxRetries2), SourceDefault},
				{"TCP_RTO_MIN", "200 ms", SourceConstant},
				{"TCP_RTO_MAX", "120 s", SourceConstant},
				{"net.ipv4.tcp_early_retrans", itoa(linuxEarlyRetrans), SourceDefault},
			}}, nil
	case "windows":
		return RetransmitLimits{OS: "windows", Retries: windowsRetries, RTOMin: windowsMinRTO, RTOMax: windowsRTOMax,
			Values: []HostValue{
				{"TcpMaxDataRetransmissions", itoa(windowsRetries), SourceDefault},
				{"MinRto", "300 ms (Internet template)", SourceDefault},
				{"maximum RTO", "60 s", SourceConstant},
			}}, nil
	case "darwin":
		return RetransmitLimits{OS: "darwin", Retries: darwinMaxShift, RTOMin: darwinRexmtMin, RTOMinLocal: darwinRTTMinLocal,
			RTOMax: darwinRexmtMax, Slop: darwinRexmtSlop,
			Values: []HostValue{
				{"TCP_MAXRXTSHIFT", itoa(darwinMaxShift), SourceConstant},
				{"TCPTV_REXMTMIN", "30 ms", SourceConstant},
				{"net.inet.tcp.rtt_min", "100 ms", SourceDefault},
				{"net.inet.tcp.rexmt_slop", "200 ms", SourceDefault},
				{"TCPTV_REXMTMAX", "64 s", SourceConstant},
			}}, nil
	}
	return RetransmitLimits{}, fmt.Errorf("retransmission limits: %w", unsupported.On("retransmission model", p.OS))
}

// LocalRetransmitLimits reads this host's retransmission values where its
// OS exposes them (Linux /proc/sys/net/ipv4, the Windows registry, macOS
// sysctls); a value the host does not expose keeps its default and says so.
// On other OSes it returns an unsupported error and no limits; on Linux,
// Windows and macOS an error leaves the values it could not read at their
// defaults, so a caller may warn and go on.
func LocalRetransmitLimits() (RetransmitLimits, error) { return localRetransmitLimits() }

// linuxLimitsFrom reads the Linux values from dir (/proc/sys/net/ipv4 on a
// host, a test directory otherwise). tcp_rto_min_us and tcp_rto_max_ms
// exist only on newer kernels; without them the constants apply. A sysctl
// that exists but cannot be read or parsed is an error (the default is
// kept).
func linuxLimitsFrom(dir string) (RetransmitLimits, error) {
	l, _ := RetransmitDefaults(Platform{OS: "linux"})
	var errs []error
	read := func(name string) (int64, bool) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return 0, false
		}
		if err != nil {
			errs = append(errs, err)
			return 0, false
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || v < 0 {
			errs = append(errs, fmt.Errorf("net.ipv4.%s: %q is not a non-negative integer", name, strings.TrimSpace(string(b))))
			return 0, false
		}
		return v, true
	}
	if v, ok := read("tcp_retries2"); ok {
		l.Retries = int(v)
		l.set("", "net.ipv4.tcp_retries2", strconv.FormatInt(v, 10), SourceSysctl)
	}
	if v, ok := read("tcp_rto_min_us"); ok && v > 0 {
		l.RTOMin = time.Duration(v) * time.Microsecond
		l.set("TCP_RTO_MIN", "net.ipv4.tcp_rto_min_us", strconv.FormatInt(v, 10)+" us", SourceSysctl)
	}
	if v, ok := read("tcp_rto_max_ms"); ok && v > 0 {
		l.RTOMax = time.Duration(v) * time.Millisecond
		l.set("TCP_RTO_MAX", "net.ipv4.tcp_rto_max_ms", strconv.FormatInt(v, 10)+" ms", SourceSysctl)
	}
	if v, ok := read("tcp_early_retrans"); ok {
		l.TailLossProbe = v == 3 || v == 4
		l.set("", "net.ipv4.tcp_early_retrans", strconv.FormatInt(v, 10), SourceSysctl)
	}
	return l, errors.Join(errs...)
}

// RetransmitOptions are what the unacknowledged-data model needs beyond the
// platform.
type RetransmitOptions struct {
	// Limits are the OS's values (RetransmitDefaults or
	// LocalRetransmitLimits); Limits.OS must be the platform's.
	Limits RetransmitLimits
	// RTT is the smoothed round-trip time before the peer went silent; it
	// sets the first RTO (Linux: RTT + tcp_rto_min; Windows and macOS: at
	// least their floors).
	RTT time.Duration
	// UserTimeout is the socket's cap on unacknowledged time: Linux
	// TCP_USER_TIMEOUT, Windows TCP_MAXRT, macOS TCP_RXT_CONNDROPTIME (the
	// last two in whole seconds); 0 = unset, the retry limit applies.
	UserTimeout time.Duration
	// HZ is the Linux tick rate (0 = unknown); ignored elsewhere.
	HZ int
}

// RetransmitPrediction is when an OS declares dead a connection whose
// server wrote data after the peer went silent: the retransmission timer
// decides, not keepalive.
type RetransmitPrediction struct {
	// Platform is the OS modelled.
	Platform Platform `json:"platform"`
	// FromWrite is detection − the write (the data's first transmission).
	FromWrite Window `json:"from_write"`
	// FirstRTO is the RTO the first retransmission waits for.
	FirstRTO time.Duration `json:"first_rto_ns"`
	// FirstRetransmit is when the first retransmission goes out after the
	// write (on Linux after the tail loss probe): the instant Linux's and
	// macOS's time limits count from.
	FirstRetransmit Window `json:"first_retransmit"`
	// MinRetransmissions and MaxRetransmissions bound how many
	// retransmissions go out before the kill (tail loss probe not counted).
	MinRetransmissions int `json:"min_retransmissions"`
	MaxRetransmissions int `json:"max_retransmissions"`
	// Limit names what ends the connection: "tcp_retries2",
	// "TCP_USER_TIMEOUT", "TcpMaxDataRetransmissions", "TCP_MAXRT",
	// "TCP_MAXRXTSHIFT" or "TCP_RXT_CONNDROPTIME".
	Limit string `json:"limit"`
	// Budget is the time the limit allows, where it is a time: Linux
	// tcp_model_timeout(tcp_retries2) or TCP_USER_TIMEOUT, counted from
	// the first retransmission; TCP_MAXRT; TCP_RXT_CONNDROPTIME. 0 for a
	// plain count.
	Budget time.Duration `json:"budget_ns,omitempty"`
	// HZ is the Linux tick rate used (0: not modelled).
	HZ int `json:"hz,omitempty"`
	// Rule states the rule and its sources in one line.
	Rule string `json:"rule"`
	// Inferred is true where the rule is reasoned from documentation, not
	// read in source (Windows).
	Inferred bool `json:"inferred,omitempty"`
}

// maxFirings bounds one simulated retransmission schedule.
const maxFirings = 100000

// PredictRetransmit models unacknowledged data on p (docs/keepalive-models.md
// §4): when the retransmission timer gives up after the server wrote to a
// peer that had gone silent.
func PredictRetransmit(p Platform, o RetransmitOptions) (RetransmitPrediction, error) {
	if o.Limits.OS != p.OS {
		return RetransmitPrediction{}, fmt.Errorf("retransmission model: limits for %q given for %s", o.Limits.OS, p.OS)
	}
	if o.RTT < 0 || o.UserTimeout < 0 || o.Limits.RTOMax <= 0 || o.Limits.RTOMin <= 0 {
		return RetransmitPrediction{}, fmt.Errorf("retransmission model: RTT, user timeout and RTO bounds must not be negative")
	}
	pr := RetransmitPrediction{Platform: p}
	var err error
	switch p.OS {
	case "linux":
		err = predictLinuxRetransmit(&pr, o)
	case "windows":
		err = predictWindowsRetransmit(&pr, o)
	case "darwin":
		err = predictDarwinRetransmit(&pr, o)
	default:
		err = fmt.Errorf("retransmission model: %w", unsupported.On("retransmission model", p.OS))
	}
	return pr, err
}

// tcpModelTimeout is net/ipv4/tcp_timer.c tcp_model_timeout for an
// established connection: the time `boundary` retransmissions would take
// with the RTO starting at TCP_RTO_MIN (not the connection's RTO) and
// doubling up to rtoMax (tcp_rto_max(sk) since Linux 6.15, TCP_RTO_MAX
// before; both 120 s by default): 15 → 924.6 s.
func tcpModelTimeout(boundary int, rtoMax time.Duration) time.Duration {
	base := linuxRTOMin
	thresh := 0
	for r := int64(rtoMax / base); r > 1; r >>= 1 {
		thresh++
	}
	if boundary <= thresh {
		return time.Duration((int64(2)<<boundary)-1) * base
	}
	return time.Duration((int64(2)<<thresh)-1)*base + time.Duration(boundary-thresh)*rtoMax
}

// linuxRetx is tcp_retransmit_timer as a state machine on a pluggable
// timer (units are whatever arm uses: jiffies, or µs without HZ).
type linuxRetx struct {
	rto0, rtoMax, pto, budget int64
	clamp                     bool
	arm                       func(now, d int64) int64
}

// linuxRetxRun is one simulated schedule, in the machine's units from the
// write.
type linuxRetxRun struct {
	death, stamp int64
	retrans      int
	// gaps are the intervals between successive firings from the first
	// retransmission to the death (without clamping the nominal ones do not
	// depend on the timer's lateness).
	gaps []int64
}

// run writes at start: with a tail loss probe the probe timer fires first
// (min(PTO, RTO), tcp_schedule_loss_probe) and tcp_rearm_rto then starts a
// full RTO; otherwise the RTO timer runs from the write. Each RTO firing
// first runs tcp_write_timeout (dead once now − retrans_stamp ≥ budget and
// a retransmission was made), then retransmits (the first one sets
// retrans_stamp), doubles the RTO up to rtoMax and re-arms it, clamped to
// what is left of the user timeout (tcp_clamp_rto_to_user_timeout).
func (m linuxRetx) run(start int64) (linuxRetxRun, error) {
	var r linuxRetxRun
	next := start
	if m.pto > 0 {
		next = m.arm(next, min(m.pto, m.rto0))
	}
	next = m.arm(next, m.rto0)
	rto, stamp, prev := m.rto0, int64(-1), int64(0)
	for range maxFirings {
		t := next
		if stamp >= 0 {
			r.gaps = append(r.gaps, t-prev)
			if t-stamp >= m.budget {
				r.death, r.stamp = t-start, stamp-start
				return r, nil
			}
		} else {
			stamp = t
		}
		prev = t
		r.retrans++
		rto = min(2*rto, m.rtoMax)
		d := rto
		if m.clamp {
			d = max(1, min(rto, m.budget-(t-stamp)))
		}
		next = m.arm(t, d)
	}
	return r, fmt.Errorf("retransmission model: more than %d retransmissions before the limit; not modelled", maxFirings)
}

// predictLinuxRetransmit: net/ipv4/tcp_timer.c. The connection dies at the
// first retransmission-timer firing at which the time since the first
// retransmission (retrans_stamp, tcp_retransmit_skb) reaches the budget:
// TCP_USER_TIMEOUT if set, else tcp_model_timeout(tcp_retries2)
// (retransmits_timed_out); tcp(7): "TCP will effectively time out at the
// first RTO which exceeds the hypothetical timeout". The RTO starts at
// RTT + tcp_rto_min (__tcp_set_rto: srtt + rttvar, rttvar ≥ rto_min, for
// a steady RTT) and doubles up to tcp_rto_max; with a user timeout each
// re-arm is clamped to what is left of it (tcp_clamp_rto_to_user_timeout,
// commit b701a99e431d, Linux 4.19), so the kill lands at the user timeout
// after the first retransmission. A tail loss probe (tcp_early_retrans 3,
// 4; tcp_schedule_loss_probe: min(2·RTT + rto_min, RTO)) goes first and
// does not set retrans_stamp. Measured in the lab (§6.3): 5.58 s after the
// write for TCP_USER_TIMEOUT = 5000 ms, 13.49 s for tcp_retries2 = 5.
//
// Timer wheel: with HZ known every firing goes through the wheel's
// rounding (wheelExpiry, as the keepalive model) over every alignment, so
// the window is exact to a jiffy for the given RTT; the 120 s RTOs then
// fire up to one level-3/4 bucket late (HZ=250: every 120.832 s), which
// puts tcp_retries2 = 15 at about 938 s after the write, not 924.6 s
// (docs/keepalive-models.md §4.1). Without HZ the timers are taken as
// exact for the earliest death and up to 1/8 of each timeout late (the
// keepalive model's bound) for the latest; the window then brackets every
// lateness pattern.
func predictLinuxRetransmit(pr *RetransmitPrediction, o RetransmitOptions) error {
	l := o.Limits
	budget, limit := tcpModelTimeout(l.Retries, l.RTOMax), "tcp_retries2"
	if o.UserTimeout > 0 {
		budget, limit = o.UserTimeout, "TCP_USER_TIMEOUT"
	}
	pr.Limit, pr.Budget, pr.HZ = limit, budget, o.HZ
	rto0, pto := o.RTT+l.RTOMin, time.Duration(0)
	if l.TailLossProbe {
		pto = 2*o.RTT + l.RTOMin
	}

	// Units: jiffies with HZ (usecs_to_jiffies and msecs_to_jiffies round
	// up), microseconds without.
	toUnits := func(d time.Duration) int64 { return int64((d + time.Microsecond - 1) / time.Microsecond) }
	from := func(n int64) time.Duration { return time.Duration(n) * time.Microsecond }
	if o.HZ > 0 {
		hz := int64(o.HZ)
		toUnits = func(d time.Duration) int64 { return (int64(d)*hz + int64(time.Second) - 1) / int64(time.Second) }
		from = func(n int64) time.Duration { return time.Duration(n) * time.Second / time.Duration(hz) }
	}
	m := linuxRetx{rto0: min(toUnits(rto0), toUnits(l.RTOMax)), rtoMax: toUnits(l.RTOMax), budget: toUnits(budget), clamp: o.UserTimeout > 0}
	if pto > 0 {
		m.pto = toUnits(pto)
	}
	pr.FirstRTO = from(m.rto0)

	src := "net/ipv4/tcp_timer.c retransmits_timed_out"
	if m.clamp {
		src += ", tcp_clamp_rto_to_user_timeout"
	}
	what := fmt.Sprintf("tcp_retries2=%d: tcp_model_timeout %s (RTO from TCP_RTO_MIN)", l.Retries, shortSeconds(budget))
	if m.clamp {
		what = fmt.Sprintf("TCP_USER_TIMEOUT=%s replaces tcp_retries2, the last RTO clamped to what is left", ShortDuration(budget))
	}
	tlp := ""
	if m.pto > 0 {
		tlp = "a tail loss probe, then "
	}
	rule := fmt.Sprintf("%s, counted from the first retransmission (after %sone RTO of %s, doubling to %s); dies at the first RTO firing past it (%s",
		what, tlp, pr.FirstRTO, l.RTOMax, src)

	if o.HZ > 0 {
		hz := int64(o.HZ)
		m.arm = func(now, d int64) int64 { return wheelExpiry(now, d, hz) }
		gran := levelGran(m.rtoMax, hz)
		step := max(1, gran/4096)
		first := true
		var lo, hi, sLo, sHi int64
		for off := int64(0); off < gran; off += step {
			r, err := m.run(off)
			if err != nil {
				return err
			}
			if first {
				lo, hi, sLo, sHi = r.death, r.death, r.stamp, r.stamp
				pr.MinRetransmissions, pr.MaxRetransmissions = r.retrans, r.retrans
				first = false
			}
			lo, hi, sLo, sHi = min(lo, r.death), max(hi, r.death), min(sLo, r.stamp), max(sHi, r.stamp)
			pr.MinRetransmissions, pr.MaxRetransmissions = min(pr.MinRetransmissions, r.retrans), max(pr.MaxRetransmissions, r.retrans)
		}
		pr.FromWrite = Window{Min: from(lo), Max: from(hi)}
		pr.FirstRetransmit = Window{Min: from(sLo), Max: from(sHi)}
		pr.Rule = rule + fmt.Sprintf(") on the HZ=%d timer wheel (kernel/time/timer.c calc_index)", hz)
		return nil
	}

	oneMS := toUnits(time.Millisecond)
	m.arm = func(now, d int64) int64 { return now + d }
	e, err := m.run(0)
	if err != nil {
		return err
	}
	m.arm = func(now, d int64) int64 { return now + d + d/8 + oneMS }
	late, err := m.run(0)
	if err != nil {
		return err
	}
	pr.FirstRetransmit = Window{Min: from(e.stamp), Max: from(late.stamp)}
	if m.clamp {
		// The clamp makes the last firing land at the budget: the earliest
		// death is exact; the latest adds the lateness of a last interval
		// of at most min(rtoMax, budget).
		extra := min(m.rtoMax, m.budget)/8 + oneMS
		pr.FromWrite = Window{Min: from(e.death), Max: from(late.stamp + m.budget + extra)}
		pr.MinRetransmissions, pr.MaxRetransmissions = min(e.retrans, late.retrans), max(e.retrans, late.retrans)
	} else {
		// Gaps between retransmissions do not depend on lateness here, so
		// the death can come no earlier than the first retransmission
		// whose all-late sum of gaps could reach the budget (with the first
		// retransmission on time), and no later than the first whose exact
		// sum reaches it (with every firing late).
		kMin, kMax := -1, -1
		var sumE, sumL int64
		for i, g := range e.gaps {
			sumE += g
			sumL += g + g/8 + oneMS
			if kMin < 0 && sumL >= m.budget {
				kMin = i
				pr.FromWrite.Min = from(e.stamp + max(sumE, m.budget))
				pr.MinRetransmissions = i + 1
			}
			if sumE >= m.budget {
				kMax = i
				pr.FromWrite.Max = from(late.stamp + sumL)
				pr.MaxRetransmissions = i + 1
				break
			}
		}
		if kMin < 0 || kMax < 0 {
			return fmt.Errorf("retransmission model: schedule ended before the budget (internal error)")
		}
	}
	pr.Rule = rule + "); HZ unknown: each firing up to 1/8 of its timeout late)"
	return nil
}

// backoffSum is when the n-th firing of a timer that starts at rto0 and
// doubles up to rtoMax comes, counted from the start: Σ min(rto0·2^i, rtoMax)
// for i < n.
func backoffSum(rto0, rtoMax time.Duration, n int) time.Duration {
	var sum time.Duration
	d := rto0
	for i := 0; i < n; i++ {
		if d >= rtoMax {
			return sum + time.Duration(n-i)*rtoMax
		}
		sum += d
		d *= 2
	}
	return sum
}

// predictWindowsRetransmit: Microsoft documents TcpMaxDataRetransmissions
// ("how many times TCP retransmits an unacknowledged data segment on an
// existing connection … The interval doubles with each successive
// retransmission"; default 5; Windows 2000/2003 registry reference),
// MinRto (MSFT_NetTCPSetting: 20..300 ms; the Internet template has 300)
// and TCP_MAXRT ("the desired connection timeout in seconds … the
// retransmit timeout increases exponentially … up to its maximum value of
// 60sec"; IPPROTO_TCP socket options). InitialRto (3000 ms) is for SYN
// retransmissions (Set-NetTCPSetting -InitialRtoMs: "before connect, or
// SYN, retransmit"). From these, inferred: the RTO starts at max(MinRto,
// RTT), doubles up to 60 s, and the connection drops when the timer
// expires after the last allowed retransmission; TCP_MAXRT replaces the
// count and ends the connection between TCP_MAXRT after the write and the
// first expiry past TCP_MAXRT after the first retransmission. Nothing here
// was measured.
func predictWindowsRetransmit(pr *RetransmitPrediction, o RetransmitOptions) error {
	l := o.Limits
	rto0 := min(max(l.RTOMin, o.RTT), l.RTOMax)
	pr.FirstRTO, pr.Inferred = rto0, true
	pr.FirstRetransmit = Window{Min: rto0, Max: rto0}
	if l.Retries < 0 || l.Retries > maxFirings {
		return fmt.Errorf("retransmission model: TcpMaxDataRetransmissions %d is outside 0..%d", l.Retries, maxFirings)
	}
	if o.UserTimeout > 0 {
		pr.Limit, pr.Budget = "TCP_MAXRT", o.UserTimeout
		// Firing n (1-based) comes backoffSum(n) after the write; the first
		// n−1 retransmitted.
		n := 1
		for ; backoffSum(rto0, l.RTOMax, n) < rto0+o.UserTimeout; n++ {
			if backoffSum(rto0, l.RTOMax, n) < o.UserTimeout {
				pr.MinRetransmissions = n
			}
		}
		pr.FromWrite = Window{Min: o.UserTimeout, Max: backoffSum(rto0, l.RTOMax, n) + slackUnverified}
		pr.MaxRetransmissions = n - 1
		pr.Rule = fmt.Sprintf("TCP_MAXRT=%s replaces TcpMaxDataRetransmissions; whether Windows counts it from the write or the first retransmission, "+
			"and drops at once or at the next retransmission timeout, is not documented (MS docs IPPROTO_TCP socket options) [infer]", ShortDuration(o.UserTimeout))
		return nil
	}
	pr.Limit = "TcpMaxDataRetransmissions"
	d := backoffSum(rto0, l.RTOMax, l.Retries+1)
	pr.FromWrite = Window{Min: d, Max: d + slackUnverified}
	pr.MinRetransmissions, pr.MaxRetransmissions = l.Retries, l.Retries
	pr.Rule = fmt.Sprintf("TcpMaxDataRetransmissions=%d retransmissions, RTO from max(MinRto, RTT) = %s doubling to %s, dropped when the timer expires after the last "+
		"(MS docs: TcpMaxDataRetransmissions, MSFT_NetTCPSetting MinRto, TCP_MAXRT) [infer: timer granularity unmeasured, 500 ms allowed]",
		l.Retries, rto0, l.RTOMax)
	return nil
}

// predictDarwinRetransmit: XNU bsd/netinet/tcp_timer.c tcp_timers
// TCPT_REXMT. Each firing first increments t_rxtshift and drops the
// connection when it exceeds TCP_MAXRXTSHIFT (12) or when
// TCP_RXT_CONNDROPTIME is set and tcp_now − t_rxtstart ≥ it (t_rxtstart:
// the first retransmission); else it retransmits and re-arms at
// TCPT_RANGESET(REXMTVAL · tcp_backoff[shift], t_rttmin, TCPTV_REXMTMAX)
// plus rexmt_slop (tcp_timer.h). REXMTVAL = max(t_rttmin, srtt + 4·rttvar)
// ≈ max(t_rttmin, RTT) for a steady RTT; t_rttmin is 30 ms
// (TCPTV_REXMTMIN) off the local subnet and net.inet.tcp.rtt_min (100 ms)
// on it, so the window spans both. The drop is not clamped: it comes at a
// firing. Timer granularity is not measured (the retransmit timer runs in
// the 100 ms mode of the TCP timer list): 500 ms allowed late, as for
// keepalive; the tail loss probe (TCPT_PTO, tens of ms) is inside that.
func predictDarwinRetransmit(pr *RetransmitPrediction, o RetransmitOptions) error {
	l := o.Limits
	pr.Limit = "TCP_MAXRXTSHIFT"
	if o.UserTimeout > 0 {
		pr.Budget = o.UserTimeout
	}
	first := true
	for _, rttmin := range []time.Duration{l.RTOMin, l.RTOMinLocal} {
		if rttmin <= 0 {
			continue
		}
		rexmtval := max(rttmin, o.RTT)
		rxt := func(shift int) time.Duration {
			return min(l.RTOMax, max(rttmin, l.Slop+rexmtval*time.Duration(darwinBackoff[shift])))
		}
		f1 := rxt(0)
		t, death, shifts, limit := f1, time.Duration(0), 0, "TCP_MAXRXTSHIFT"
		for shift := 1; ; shift++ {
			if shift > l.Retries || shift > darwinMaxShift {
				death, shifts = t, shift-1
				break
			}
			if o.UserTimeout > 0 && shift > 1 && t-f1 >= o.UserTimeout {
				death, shifts, limit = t, shift-1, "TCP_RXT_CONNDROPTIME"
				break
			}
			t += rxt(shift)
		}
		if first {
			pr.FromWrite = Window{Min: death, Max: death + slackUnverified}
			pr.FirstRetransmit = Window{Min: f1, Max: f1}
			pr.FirstRTO, pr.MinRetransmissions, pr.MaxRetransmissions = f1, shifts, shifts
		}
		pr.FromWrite = Window{Min: min(pr.FromWrite.Min, death), Max: max(pr.FromWrite.Max, death+slackUnverified)}
		pr.FirstRetransmit = Window{Min: min(pr.FirstRetransmit.Min, f1), Max: max(pr.FirstRetransmit.Max, f1)}
		pr.FirstRTO = min(pr.FirstRTO, f1)
		pr.MinRetransmissions, pr.MaxRetransmissions = min(pr.MinRetransmissions, shifts), max(pr.MaxRetransmissions, shifts)
		if pr.Limit != "TCP_RXT_CONNDROPTIME" {
			pr.Limit = limit
		}
		first = false
	}
	what := fmt.Sprintf("TCP_MAXRXTSHIFT=%d: dropped at the retransmit-timer firing after the %dth retransmission", darwinMaxShift, darwinMaxShift)
	if o.UserTimeout > 0 {
		what = fmt.Sprintf("TCP_RXT_CONNDROPTIME=%s: dropped at the first retransmit-timer firing %s or more after the first retransmission "+
			"(or after the %dth, whichever comes first)", ShortDuration(o.UserTimeout), ShortDuration(o.UserTimeout), darwinMaxShift)
	}
	pr.Rule = fmt.Sprintf("%s; RTO = max(t_rttmin, rexmt_slop %s + max(t_rttmin, RTT) × tcp_backoff[n]) up to %s, t_rttmin %s, or %s on the local subnet "+
		"(XNU tcp_timer.c TCPT_REXMT) [timer granularity unmeasured: 500 ms allowed]", what, l.Slop, l.RTOMax, l.RTOMin, l.RTOMinLocal)
	return nil
}

// shortSeconds writes a budget compactly: "924.6 s".
func shortSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
}
