package keepalive

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// setOptions puts SO_KEEPALIVE and TCP_KEEPIDLE/KEEPINTVL/KEEPCNT (seconds,
// tcp(7)) on fd. On a listener they are inherited by accepted sockets:
// sk_clone_lock copies keepalive_time/intvl/probes (docs/keepalive-models.md §2).
func setOptions(fd uintptr, s Settings) error {
	opts := []struct {
		name       string
		level, opt int
		value      int
	}{
		{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, int(s.Idle / time.Second)},
		{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, int(s.Interval / time.Second)},
		{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT, s.Count},
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(int(fd), o.level, o.opt, o.value); err != nil {
			return fmt.Errorf("setsockopt %s=%d: %w", o.name, o.value, err)
		}
	}
	return nil
}

// getOptions reads every keepalive-related option Linux exposes. All of them
// are readable, so nothing is unknown on Linux.
func getOptions(fd uintptr) (Effective, error) {
	get := func(level, opt int, name string) (int, error) {
		v, err := unix.GetsockoptInt(int(fd), level, opt)
		if err != nil {
			return 0, fmt.Errorf("getsockopt %s: %w", name, err)
		}
		return v, nil
	}
	var e Effective
	e.UserTimeoutOpt = "TCP_USER_TIMEOUT"
	on, err := get(unix.SOL_SOCKET, unix.SO_KEEPALIVE, "SO_KEEPALIVE")
	if err != nil {
		return e, err
	}
	e.Enabled = known(on != 0)
	idle, err := get(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, "TCP_KEEPIDLE")
	if err != nil {
		return e, err
	}
	e.Idle = known(time.Duration(idle) * time.Second)
	intvl, err := get(unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, "TCP_KEEPINTVL")
	if err != nil {
		return e, err
	}
	e.Interval = known(time.Duration(intvl) * time.Second)
	cnt, err := get(unix.IPPROTO_TCP, unix.TCP_KEEPCNT, "TCP_KEEPCNT")
	if err != nil {
		return e, err
	}
	e.Count = known(cnt)
	// TCP_USER_TIMEOUT is not readable on every socket: Go ≥ 1.24 listens
	// with MPTCP by default, and an MPTCP listener answers EOPNOTSUPP
	// (net/mptcp/sockopt.c; kernel 6.18 [meas]; docs/keepalive-models.md
	// §4): unknown then, not an error.
	uto, err := get(unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT")
	if err != nil {
		e.Notes = append(e.Notes, err.Error())
		return e, nil
	}
	e.UserTimeout = known(time.Duration(uto) * time.Millisecond)
	if uto != 0 {
		// tcp_keepalive_timer: with a user timeout, TCP_KEEPCNT is ignored
		// (docs/keepalive-models.md §4, Cloudflare 2019).
		e.Notes = append(e.Notes, "TCP_USER_TIMEOUT is set: Linux ignores TCP_KEEPCNT and kills the connection at the first probe firing after the user timeout")
	}
	return e, nil
}

// setUserTimeout puts TCP_USER_TIMEOUT (ms, tcp(7)) on fd: how long data
// may stay unacknowledged before the connection is dropped
// (docs/keepalive-models.md §4.1).
func setUserTimeout(fd uintptr, d time.Duration) error {
	ms := int(d / time.Millisecond)
	if err := unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, ms); err != nil {
		return fmt.Errorf("setsockopt TCP_USER_TIMEOUT=%d: %w", ms, err)
	}
	return nil
}
