package role

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/observe"
	"github.com/kalab-dev/kalab/internal/probe"
	"github.com/kalab-dev/kalab/internal/tcpinfo"
	"github.com/kalab-dev/kalab/internal/wire"
)

// EventFunc is told what happens to a server role's connection as it
// happens, for a live timeline. It is the observer's hook type (its
// arguments are described there), so that one sink, the agent's run log,
// takes kalab's own server and a real service's alike.
//
// It is called from the role's goroutines (the accept and read loop, the
// TCP_INFO poller, the ICMP monitor, Echo's caller), never while the role
// holds its lock, and the role waits for it: it must return quickly and
// must not call back into the Server.
type EventFunc = observe.EventFunc

// event tells cfg.Events, if set.
func (s *Server) event(kind string, at time.Time, text, errno string, probe int) {
	if s.cfg.Events != nil {
		s.cfg.Events(kind, at, text, errno, probe)
	}
}

// optionsText says the options read back from the accepted socket in
// words ("keepalive on, idle 1s, interval 3s, count 10", as the observer
// says a service's), with the heartbeat, or why they could not be read.
func optionsText(eff keepalive.Effective, hb keepalive.Heartbeat, err error) string {
	if err != nil {
		return "options not read back: " + err.Error()
	}
	text := observe.OptionsText(eff)
	if !hb.IsZero() {
		text += ", " + hb.Short()
	}
	return text
}

// icmpEvent turns an ICMP monitor transition into its event.
func (s *Server) icmpEvent(tr probe.Transition) {
	if tr.Up {
		s.event(wire.EventICMPBack, tr.At, "pings to "+s.cfg.Client.String()+" answered again", "", 0)
		return
	}
	s.event(wire.EventICMPLost, tr.At, "pings to "+s.cfg.Client.String()+" unanswered", "", 0)
}

// sample folds one TCP_INFO sample into t0 and tells what it moved: the
// client's last sign of life, when it moved forward, and each unanswered
// keepalive probe first seen in it.
func (s *Server) sample(t0 *t0Tracker, i tcpinfo.Info) {
	t0.add(i).Report(
		func(at time.Time, text string) { s.event(wire.EventPeer, at, text, "", 0) },
		func(at time.Time, text string, n int) { s.event(wire.EventProbe, at, text, "", n) })
}

// echoEvent tells how an Echo went.
func (s *Server) echoEvent(rtt time.Duration, err error) {
	if err != nil {
		s.event(wire.EventEcho, time.Now(), err.Error(), "", 0)
		return
	}
	s.event(wire.EventEcho, time.Now(), fmt.Sprintf("round trip %.2f ms", float64(rtt.Microseconds())/1000), "", 0)
}

// endReason says why the role ended without a detection: its TTL, Close
// (the agent's cleanup), or what failed.
func endReason(ctx context.Context, failure error) string {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "the role's TTL ran out"
	case ctx.Err() != nil:
		return "the role was closed"
	case failure != nil:
		return failure.Error()
	}
	return "the role ended"
}
