package observe

import (
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/tcpinfo"
	"github.com/kalab-dev/kalab/internal/wire"
)

// EventFunc is told what happens to the observed connection as the
// observer sees it, for the same live timeline kalab's own server role
// feeds (role.EventFunc is this type, so one sink takes both): kind is
// one of the wire.Event* names, at when it happened on this host's clock,
// text the details for people, errno the detection's errno name
// (wire.EventDetection only), probe the unanswered keepalive probe's
// number (wire.EventProbe only).
//
// It is called from the observer's polling goroutine, never while the
// observer holds its lock, and the next poll waits for it: it must return
// quickly and must not call back into the Observer (Close would wait for
// the very goroutine that called it).
type EventFunc func(kind string, at time.Time, text, errno string, probe int)

// event tells cfg.Events, if set.
func (o *Observer) event(kind string, at time.Time, text, errno string, probe int) {
	if o.cfg.Events != nil {
		o.cfg.Events(kind, at, text, errno, probe)
	}
}

// moved tells what one sample moved: the client's last sign of life and
// each newly unanswered probe, worded as the server role words them.
func (o *Observer) moved(m tcpinfo.Moved) {
	if o.cfg.Events == nil {
		return
	}
	m.Report(
		func(at time.Time, text string) { o.event(wire.EventPeer, at, text, "", 0) },
		func(at time.Time, text string, n int) { o.event(wire.EventProbe, at, text, "", n) })
}

// OptionsText says keepalive options read back from a socket in words,
// as a timeline shows them: "keepalive on, idle 1s, interval 3s, count
// 10", with the user timeout when one is set. kalab's server role words
// its own socket's options with it too, so that both read alike.
func OptionsText(eff keepalive.Effective) string {
	dur := func(o keepalive.Opt[time.Duration]) string {
		if !o.Known {
			return "unknown"
		}
		return keepalive.ShortDuration(o.Value)
	}
	var parts []string
	switch {
	case !eff.Enabled.Known:
		parts = append(parts, "keepalive unknown")
	case eff.Enabled.Value:
		parts = append(parts, "keepalive on")
	default:
		parts = append(parts, "keepalive off")
	}
	if eff.Enabled.Value || !eff.Enabled.Known {
		parts = append(parts, "idle "+dur(eff.Idle), "interval "+dur(eff.Interval), "count "+eff.Count.String())
	}
	if eff.UserTimeout.Known && eff.UserTimeout.Value > 0 {
		parts = append(parts, eff.UserTimeoutOpt+" "+dur(eff.UserTimeout))
	}
	return strings.Join(parts, ", ")
}

// optionsEventText is the options event's text: the options in words when
// they were read from the target's socket, otherwise EffectiveFrom's
// "unknown: <why>".
func optionsEventText(eff keepalive.Effective, from string) string {
	if from != EffectiveSocket {
		return from
	}
	return OptionsText(eff)
}

// endEvent is the last event of an observation whose record is r: a
// detection, with the errno kalab's own server would have read, when the
// peer ended the connection (its silence timed the socket out, its RST or
// its FIN), otherwise an end (the service closed first, the cause cannot
// be told, or the observation stopped: why says how, for a record with no
// end). A connection first seen already over has no detection instant,
// so it ends without a detection whatever ended it.
func endEvent(r Record, why string, now time.Time) (kind string, at time.Time, text, errno string) {
	if r.Ended == "" {
		if !r.Found {
			why += " before the connection was found in the socket table"
		}
		return wire.EventEnded, now, why, ""
	}
	where := "its socket is in " + r.State
	if r.State == "" {
		where = "its socket is gone from the socket table"
	}
	var how string
	switch r.Ended {
	case EndedKeepaliveTimeout:
		// Linux resets the connection when the last probe goes unanswered
		// (tcp_keepalive_timer); a socket seen in CLOSE is on its way out.
		how, errno = "the service's socket timed out (keepalive): "+strings.TrimPrefix(where, "its socket is ")+" after RST", "ETIMEDOUT"
	case EndedRetransmitTimeout:
		how, errno = "the service's socket timed out (retransmissions): "+where, "ETIMEDOUT"
	case EndedResetByPeer:
		how, errno = "the client reset the connection: "+where+", the service still holding it", "ECONNRESET"
	case EndedClosedByPeer:
		how, errno = "the client closed the connection: "+where, "EOF"
	case EndedClosedByTarget:
		how = "the service closed the connection itself: " + where
	default:
		how = "the service's side ended and the socket table cannot tell why: " + where
	}
	if r.Detect == nil {
		return wire.EventEnded, now, how + " (already when first seen: no detection instant)", ""
	}
	if errno == "" {
		return wire.EventEnded, *r.Detect, how, ""
	}
	return wire.EventDetection, *r.Detect, how, errno
}
