package session

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/wire"
)

// Pushes collects the events agents push to this coordinator's node:
// register it before the node starts (experiment.JoinOptions.BeforeStart).
type Pushes struct{ ch chan wire.EventPush }

// NewPushes makes a receiver that keeps up to 1024 pushes waiting; more
// are dropped (the agents keep every event, and watch fetches what it
// missed).
func NewPushes() *Pushes { return &Pushes{ch: make(chan wire.EventPush, 1024)} }

// Register makes node hand its PushEvents queries to p.
func (p *Pushes) Register(node *cluster.Node) {
	node.HandlePush(wire.PushEvents, func(from string, payload []byte) {
		var ep wire.EventPush
		if err := json.Unmarshal(payload, &ep); err != nil || ep.Agent != from {
			return // not a push of events from the agent that sent it
		}
		select {
		case p.ch <- ep:
		default:
		}
	})
}

// WatchOptions say how to show the timeline.
type WatchOptions struct {
	// Out receives the lines; JSON writes one object per line instead of
	// text; Terminal adds a countdown status line (Out is a terminal).
	Out      io.Writer
	JSON     bool
	Terminal bool
	// Poll is how often watch also fetches the events it may have missed
	// (a push lost, an agent that restarted); 0 means 1 s. An event that
	// came this way may print after later ones: its time says when it
	// happened.
	Poll time.Duration
	// Grace is how long watch goes on after the detection, for the
	// client's last events; 0 means 1 s.
	Grace time.Duration
}

// Watch shows the session's events live until the server detected the
// client's loss (or its role ended), the session expired, or ctx ends.
// It subscribes node to both agents' pushes and fetches their backlog
// first, so a watch started late, or restarted, misses nothing the
// agents still hold.
func Watch(ctx context.Context, node *cluster.Node, rec *Record, pushes *Pushes, o WatchOptions) error {
	s := &rec.Session
	if o.Poll == 0 {
		o.Poll = time.Second
	}
	if o.Grace == 0 {
		o.Grace = time.Second
	}
	col, err := s.Collect(ctx, node)
	if err != nil {
		return fmt.Errorf("session %s: %w", s.ID, err)
	}
	tl := NewTimeline(s, experiment.Effective(col))
	status := ""
	show := func(lines []Line) error {
		if o.Terminal && status != "" {
			fmt.Fprint(o.Out, "\r\x1b[2K")
			status = ""
		}
		for _, l := range lines {
			if o.JSON {
				if err := tl.WriteJSON(o.Out, l); err != nil {
					return err
				}
			} else {
				tl.WritePlain(o.Out, l)
			}
		}
		return nil
	}
	fetch := func() error {
		for _, a := range []string{s.Server.Name, s.Client.Name} {
			evs, _, err := s.Events(ctx, node, a, tl.After(a), node.Name())
			if err != nil {
				return fmt.Errorf("events of %s: %w", a, err)
			}
			if err := show(tl.Add(a, evs)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := fetch(); err != nil {
		return err
	}
	poll := time.NewTicker(o.Poll)
	defer poll.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var doneAt time.Time
	for {
		if tl.Detected() && doneAt.IsZero() {
			doneAt = time.Now()
		}
		if !doneAt.IsZero() && time.Since(doneAt) >= o.Grace {
			return show(nil)
		}
		if time.Now().After(rec.ExpiresAt) {
			_ = show(nil)
			return fmt.Errorf("session %s expired at %s: the agents have dropped it", s.ID, rec.ExpiresAt.Format(time.TimeOnly))
		}
		select {
		case <-ctx.Done():
			return show(nil)
		case p := <-pushes.ch:
			if p.Run == s.Key && (p.Agent == s.Server.Name || p.Agent == s.Client.Name) {
				if err := show(tl.Add(p.Agent, p.Events)); err != nil {
					return err
				}
			}
		case <-poll.C:
			if err := fetch(); err != nil {
				return err
			}
		case now := <-tick.C:
			if o.Terminal {
				if c := tl.Countdown(now); c != "" || status != "" {
					fmt.Fprint(o.Out, "\r\x1b[2K"+c)
					status = c
				}
			}
		}
	}
}
