package agentd

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/kalab-dev/kalab/internal/fault"
	"github.com/kalab-dev/kalab/internal/wire"
)

const (
	// maxEventText bounds an event's Text (wire.Event.Text), maxErrno its
	// Errno (an errno name).
	maxEventText = 120
	maxErrno     = 40
	// maxEncodedEvent bounds one event encoded: JSON writes some
	// characters as six bytes, and every event must fit a page and a push
	// with room to spare, or paging would stall on it.
	maxEncodedEvent = 400
	// responseEnvelope is what the response envelope around an
	// EventsResp may take ({"v":1,"id":…,"ok":true,"body":…}): the handler
	// does not see the command id, which is the run id and a step.
	responseEnvelope = 64 + wire.MaxRunIDLen
	// eventsBudget is what one EventsResp may take, encoded.
	eventsBudget = wire.ResponseBudget - responseEnvelope
	// maxPage is more events than any page holds (the smallest encoded
	// event takes over 32 bytes), so a page never copies the whole log.
	maxPage = wire.ResponseBudget/32 + 1
	// pushTimeout bounds one push; pushBackoff is the pause after a failed
	// one, so that an absent subscriber costs one query every few seconds
	// and no retry storm.
	pushTimeout = 500 * time.Millisecond // an answer takes a gossip round or two (20 ms each)
	pushBackoff = 250 * time.Millisecond
)

// eventLog is one run's events on this agent, for CmdEvents and the
// subscriber's pushes. Append-only: Seq counts from 1 without gaps; at
// most wire.MaxRunEvents are kept, the oldest dropped first (and counted).
// Safe for concurrent use; add never blocks, since the server role and the
// observer call it from their own goroutines.
type eventLog struct {
	mu      sync.Mutex
	ring    []wire.Event // the kept events, oldest at start once full
	start   int
	last    int64 // Seq of the newest event; 0 before any
	dropped int64

	// removed is closed when the run's state is removed: the pushers end.
	removed   chan struct{}
	closeOnce sync.Once

	// subs are the subscribers (EventsReq.Subscribe): several people may
	// watch one session. Each has its own pusher and acknowledgements,
	// so a subscriber that went away never delays the others.
	subs []*subscriber
}

// maxSubscribers bounds a run's subscribers; a new one beyond replaces
// the one that subscribed first.
const maxSubscribers = 4

// subscriber is one node the run's events are pushed to.
type subscriber struct {
	node      string
	acked     int64 // Seq up to which it acknowledged (or was answered)
	doneAcked bool
	// changed wakes its pusher (a new event, a role ended); one pending
	// wake-up is enough. gone is closed when it is replaced.
	changed chan struct{}
	gone    chan struct{}
}

func newEventLog() *eventLog {
	return &eventLog{removed: make(chan struct{})}
}

// add appends an event; its signature is role.EventFunc's and
// observe.EventFunc's, so that the server role and the observer of a
// real service report straight into the log.
func (l *eventLog) add(kind string, at time.Time, text, errno string, probe int) {
	e := wire.Event{AtNS: at.UnixNano(), Kind: kind, Text: wire.Truncate(text, maxEventText), Errno: wire.Truncate(errno, maxErrno), Probe: probe}
	for b, err := json.Marshal(e); err == nil && len(b) > maxEncodedEvent && len(e.Text) > 6; b, err = json.Marshal(e) {
		e.Text = wire.Truncate(e.Text, len(e.Text)/2)
	}
	l.mu.Lock()
	l.last++
	e.Seq = l.last
	if len(l.ring) < wire.MaxRunEvents {
		l.ring = append(l.ring, e)
	} else {
		l.ring[l.start] = e
		l.start = (l.start + 1) % len(l.ring)
		l.dropped++
	}
	l.mu.Unlock()
	l.poke()
}

// poke wakes the pushers, if any, without waiting.
func (l *eventLog) poke() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.subs {
		select {
		case s.changed <- struct{}{}:
		default:
		}
	}
}

// close ends the pusher: the run's state is gone.
func (l *eventLog) close() { l.closeOnce.Do(func() { close(l.removed) }) }

// since returns up to n events with Seq > after, oldest first, whether
// later ones were left out, and how many the log dropped. Call with l.mu
// held.
func (l *eventLog) since(after int64, n int) (evs []wire.Event, more bool, dropped int64) {
	first := l.last - int64(len(l.ring)) + 1 // Seq of the oldest kept
	from := max(after+1, first)
	for seq := from; seq <= l.last; seq++ {
		if len(evs) == n {
			return evs, true, l.dropped
		}
		evs = append(evs, l.ring[(l.start+int(seq-first))%len(l.ring)])
	}
	return evs, false, l.dropped
}

// after is since for CmdEvents: a page of at most maxPage events.
func (l *eventLog) after(seq int64) (evs []wire.Event, more bool, dropped int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.since(seq, maxPage)
}

// subscribe makes node a subscriber, which holds the events up to seq
// (it was just answered with them); sub is new (the caller starts its
// pusher) when node was not subscribed yet.
func (l *eventLog) subscribe(node string, seq int64) (sub *subscriber, isNew bool) {
	l.mu.Lock()
	for _, s := range l.subs {
		if s.node == node {
			sub = s
		}
	}
	if sub == nil {
		if len(l.subs) == maxSubscribers {
			close(l.subs[0].gone)
			l.subs = l.subs[1:]
		}
		sub, isNew = &subscriber{node: node, changed: make(chan struct{}, 1), gone: make(chan struct{})}, true
		l.subs = append(l.subs, sub)
	}
	sub.acked = max(sub.acked, min(seq, l.last))
	l.mu.Unlock()
	l.poke()
	return sub, isNew
}

// unacked returns up to maxPage events sub has not acknowledged, whether
// later ones were left out, and whether it acknowledged the end already.
func (l *eventLog) unacked(sub *subscriber) (evs []wire.Event, more, doneAcked bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	evs, more, _ = l.since(sub.acked, maxPage)
	return evs, more, sub.doneAcked
}

// ack records that sub acknowledged the events up to seq (and the end,
// with done).
func (l *eventLog) ack(sub *subscriber, seq int64, done bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sub.acked = max(sub.acked, seq)
	sub.doneAcked = sub.doneAcked || done
}

// fit returns how many of evs, from the first, fit in budget bytes once
// encoded in the message msg wraps around them. msg should set every
// other field to its largest value (More, Done): the count is then safe
// whatever they end up being.
func fit(evs []wire.Event, budget int, msg func([]wire.Event) any) int {
	base, err := json.Marshal(msg([]wire.Event{}))
	if err != nil {
		return 0
	}
	room, n := budget-len(base), 0
	for _, e := range evs {
		b, err := json.Marshal(e)
		if err != nil {
			break
		}
		need := len(b)
		if n > 0 {
			need++ // the comma
		}
		if need > room {
			break
		}
		room -= need
		n++
	}
	return n
}

// runDone reports whether every role the run has on this agent ended (an
// observer of a real service counts as the server role: ended once its
// observation has): no more events come from it (a fault's heal aside,
// which the deadman guarantees before the run's TTL).
func (a *Agent) runDone(st *runState) bool {
	a.mu.Lock()
	srv, ob, c := st.server, st.observer, st.client
	a.mu.Unlock()
	if srv == nil && ob == nil && c == nil {
		return false
	}
	return (srv == nil || closed(srv.Done())) && (ob == nil || closed(ob.Done())) && (c == nil || closed(c.Exited()))
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// events answers CmdEvents: the run's events after req.After that fit one
// response, and subscribes req.Subscribe to the later ones.
func (a *Agent) events(_ context.Context, req wire.EventsReq) (any, error) {
	st, err := a.lookup(req.Run)
	if err != nil {
		return nil, err
	}
	// Done is read before the events: an event told after it is still in
	// this page or flagged by More, so Done never hides one.
	done := a.runDone(st)
	evs, more, dropped := st.log.after(req.After)
	n := fit(evs, eventsBudget, func(evs []wire.Event) any {
		return wire.EventsResp{Events: evs, More: true, Dropped: dropped, Done: true}
	})
	more = more || n < len(evs)
	resp := wire.EventsResp{Events: append([]wire.Event{}, evs[:n]...), More: more, Dropped: dropped, Done: done && !more}
	if req.Subscribe != "" {
		held := req.After
		if n > 0 {
			held = evs[n-1].Seq
		}
		if sub, isNew := st.log.subscribe(req.Subscribe, held); isNew {
			go a.pushEvents(req.Run, st, sub)
		}
	}
	return resp, nil
}

// pushEvents pushes the run's new events to one subscriber as they come,
// each push acknowledged before the next, until the run's state is
// removed, the subscriber is replaced, or the agent stops. A failed push is not retried at once: after
// a pause, the next change pushes everything unacknowledged; meanwhile
// the events wait in the log for an EventsReq.
func (a *Agent) pushEvents(run string, st *runState, sub *subscriber) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-a.stop:
		case <-st.log.removed:
		case <-sub.gone:
		case <-ctx.Done():
		}
		cancel()
	}()
	failing := false
	for {
		if push, ok := a.nextPush(run, st, sub); ok {
			err := a.node.Push(ctx, sub.node, wire.PushEvents, push, pushTimeout)
			if err == nil {
				last := int64(0)
				if len(push.Events) > 0 {
					last = push.Events[len(push.Events)-1].Seq
				}
				st.log.ack(sub, last, push.Done)
				failing = false
				continue // more may be waiting
			}
			if ctx.Err() != nil {
				return
			}
			// Warned once per outage: a subscriber gone for good would
			// otherwise log at every event.
			if !failing {
				a.log.Warn("event push failed; the events stay for the next events command", "run", run, "subscriber", sub.node, "err", err)
			}
			failing = true
			select {
			case <-ctx.Done():
				return
			case <-time.After(pushBackoff):
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-sub.changed:
		}
	}
}

// nextPush returns the next push for sub: the events it did not
// acknowledge that fit CommandBudget, with Done when they end the run's
// events; ok is false when there is nothing to push.
func (a *Agent) nextPush(run string, st *runState, sub *subscriber) (push wire.EventPush, ok bool) {
	done := a.runDone(st) // before the events, as in events
	evs, more, doneAcked := st.log.unacked(sub)
	push = wire.EventPush{Agent: a.cfg.Name, Run: run}
	n := fit(evs, wire.CommandBudget, func(evs []wire.Event) any {
		p := push
		p.Events, p.Done = evs, true
		return p
	})
	more = more || n < len(evs)
	push.Events, push.Done = evs[:n], done && !more
	return push, n > 0 || (push.Done && !doneAcked)
}

// faultText says which fault was applied and how, for its event.
func faultText(req wire.FaultReq, how string) string {
	s := req.Kind
	for _, w := range []string{req.Scope, req.Direction} {
		if w != "" {
			s += " " + w
		}
	}
	if req.HoldMS > 0 {
		s += fmt.Sprintf(", held %dms", req.HoldMS)
	}
	if how != "" {
		s += ": " + how
	}
	return s
}

// healing notes who is about to heal f, for its heal event; the first
// note wins (Heal acts once).
func (a *Agent) healing(st *runState, f *fault.Active, by string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if st.fault == f && st.healBy != nil && *st.healBy == "" {
		*st.healBy = by
	}
}

// watchHeal tells the run's log when f is healed, by whoever heals it:
// the hold, the heal command, the deadman or the run's cleanup.
func (a *Agent) watchHeal(st *runState, f *fault.Active, by *string) {
	<-f.Done()
	at, byDeadman := f.HealedAt()
	a.mu.Lock()
	who := *by
	a.mu.Unlock()
	switch {
	case byDeadman:
		who = "the deadman (its TTL ran out)"
	case who == "":
		who = "the run's cleanup"
	}
	text := f.Kind + " healed by " + who
	if err := f.Err(); err != nil {
		text += ": " + err.Error()
	}
	st.log.add(wire.EventHeal, at, text, "", 0)
}
