package session

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/wire"
)

// Line is one event on a session's timeline.
type Line struct {
	// T is the time since the session started, on the server's clock
	// (client events moved there with both agents' clock offsets).
	T time.Duration
	// At is the same instant as a wall-clock time on the server's clock.
	At time.Time
	// Agent saw it; Role is "server" or "client".
	Agent, Role string
	wire.Event
}

// lineJSON is one `watch --json` object.
type lineJSON struct {
	T     float64 `json:"t_s"`
	At    string  `json:"at"`
	Agent string  `json:"agent"`
	Role  string  `json:"role"`
	Seq   int64   `json:"seq,omitempty"`
	Kind  string  `json:"kind"`
	Text  string  `json:"text,omitempty"`
	Errno string  `json:"errno,omitempty"`
	Probe int     `json:"probe,omitempty"`
	// From and To are a "model" line's expected detection, in seconds
	// since the session started.
	From *float64 `json:"from_s,omitempty"`
	To   *float64 `json:"to_s,omitempty"`
}

// KindModel is the kind of the line watch adds itself when a fault that
// keepalive should detect is applied: the model's expected detection.
const KindModel = "model"

// Timeline orders a session's events from both agents, drops duplicates
// (a push and a fetch may carry the same event) and follows the model's
// expected detection.
type Timeline struct {
	s    *experiment.Session
	pred keepalive.Prediction
	ok   bool
	seen map[string]int64 // agent → highest Seq taken
	// peer is the server's last sign of life from the client; fault is
	// whether a fault keepalive should detect is in force.
	peer       time.Time
	fault      bool
	faultAt    time.Time // when the fault in force began
	detected   bool
	serverDone bool
	// Expect is the model's detection window on the server's clock
	// (zero: none expected now).
	ExpectFrom, ExpectTo time.Time
}

// NewTimeline starts a session's timeline; eff is what the server applied
// (from its record), for the model.
func NewTimeline(s *experiment.Session, eff keepalive.Effective) *Timeline {
	t := &Timeline{s: s, seen: map[string]int64{}}
	t.pred, _ = s.Predict(eff)
	t.ok = t.pred.FromT0.Max > 0
	return t
}

// After is the highest Seq taken from agent (fetch after it).
func (t *Timeline) After(agent string) int64 { return t.seen[agent] }

// Detected says whether the server's detection (or the end of its role)
// is on the timeline.
func (t *Timeline) Detected() bool { return t.detected || t.serverDone }

// Add takes an agent's events (any order, duplicates allowed) and returns
// the new lines in time order, with a model line after a fault keepalive
// should detect.
func (t *Timeline) Add(agent string, evs []wire.Event) []Line {
	sort.Slice(evs, func(i, j int) bool { return evs[i].Seq < evs[j].Seq })
	role := "server"
	if agent == t.s.Client.Name {
		role = "client"
	}
	var out []Line
	for _, e := range evs {
		if e.Seq <= t.seen[agent] {
			continue
		}
		t.seen[agent] = e.Seq
		at := t.s.ToServerClock(agent, e.AtNS)
		l := Line{T: at.Sub(t.s.Origin()), At: at, Agent: agent, Role: role, Event: e}
		out = append(out, l)
		switch e.Kind {
		case wire.EventPeer:
			t.peer = at
		case wire.EventFault:
			// Keepalive detects a drop and a (real or emulated) VM pause;
			// a paused process's kernel keeps answering, a kill closes.
			t.fault = strings.HasPrefix(e.Text, "drop") || strings.HasPrefix(e.Text, "vm-pause")
			t.faultAt = at
		case wire.EventHeal:
			t.fault = false
		case wire.EventDetection:
			t.detected = true
		case wire.EventEnded:
			t.serverDone = role == "server" || t.serverDone
		}
		if e.Kind == wire.EventFault || (e.Kind == wire.EventPeer && t.fault) || e.Kind == wire.EventHeal {
			if m, ok := t.modelLine(at); ok {
				out = append(out, m)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// modelLine recomputes the expected detection from the last peer
// activity, as a line at instant at — or at the fault, when a sign of
// life from before it arrived late (a lost push fetched again).
func (t *Timeline) modelLine(at time.Time) (Line, bool) {
	if at.Before(t.faultAt) {
		at = t.faultAt
	}
	if !t.fault || !t.ok || t.peer.IsZero() || t.detected {
		t.ExpectFrom, t.ExpectTo = time.Time{}, time.Time{}
		return Line{}, false
	}
	t.ExpectFrom, t.ExpectTo = t.peer.Add(t.pred.FromT0.Min), t.peer.Add(t.pred.FromT0.Max)
	at2 := rel(t.ExpectFrom.Sub(t.s.Origin()))
	if t.ExpectTo.After(t.ExpectFrom) {
		at2 += " – " + rel(t.ExpectTo.Sub(t.s.Origin()))
	}
	text := fmt.Sprintf("detection expected at %s (%s after the last ACK; %s)", at2, window(t.pred.FromT0), t.pred.Settings.Short())
	return Line{T: at.Sub(t.s.Origin()), At: at, Agent: t.s.Server.Name, Role: "model", Event: wire.Event{Kind: KindModel, Text: text}}, true
}

func window(w keepalive.Window) string {
	if w.Min == w.Max {
		return fmt.Sprintf("%.3f s", w.Min.Seconds())
	}
	return fmt.Sprintf("%.3f – %.3f s", w.Min.Seconds(), w.Max.Seconds())
}

// rel is a time since the session start: "+12.345 s".
func rel(d time.Duration) string { return fmt.Sprintf("%+.3f s", d.Seconds()) }

// WritePlain writes l as one line for people.
func (t *Timeline) WritePlain(w io.Writer, l Line) {
	what := l.Kind
	if l.Kind == wire.EventProbe {
		what = fmt.Sprintf("probe %d", l.Probe)
	}
	text := l.Text
	if l.Errno != "" {
		text = strings.TrimSpace(l.Errno + " " + text)
	}
	fmt.Fprintf(w, "%11s  %-6s  %-10s  %s\n", rel(l.T), l.Role, what, text)
}

// WriteJSON writes l as one JSON object per line.
func (t *Timeline) WriteJSON(w io.Writer, l Line) error {
	j := lineJSON{T: l.T.Seconds(), At: l.At.UTC().Format(time.RFC3339Nano), Agent: l.Agent, Role: l.Role, Seq: l.Seq,
		Kind: l.Kind, Text: l.Text, Errno: l.Errno, Probe: l.Probe}
	if l.Kind == KindModel {
		from, to := t.ExpectFrom.Sub(t.s.Origin()).Seconds(), t.ExpectTo.Sub(t.s.Origin()).Seconds()
		j.From, j.To = &from, &to
	}
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// dueSlack is how long after the model's latest instant the countdown
// still says "due now": the kernel's timer and the agent's read of the
// socket take a few milliseconds.
const dueSlack = 100 * time.Millisecond

// Countdown is the terminal's status line at instant now: the time left
// until the model's expected detection, or how far past it.
func (t *Timeline) Countdown(now time.Time) string {
	if t.ExpectTo.IsZero() || t.Detected() {
		return ""
	}
	switch {
	case now.Before(t.ExpectFrom):
		return fmt.Sprintf("model: detection in %.1f s (at %s)", t.ExpectFrom.Sub(now).Seconds(), rel(t.ExpectFrom.Sub(t.s.Origin())))
	case now.Before(t.ExpectTo.Add(dueSlack)):
		return "model: detection due now"
	default:
		return fmt.Sprintf("model: detection overdue by %.1f s", now.Sub(t.ExpectTo).Seconds())
	}
}
