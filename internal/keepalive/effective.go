package keepalive

import (
	"encoding/json"
	"fmt"
	"time"
)

// Opt is one option read back from a socket. Known is false where the OS
// cannot report the value: kalab says "unknown", it never guesses.
type Opt[T any] struct {
	// Value is the option as read back, in Go units (a Duration, a count, a
	// flag); meaningless when Known is false.
	Value T
	// Known is false when the OS could not report the option; JSON then
	// holds the string "unknown" instead of a value.
	Known bool
}

func known[T any](v T) Opt[T] { return Opt[T]{Value: v, Known: true} }

func (o Opt[T]) String() string {
	if !o.Known {
		return "unknown"
	}
	return fmt.Sprint(o.Value)
}

// MarshalJSON writes the value, or the string "unknown".
func (o Opt[T]) MarshalJSON() ([]byte, error) {
	if !o.Known {
		return []byte(`"unknown"`), nil
	}
	return json.Marshal(o.Value)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (o *Opt[T]) UnmarshalJSON(b []byte) error {
	if string(b) == `"unknown"` || string(b) == "null" {
		*o = Opt[T]{}
		return nil
	}
	o.Known = true
	return json.Unmarshal(b, &o.Value)
}

// Effective is what the kernel really applied to one socket, read back with
// getsockopt.
type Effective struct {
	// Enabled is SO_KEEPALIVE on the socket. When it is off the kernel
	// sends no keepalive probes whatever Idle, Interval and Count say, and
	// Settings reports false.
	Enabled Opt[bool] `json:"enabled"`
	// Idle and Interval are the keepalive idle time and probe interval
	// (TCP_KEEPIDLE/TCP_KEEPINTVL; TCP_KEEPALIVE for idle on macOS), read in
	// seconds. On macOS a socket value of 0 means the sysctl applies, and
	// that value is reported with a note. Unknown on Windows before build
	// 16299, where SIO_KEEPALIVE_VALS set them and cannot be read back
	// (docs/keepalive-models.md §1).
	Idle     Opt[time.Duration] `json:"idle"`
	Interval Opt[time.Duration] `json:"interval"`
	// Count is the probe count (TCP_KEEPCNT). On Windows before build 15063
	// it is reported as the fixed 10, with a note, because the OS allows no
	// other value.
	Count Opt[int] `json:"count"`
	// UserTimeout caps unacknowledged data: Linux TCP_USER_TIMEOUT,
	// macOS TCP_RXT_CONNDROPTIME, Windows TCP_MAXRT (UserTimeoutOpt names it).
	// 0 means "not set" (the OS default applies).
	UserTimeout    Opt[time.Duration] `json:"user_timeout"`
	UserTimeoutOpt string             `json:"user_timeout_opt,omitempty"`
	// Notes explain values that are not what a reader would assume, e.g. an
	// idle of 0 on macOS meaning "the net.inet.tcp.keepidle sysctl".
	Notes []string `json:"notes,omitempty"`
}

func (e Effective) String() string {
	return fmt.Sprintf("keepalive=%s idle=%s interval=%s count=%s %s=%s",
		e.Enabled, e.Idle, e.Interval, e.Count, e.UserTimeoutOpt, e.UserTimeout)
}

// Settings returns the effective idle/interval/count as Settings, and false
// if any of them is unknown or keepalive is off.
func (e Effective) Settings() (Settings, bool) {
	if !e.Enabled.Known || !e.Enabled.Value || !e.Idle.Known || !e.Interval.Known || !e.Count.Known {
		return Settings{}, false
	}
	return Settings{Idle: e.Idle.Value, Interval: e.Interval.Value, Count: e.Count.Value}, true
}

// Matches reports whether the effective options equal the requested ones;
// unknown values do not match (a report must not claim what it cannot see).
func (e Effective) Matches(s Settings) bool {
	got, ok := e.Settings()
	return ok && got == s
}
