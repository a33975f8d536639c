package keepalive

import (
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// setOptions applies s to a Windows socket handle. On 1709+ (build 16299)
// it uses setsockopt TCP_KEEPIDLE/TCP_KEEPINTVL in seconds; before that only
// WSAIoctl(SIO_KEEPALIVE_VALS) in milliseconds exists. TCP_KEEPCNT needs 1703+
// (build 15063); before that the count is fixed at 10 and is not touched
// (MS docs "IPPROTO_TCP socket options", "SIO_KEEPALIVE_VALS"; docs/keepalive-models.md §1).
// Go's own SetKeepAliveConfig calls TCP_KEEPCNT unconditionally and fails on
// old builds after applying idle/interval (docs/keepalive-models.md §5); kalab does not.
func setOptions(fd uintptr, s Settings) error {
	h := windows.Handle(fd)
	p := LocalPlatform()
	if err := windows.SetsockoptInt(h, windows.SOL_SOCKET, windows.SO_KEEPALIVE, 1); err != nil {
		return fmt.Errorf("setsockopt SO_KEEPALIVE=1: %w", err)
	}
	if p.Build >= WindowsBuildKeepIdle {
		if err := windows.SetsockoptInt(h, windows.IPPROTO_TCP, windows.TCP_KEEPIDLE, int(s.Idle/time.Second)); err != nil {
			return fmt.Errorf("setsockopt TCP_KEEPIDLE=%d: %w", int(s.Idle/time.Second), err)
		}
		if err := windows.SetsockoptInt(h, windows.IPPROTO_TCP, windows.TCP_KEEPINTVL, int(s.Interval/time.Second)); err != nil {
			return fmt.Errorf("setsockopt TCP_KEEPINTVL=%d: %w", int(s.Interval/time.Second), err)
		}
	} else {
		ka := windows.TCPKeepalive{
			OnOff:    1,
			Time:     uint32(s.Idle / time.Millisecond),
			Interval: uint32(s.Interval / time.Millisecond),
		}
		var ret uint32
		if err := windows.WSAIoctl(h, windows.SIO_KEEPALIVE_VALS, (*byte)(unsafe.Pointer(&ka)), uint32(unsafe.Sizeof(ka)), nil, 0, &ret, nil, 0); err != nil {
			return fmt.Errorf("WSAIoctl SIO_KEEPALIVE_VALS time=%dms interval=%dms: %w", ka.Time, ka.Interval, err)
		}
	}
	if p.Build >= WindowsBuildKeepCnt && s.Count > 0 {
		if err := windows.SetsockoptInt(h, windows.IPPROTO_TCP, windows.TCP_KEEPCNT, s.Count); err != nil {
			return fmt.Errorf("setsockopt TCP_KEEPCNT=%d: %w", s.Count, err)
		}
	}
	return nil
}

// getOptions reads back what Windows exposes. SIO_KEEPALIVE_VALS is
// write-only, so before 1709 idle and interval are unknown; before 1703 the
// count is the OS's fixed 10 (documented, so known).
func getOptions(fd uintptr) (Effective, error) {
	h := windows.Handle(fd)
	p := LocalPlatform()
	var e Effective
	e.UserTimeoutOpt = "TCP_MAXRT"
	on, err := windows.GetsockoptInt(h, windows.SOL_SOCKET, windows.SO_KEEPALIVE)
	if err != nil {
		return e, fmt.Errorf("getsockopt SO_KEEPALIVE: %w", err)
	}
	e.Enabled = known(on != 0)
	if p.Build >= WindowsBuildKeepIdle {
		if v, err := windows.GetsockoptInt(h, windows.IPPROTO_TCP, windows.TCP_KEEPIDLE); err == nil {
			e.Idle = known(time.Duration(v) * time.Second)
		} else {
			e.Notes = append(e.Notes, fmt.Sprintf("getsockopt TCP_KEEPIDLE: %v", err))
		}
		if v, err := windows.GetsockoptInt(h, windows.IPPROTO_TCP, windows.TCP_KEEPINTVL); err == nil {
			e.Interval = known(time.Duration(v) * time.Second)
		} else {
			e.Notes = append(e.Notes, fmt.Sprintf("getsockopt TCP_KEEPINTVL: %v", err))
		}
	} else {
		e.Notes = append(e.Notes, fmt.Sprintf("build %d < %d: idle and interval were set with SIO_KEEPALIVE_VALS, which cannot be read back", p.Build, WindowsBuildKeepIdle))
	}
	if p.Build >= WindowsBuildKeepCnt {
		if v, err := windows.GetsockoptInt(h, windows.IPPROTO_TCP, windows.TCP_KEEPCNT); err == nil {
			e.Count = known(v)
		} else {
			e.Notes = append(e.Notes, fmt.Sprintf("getsockopt TCP_KEEPCNT: %v", err))
		}
	} else {
		e.Count = known(WindowsFixedCount)
		e.Notes = append(e.Notes, fmt.Sprintf("build %d < %d: the probe count is fixed at %d by the OS and cannot be set", p.Build, WindowsBuildKeepCnt, WindowsFixedCount))
	}
	if v, err := windows.GetsockoptInt(h, windows.IPPROTO_TCP, windows.TCP_MAXRT); err == nil {
		// TCP_MAXRT is in seconds; -1 means retransmit forever.
		e.UserTimeout = known(time.Duration(v) * time.Second)
	}
	return e, nil
}

// setUserTimeout puts TCP_MAXRT (whole seconds, "IPPROTO_TCP socket
// options") on the socket handle fd (docs/keepalive-models.md §4.2).
func setUserTimeout(fd uintptr, d time.Duration) error {
	s := int(d / time.Second)
	if err := windows.SetsockoptInt(windows.Handle(fd), windows.IPPROTO_TCP, windows.TCP_MAXRT, s); err != nil {
		return fmt.Errorf("setsockopt TCP_MAXRT=%d: %w", s, err)
	}
	return nil
}
