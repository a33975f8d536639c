package keepalive

import (
	"encoding/json"
	"fmt"
	"time"
)

// Opt is one option read back from a socket. Known is false where the OS
// cannot report the value: kalab says "unknown", it never guesses.
type Opt[T any] struct {
	Value T
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
	Enabled  Opt[bool]          `json:"enabled"`
	Idle     Opt[time.Duration] `json:"idle"`
	Interval Opt[time.Duration] `json:"interval"`
	Count    Opt[int]           `json:"count"`
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
