package keepalive

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kalab-dev/kalab/internal/unsupported"
)

// Settings are the keepalive parameters an experiment asks for.
type Settings struct {
	// Idle is how long the connection must be idle before the first probe.
	Idle time.Duration `json:"idle"`
	// Interval is the time between unanswered probes.
	Interval time.Duration `json:"interval"`
	// Count is how many unanswered probes kill the connection.
	Count int `json:"count"`
}

// String names every field: idle=1s interval=3s count=10.
func (s Settings) String() string {
	return fmt.Sprintf("idle=%s interval=%s count=%d", s.Idle, s.Interval, s.Count)
}

// Short writes settings the way engineers quote them and the published
// Windows measurement did: idle/interval/count, e.g. 1s/3s/10.
func (s Settings) Short() string {
	return ShortDuration(s.Idle) + "/" + ShortDuration(s.Interval) + "/" + strconv.Itoa(s.Count)
}

// ShortDuration writes a settings value compactly: 1s, 15s, 2h, 1500ms.
func ShortDuration(d time.Duration) string {
	itoa := strconv.Itoa
	switch {
	case d == 0:
		return "0"
	case d%time.Hour == 0:
		return itoa(int(d/time.Hour)) + "h"
	case d%time.Minute == 0 && d >= 10*time.Minute:
		return itoa(int(d/time.Minute)) + "m"
	case d%time.Second == 0:
		return itoa(int(d/time.Second)) + "s"
	case d%time.Millisecond == 0:
		return itoa(int(d/time.Millisecond)) + "ms"
	}
	return d.String()
}

// Windows builds where per-socket keepalive options appeared
// (docs/keepalive-models.md §1; MS docs "IPPROTO_TCP socket options").
const (
	// WindowsBuildKeepCnt is Windows 10 1703, the first build with TCP_KEEPCNT.
	WindowsBuildKeepCnt = 15063
	// WindowsBuildKeepIdle is Windows 10 1709, the first build with
	// TCP_KEEPIDLE and TCP_KEEPINTVL.
	WindowsBuildKeepIdle = 16299
	// WindowsFixedCount is the probe count on Vista and later when
	// TCP_KEEPCNT is not available: "set to 10 and cannot be changed"
	// (MS docs, SIO_KEEPALIVE_VALS).
	WindowsFixedCount = 10
)

// Platform says which kernel rules apply: the OS (a GOOS value) and, on
// Windows, the build number, because options appeared build by build.
type Platform struct {
	// OS is a GOOS value. Only "linux", "windows" and "darwin" have rules:
	// LimitsFor, Defaults and Predict return an unsupported error for any
	// other.
	OS string `json:"os"`
	// Build is the Windows build number (RtlGetVersion); 0 means unknown and
	// is treated as the newest behaviour only where that is safe to say.
	Build int `json:"build,omitempty"`
	// Version is a human-readable OS version (kernel release, macOS version).
	Version string `json:"version,omitempty"`
}

func (p Platform) String() string {
	switch {
	case p.OS == "windows" && p.Build > 0:
		return fmt.Sprintf("windows (build %d)", p.Build)
	case p.Version != "":
		return p.OS + " " + p.Version
	}
	return p.OS
}

// Limits describe what a platform accepts for each setting, in the units the
// kernel takes.
type Limits struct {
	// Platform is the platform the limits were computed for.
	Platform Platform
	// Unit is the granularity the kernel takes idle and interval in; values
	// that are not a multiple of it are rejected rather than silently rounded
	// (Go rounds up: net/tcpsockopt_unix.go).
	Unit time.Duration
	// MinIdle..MaxIdle and MinInterval..MaxInterval are the accepted
	// ranges, both ends included: 1s..32767s on Linux; 1s..4294967s on
	// macOS and on Windows 1709+ (or build unknown); 1ms..(2^32−1)ms on older
	// Windows (docs/keepalive-models.md §1).
	MinIdle, MaxIdle         time.Duration
	MinInterval, MaxInterval time.Duration
	// MinCount..MaxCount is the accepted probe count: 1..127 on Linux,
	// 1..2^31−1 on macOS, 1..255 on Windows 1703+ (or build unknown), and
	// exactly FixedCount before that.
	MinCount, MaxCount int
	// CountSettable is false where the OS fixes the probe count (Windows
	// before 1703); FixedCount is then what the kernel uses.
	CountSettable bool
	FixedCount    int
	// IdleInherited says whether an accepted socket inherits the listener's
	// idle time (false on macOS: docs/keepalive-models.md §2).
	IdleInherited bool
	// Mechanism names the API used to set the values, for reports.
	Mechanism string
}

// maxWinSeconds: Windows keeps keepalive times in milliseconds in a ULONG
// (struct tcp_keepalive, SIO_KEEPALIVE_VALS), so seconds beyond 2^32/1000
// cannot be represented [infer from the struct; not documented for
// TCP_KEEPIDLE].
const maxWinSeconds = (1<<32 - 1) / 1000

// LimitsFor returns the limits of a platform. Unknown OSes get an error.
func LimitsFor(p Platform) (Limits, error) {
	switch p.OS {
	case "linux":
		// tcp(7) and net/ipv4/tcp.c: MAX_TCP_KEEPIDLE/KEEPINTVL = 32767 s,
		// MAX_TCP_KEEPCNT = 127; 0 is EINVAL [meas, docs/keepalive-models.md §1].
		return Limits{Platform: p, Unit: time.Second,
			MinIdle: time.Second, MaxIdle: 32767 * time.Second,
			MinInterval: time.Second, MaxInterval: 32767 * time.Second,
			MinCount: 1, MaxCount: 127, CountSettable: true, IdleInherited: true,
			Mechanism: "setsockopt SO_KEEPALIVE, TCP_KEEPIDLE/TCP_KEEPINTVL (s), TCP_KEEPCNT"}, nil
	case "darwin":
		// XNU tcp_usrreq.c:2443-2515: TCP_KEEPALIVE/TCP_KEEPINTVL in seconds,
		// 0..UINT32_MAX/TCP_RETRANSHZ; 0 means "use the sysctl", so kalab
		// requires ≥ 1. TCP_KEEPCNT 0..INT32_MAX (docs/keepalive-models.md §1).
		return Limits{Platform: p, Unit: time.Second,
			MinIdle: time.Second, MaxIdle: maxWinSeconds * time.Second,
			MinInterval: time.Second, MaxInterval: maxWinSeconds * time.Second,
			MinCount: 1, MaxCount: 1<<31 - 1, CountSettable: true, IdleInherited: false,
			Mechanism: "setsockopt SO_KEEPALIVE, TCP_KEEPALIVE/TCP_KEEPINTVL (s), TCP_KEEPCNT"}, nil
	case "windows":
		l := Limits{Platform: p, IdleInherited: true}
		if p.Build == 0 || p.Build >= WindowsBuildKeepIdle {
			// 1709+: TCP_KEEPIDLE/TCP_KEEPINTVL in seconds.
			l.Unit = time.Second
			l.MinIdle, l.MaxIdle = time.Second, maxWinSeconds*time.Second
			l.MinInterval, l.MaxInterval = time.Second, maxWinSeconds*time.Second
			l.Mechanism = "setsockopt SO_KEEPALIVE, TCP_KEEPIDLE/TCP_KEEPINTVL (s), TCP_KEEPCNT"
		} else {
			// Before 1709 only SIO_KEEPALIVE_VALS: milliseconds in a ULONG.
			l.Unit = time.Millisecond
			l.MinIdle, l.MaxIdle = time.Millisecond, (1<<32-1)*time.Millisecond
			l.MinInterval, l.MaxInterval = time.Millisecond, (1<<32-1)*time.Millisecond
			l.Mechanism = "WSAIoctl SIO_KEEPALIVE_VALS (ms)"
		}
		if p.Build == 0 || p.Build >= WindowsBuildKeepCnt {
			// TCP_KEEPCNT: "illegal to set TCP_KEEPCNT to a value greater
			// than 255" per MS docs
			// (docs/keepalive-models.md §1); 0 would mean no probe at all.
			l.MinCount, l.MaxCount, l.CountSettable = 1, 255, true
			if l.Mechanism == "WSAIoctl SIO_KEEPALIVE_VALS (ms)" {
				l.Mechanism += " + TCP_KEEPCNT"
			}
		} else {
			l.MinCount, l.MaxCount = WindowsFixedCount, WindowsFixedCount
			l.FixedCount = WindowsFixedCount
		}
		return l, nil
	}
	return Limits{}, fmt.Errorf("keepalive limits: %w", unsupported.On("keepalive", p.OS))
}

// FieldError says which setting is out of range, on which OS, and what is
// allowed. Validate joins one per bad field.
type FieldError struct {
	// Field is the setting's name: "idle", "interval" or "count" (the
	// [[settings]] key in an experiment file).
	Field string
	// Value is the rejected value as written: a Duration string or a count.
	Value string
	// OS is the platform that refuses it, as Platform.String prints it
	// (e.g. "windows (build 14393)").
	OS string
	// Allowed is what would be accepted: a "lo..hi" range, the unit values
	// must be whole multiples of, or the only count an old Windows takes.
	Allowed string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("keepalive %s = %s is not valid on %s: allowed %s", e.Field, e.Value, e.OS, e.Allowed)
}

// Validate checks s against the platform's limits and units. A count on a
// platform where it is fixed is allowed only if it equals the fixed value or
// is 0 (meaning "whatever the OS fixes"); anything else would be silently
// ignored by the kernel, and kalab refuses to pretend it was applied.
func (s Settings) Validate(p Platform) error {
	l, err := LimitsFor(p)
	if err != nil {
		return err
	}
	var errs []error
	checkDur := func(field string, v, lo, hi time.Duration) {
		switch {
		case v < lo || v > hi:
			errs = append(errs, &FieldError{field, v.String(), p.String(), fmt.Sprintf("%s..%s", lo, hi)})
		case v%l.Unit != 0:
			errs = append(errs, &FieldError{field, v.String(), p.String(),
				fmt.Sprintf("whole multiples of %s (the kernel takes %s; kalab does not round)", l.Unit, unitName(l.Unit))})
		}
	}
	checkDur("idle", s.Idle, l.MinIdle, l.MaxIdle)
	checkDur("interval", s.Interval, l.MinInterval, l.MaxInterval)
	switch {
	case !l.CountSettable && s.Count != 0 && s.Count != l.FixedCount:
		errs = append(errs, &FieldError{"count", fmt.Sprint(s.Count), p.String(),
			fmt.Sprintf("only %d (fixed by the OS before build %d; TCP_KEEPCNT unavailable) or 0", l.FixedCount, WindowsBuildKeepCnt)})
	case l.CountSettable && (s.Count < l.MinCount || s.Count > l.MaxCount):
		errs = append(errs, &FieldError{"count", fmt.Sprint(s.Count), p.String(), fmt.Sprintf("%d..%d", l.MinCount, l.MaxCount)})
	}
	return errors.Join(errs...)
}

func unitName(d time.Duration) string {
	if d == time.Millisecond {
		return "milliseconds"
	}
	return "seconds"
}

// Defaults are what a socket with only SO_KEEPALIVE gets from the OS's
// stock configuration (docs/keepalive-models.md §1): Linux sysctls
// tcp_keepalive_time/intvl/probes = 7200 s/75 s/9; Windows registry
// KeepAliveTime/KeepAliveInterval = 2 h/1 s with the count fixed at 10 (Vista
// and later); macOS net.inet.tcp.keepidle/keepintvl/keepcnt = 7200 s/75 s/8.
// A host may have changed them; read back the effective values instead of
// trusting these.
func Defaults(p Platform) (Settings, error) {
	switch p.OS {
	case "linux":
		return Settings{Idle: 7200 * time.Second, Interval: 75 * time.Second, Count: 9}, nil
	case "windows":
		return Settings{Idle: 2 * time.Hour, Interval: time.Second, Count: WindowsFixedCount}, nil
	case "darwin":
		return Settings{Idle: 7200 * time.Second, Interval: 75 * time.Second, Count: 8}, nil
	}
	return Settings{}, fmt.Errorf("keepalive defaults: %w", unsupported.On("keepalive", p.OS))
}
