package keepalive

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"time"
)

// Mode says where kalab puts the keepalive options and whether Go's own
// accept-path defaults are allowed to touch the accepted socket.
type Mode string

const (
	// ModeListener sets the options on the listening socket and relies on the
	// accepted socket inheriting them; Go is told to leave accepted sockets
	// alone (ListenConfig.KeepAlive = -1). This is the published Windows measurement's approach done
	// right (docs/keepalive-models.md §2, §5).
	ModeListener Mode = "listener"
	// ModeListenerGoDefault sets the same options on the listener but keeps
	// Go's default ListenConfig, which re-applies its own 15 s/15 s/9 to every
	// accepted socket (net/tcpsock.go newTCPConn). It reproduces what a naive
	// Go server gets, so a report can show the override.
	ModeListenerGoDefault Mode = "listener-go-default"
	// ModePerConn sets the options on each accepted socket; the listener gets
	// nothing and Go's accept-path defaults are off.
	ModePerConn Mode = "per-connection"
)

// GoDefault is what Go's default accept path puts on every accepted
// socket (net/dial.go defaultTCPKeepAlive*: 15 s/15 s/9), overwriting what
// it inherited (docs/keepalive-models.md §5, §6.1).
var GoDefault = Settings{Idle: 15 * time.Second, Interval: 15 * time.Second, Count: 9}

// ParseMode accepts the names above.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeListener, ModeListenerGoDefault, ModePerConn:
		return m, nil
	}
	return "", fmt.Errorf("keepalive mode %q: want %q, %q or %q", s, ModeListener, ModeListenerGoDefault, ModePerConn)
}

// ListenConfig returns the net.ListenConfig for mode. Settings are not
// validated here: call Validate first.
func ListenConfig(s Settings, mode Mode) net.ListenConfig {
	apply := func(network, address string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = setOptions(fd, s) }); err != nil {
			return fmt.Errorf("apply keepalive on listener: %w", err)
		}
		if serr != nil {
			return fmt.Errorf("apply keepalive on listener: %w", serr)
		}
		return nil
	}
	switch mode {
	case ModeListener:
		// KeepAlive < 0 with KeepAliveConfig.Enable false: newTCPConn skips
		// SetKeepAliveConfig entirely, so inherited values survive (docs/keepalive-models.md §5, §6.1).
		return net.ListenConfig{Control: apply, KeepAlive: -1}
	case ModeListenerGoDefault:
		return net.ListenConfig{Control: apply}
	default:
		return net.ListenConfig{KeepAlive: -1}
	}
}

// Listener accepts TCP connections with keepalive applied per mode.
type Listener struct {
	net.Listener
	// Settings are what Listen was asked for. In ModePerConn AcceptTCP puts
	// them on every accepted connection; in ModeListener they sit on the
	// listening socket and accepted ones inherit them (except idle on
	// macOS: docs/keepalive-models.md §2); in ModeListenerGoDefault Go's
	// accept path overwrites them with GoDefault.
	Settings Settings
	// Mode is the mode Listen opened the socket in. Only ModePerConn
	// makes AcceptTCP do anything more than accept: the listener modes did
	// their work when the listening socket was created.
	Mode Mode
}

// Listen opens a TCP listener on address with keepalive set per mode.
func Listen(ctx context.Context, network, address string, s Settings, mode Mode) (*Listener, error) {
	lc := ListenConfig(s, mode)
	ln, err := lc.Listen(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("listen %s %s with keepalive (%s): %w", network, address, mode, err)
	}
	return &Listener{Listener: ln, Settings: s, Mode: mode}, nil
}

// ListenOff opens a TCP listener whose accepted connections have keepalive
// off: nothing is set on the listener and Go's accept-path defaults are
// off (the heartbeat scenario, where the application watches the peer).
// The listener's Mode is empty.
func ListenOff(ctx context.Context, network, address string) (*Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("listen %s %s with keepalive off: %w", network, address, err)
	}
	return &Listener{Listener: ln}, nil
}

// AcceptTCP accepts one connection and, in per-connection mode, applies the
// settings to it.
func (l *Listener) AcceptTCP() (*net.TCPConn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	if l.Mode == ModePerConn {
		if err := Apply(tc, l.Settings); err != nil {
			tc.Close()
			return nil, err
		}
	}
	return tc, nil
}

// Apply sets the settings on one connection (per-connection mode). It uses
// the same raw socket options as the listener path, not Go's
// SetKeepAliveConfig, so both modes set exactly the same things.
func Apply(c syscall.Conn, s Settings) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("apply keepalive on conn: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = setOptions(fd, s) }); err != nil {
		return fmt.Errorf("apply keepalive on conn: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("apply keepalive on conn: %w", serr)
	}
	return nil
}

// ReadBack returns the options the kernel applied to c.
func ReadBack(c syscall.Conn) (Effective, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return Effective{}, fmt.Errorf("read back keepalive: %w", err)
	}
	var eff Effective
	var gerr error
	if err := rc.Control(func(fd uintptr) { eff, gerr = getOptions(fd) }); err != nil {
		return Effective{}, fmt.Errorf("read back keepalive: %w", err)
	}
	if gerr != nil {
		return eff, fmt.Errorf("read back keepalive: %w", gerr)
	}
	return eff, nil
}

// SetUserTimeout puts the OS's cap on unacknowledged time
// (UserTimeoutOption) on one connection: TCP_USER_TIMEOUT in ms on Linux,
// TCP_MAXRT and TCP_RXT_CONNDROPTIME in whole seconds on Windows and macOS
// (a d that is not whole seconds there is refused). ReadBack reads it back
// into Effective.UserTimeout.
func SetUserTimeout(c syscall.Conn, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("user timeout %s: must be positive", d)
	}
	if o := UserTimeoutOption(LocalPlatform().OS); o != "TCP_USER_TIMEOUT" && d%time.Second != 0 {
		return fmt.Errorf("user timeout %s: %s takes whole seconds", d, o)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("set user timeout: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = setUserTimeout(fd, d) }); err != nil {
		return fmt.Errorf("set user timeout: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("set user timeout: %w", serr)
	}
	return nil
}
