package keepalive

// LosesListenerIdle reports whether an accepted socket on p keeps the OS
// default idle instead of the listener's in this mode: true on macOS in
// both listener modes, because XNU never copies t_keepidle to the accepted
// socket (docs/keepalive-models.md §2). Per-connection mode sets every
// option on the accepted socket itself.
func LosesListenerIdle(p Platform, m Mode) bool {
	if m == ModePerConn {
		return false
	}
	l, err := LimitsFor(p)
	return err == nil && !l.IdleInherited
}

// ListenerIdleAdvice is what to do when LosesListenerIdle holds.
const ListenerIdleAdvice = `macOS does not inherit idle from the listener (XNU never copies t_keepidle), so the 2 h default applies: use mode = "per-connection"`

// Applied predicts what an accepted connection really gets when the
// server asked for s in mode m on p: Go's default accept path re-applies
// GoDefault (net/tcpsock.go newTCPConn, docs/keepalive-models.md §5); a
// listener's idle is lost where LosesListenerIdle says so. The executor
// re-predicts from the options read back from the socket; this is for
// plans and for reading results where no read-back exists.
func Applied(p Platform, s Settings, m Mode) Settings {
	if m == ModeListenerGoDefault {
		return GoDefault
	}
	if LosesListenerIdle(p, m) {
		if d, err := Defaults(p); err == nil {
			s.Idle = d.Idle
		}
	}
	return s
}
