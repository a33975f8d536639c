package keepalive

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// setOptions puts SO_KEEPALIVE, TCP_KEEPALIVE (idle, s), TCP_KEEPINTVL and
// TCP_KEEPCNT on fd (XNU bsd/netinet/tcp.h:226-241, tcp_usrreq.c:2443-2515).
// On a listener only SO_KEEPALIVE, interval and count reach accepted sockets:
// tcp_input.c:2885-2887 never copies t_keepidle (docs/keepalive-models.md §2).
func setOptions(fd uintptr, s Settings) error {
	opts := []struct {
		name       string
		level, opt int
		value      int
	}{
		{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{"TCP_KEEPALIVE", unix.IPPROTO_TCP, unix.TCP_KEEPALIVE, int(s.Idle / time.Second)},
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

// sysctlMillis reads one of XNU's keepalive sysctls; they are in
// milliseconds (net.inet.tcp.keepidle=7200000, sysctl_msec_to_ticks).
func sysctlMillis(name string) (time.Duration, error) {
	v, err := unix.SysctlUint32(name)
	if err != nil {
		return 0, err
	}
	return time.Duration(v) * time.Millisecond, nil
}

// getOptions reads back what XNU exposes. A zero idle, interval or count
// means the per-socket value was never set and the sysctl applies
// (TCP_CONN_KEEPIDLE etc. in tcp_timer.h:302-313); kalab resolves it from
// the sysctl and says so in Notes. If the sysctl cannot be read the value is
// unknown.
func getOptions(fd uintptr) (Effective, error) {
	var e Effective
	e.UserTimeoutOpt = "TCP_RXT_CONNDROPTIME"
	on, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE)
	if err != nil {
		return e, fmt.Errorf("getsockopt SO_KEEPALIVE: %w", err)
	}
	e.Enabled = known(on != 0)
	dur := func(opt int, name, sysctl string) (Opt[time.Duration], error) {
		v, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, opt)
		if err != nil {
			return Opt[time.Duration]{}, fmt.Errorf("getsockopt %s: %w", name, err)
		}
		if v != 0 {
			return known(time.Duration(v) * time.Second), nil
		}
		d, err := sysctlMillis(sysctl)
		if err != nil {
			e.Notes = append(e.Notes, fmt.Sprintf("%s is 0 (system default) and %s is unreadable: %v", name, sysctl, err))
			return Opt[time.Duration]{}, nil
		}
		e.Notes = append(e.Notes, fmt.Sprintf("%s is 0 on the socket: the system default %s = %s applies", name, sysctl, d))
		return known(d), nil
	}
	if e.Idle, err = dur(unix.TCP_KEEPALIVE, "TCP_KEEPALIVE", "net.inet.tcp.keepidle"); err != nil {
		return e, err
	}
	if e.Interval, err = dur(unix.TCP_KEEPINTVL, "TCP_KEEPINTVL", "net.inet.tcp.keepintvl"); err != nil {
		return e, err
	}
	cnt, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPCNT)
	if err != nil {
		return e, fmt.Errorf("getsockopt TCP_KEEPCNT: %w", err)
	}
	if cnt != 0 {
		e.Count = known(cnt)
	} else if v, err := unix.SysctlUint32("net.inet.tcp.keepcnt"); err == nil {
		e.Count = known(int(v))
		e.Notes = append(e.Notes, fmt.Sprintf("TCP_KEEPCNT is 0 on the socket: the system default net.inet.tcp.keepcnt = %d applies", v))
	}
	if v, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_RXT_CONNDROPTIME); err == nil {
		e.UserTimeout = known(time.Duration(v) * time.Second)
	}
	return e, nil
}

// setUserTimeout puts TCP_RXT_CONNDROPTIME (whole seconds, XNU
// bsd/netinet/tcp.h) on fd (docs/keepalive-models.md §4.3).
func setUserTimeout(fd uintptr, d time.Duration) error {
	s := int(d / time.Second)
	if err := unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_RXT_CONNDROPTIME, s); err != nil {
		return fmt.Errorf("setsockopt TCP_RXT_CONNDROPTIME=%d: %w", s, err)
	}
	return nil
}
