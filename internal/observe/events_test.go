package observe

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/wire"
)

// seen is one call of an observer's Events hook.
type seen struct {
	kind, text, errno string
	at                time.Time
	probe             int
}

// hook returns an Events hook and the list it fills. The hook is called
// from the observer's one polling goroutine only, and Done closes after
// the last call: read the list once Done is closed.
func hook() (EventFunc, *[]seen) {
	var evs []seen
	return func(kind string, at time.Time, text, errno string, probe int) {
		evs = append(evs, seen{kind, text, errno, at, probe})
	}, &evs
}

func seenKinds(evs []seen) []string {
	var ks []string
	for _, e := range evs {
		ks = append(ks, e.kind)
	}
	return ks
}

// scripted is a source that plays samples in order (the last one again
// once they run out), for the observer's loop without a socket table.
type scripted struct {
	samples []sample
	next    int
	eff     keepalive.Effective
	from    string
}

func (s *scripted) poll() (sample, error) {
	x := s.samples[min(s.next, len(s.samples)-1)]
	s.next++
	return x, nil
}

func (s *scripted) identify(sample) (Owner, keepalive.Effective, string, []string) {
	return Owner{PID: 42, Name: "redis-server"}, s.eff, s.from, nil
}

func (s *scripted) held() heldState { return heldYes }
func (s *scripted) close()          {}

// observeScript runs the observer's loop over src until it ends (or the
// TTL passes) and returns what its hook was told.
func observeScript(t *testing.T, src source, ttl time.Duration) ([]seen, Record) {
	t.Helper()
	events, evs := hook()
	cfg := Config{Poll: time.Millisecond, HZ: 250, TTL: ttl, Events: events}
	ctx, cancel := context.WithTimeout(context.Background(), ttl)
	o := &Observer{cfg: cfg, src: src, cancel: cancel, done: make(chan struct{}), rec: Record{HZ: cfg.HZ}}
	go o.run(ctx)
	select {
	case <-o.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the observation did not end")
	}
	return *evs, o.Record()
}

// TestObserverEvents: the observer tells the options once the connection
// is found, then each forward move of the client's last sign of life and
// each newly unanswered probe, at the tracker's instants, and last how
// the connection ended; an observation that saw no end says why it
// stopped.
func TestObserverEvents(t *testing.T) {
	ka := TimerKeepalive
	on := keepalive.Effective{}
	on.Enabled.Value, on.Enabled.Known = true, true
	on.Idle.Value, on.Idle.Known = time.Second, true
	on.Interval.Value, on.Interval.Known = time.Second, true
	on.Count.Value, on.Count.Known = 3, true
	t.Run("keepalive timeout", func(t *testing.T) {
		src := &scripted{eff: on, from: EffectiveSocket, samples: []sample{
			gone(0, heldUnknown), // not there yet: no event
			est(20, 20, 0, 0, ka), est(40, 40, 0, 0, ka),
			est(500, 0, 0, 0, ka), // an answer: T0 moves
			est(1500, 1000, 1, 0, ka), est(2500, 2000, 2, 0, ka), est(2520, 2020, 2, 0, ka), est(3500, 3000, 3, 0, ka),
			gone(4500, heldYes),
		}}
		evs, r := observeScript(t, src, 10*time.Second)
		want := []string{wire.EventOptions, wire.EventPeer, wire.EventPeer,
			wire.EventProbe, wire.EventProbe, wire.EventProbe, wire.EventDetection}
		if !slices.Equal(seenKinds(evs), want) {
			t.Fatalf("events %v, want %v", seenKinds(evs), want)
		}
		if evs[0].text != "keepalive on, idle 1s, interval 1s, count 3" {
			t.Errorf("options %q", evs[0].text)
		}
		for i, wantAt := range []int{0, 500} {
			if e := evs[1+i]; !e.at.Equal(ms(wantAt)) || e.text != "last ACK from the client" {
				t.Errorf("peer event %d %+v, want at +%dms, the last ACK", i, e, wantAt)
			}
		}
		for i, wantAt := range []int{1500, 2500, 3500} {
			if e := evs[3+i]; e.probe != i+1 || !e.at.Equal(ms(wantAt)) || !strings.Contains(e.text, fmt.Sprintf("probe %d sent, no answer yet", i+1)) {
				t.Errorf("probe event %+v, want probe %d at +%dms", e, i+1, wantAt)
			}
		}
		last := evs[len(evs)-1]
		if last.errno != "ETIMEDOUT" || !last.at.Equal(ms(4500)) || r.Ended != EndedKeepaliveTimeout ||
			last.text != "the service's socket timed out (keepalive): gone from the socket table after RST" {
			t.Errorf("last event %+v (record ended %q), want the keepalive detection at +4500ms", last, r.Ended)
		}
	})
	t.Run("ttl before the end", func(t *testing.T) {
		src := &scripted{from: unknownFrom("pidfd_getfd: operation not permitted"), samples: []sample{est(0, 0, 0, 0, ka)}}
		evs, _ := observeScript(t, src, 100*time.Millisecond)
		if ks := seenKinds(evs); !slices.Equal(ks, []string{wire.EventOptions, wire.EventPeer, wire.EventEnded}) {
			t.Fatalf("events %v, want options, peer, ended", ks)
		}
		if evs[0].text != "unknown: pidfd_getfd: operation not permitted" || evs[2].text != "the observation's TTL ran out" || evs[2].errno != "" {
			t.Errorf("options %q, end %+v", evs[0].text, evs[2])
		}
	})
}

// TestEndEvent: how each ending is told: a detection with the errno
// kalab's own server would read when the client ended the connection, an
// end otherwise.
func TestEndEvent(t *testing.T) {
	now, detect := ms(9000), ms(4000)
	tests := []struct {
		name      string
		r         Record
		why       string
		kind      string
		at        time.Time
		errno     string
		textHas   string
		textEqual bool
	}{
		{"keepalive, gone", Record{Found: true, Ended: EndedKeepaliveTimeout, Detect: &detect}, "",
			wire.EventDetection, detect, "ETIMEDOUT", "the service's socket timed out (keepalive): gone from the socket table after RST", true},
		{"retransmissions", Record{Found: true, Ended: EndedRetransmitTimeout, Detect: &detect}, "",
			wire.EventDetection, detect, "ETIMEDOUT", "timed out (retransmissions)", false},
		{"reset", Record{Found: true, Ended: EndedResetByPeer, Detect: &detect}, "",
			wire.EventDetection, detect, "ECONNRESET", "the client reset the connection", false},
		{"client's FIN", Record{Found: true, Ended: EndedClosedByPeer, State: stCloseWait, Detect: &detect}, "",
			wire.EventDetection, detect, "EOF", "the client closed the connection: its socket is in CLOSE_WAIT", true},
		{"service closed", Record{Found: true, Ended: EndedClosedByTarget, State: stFinWait1, Detect: &detect}, "",
			wire.EventEnded, detect, "", "the service closed the connection itself: its socket is in FIN_WAIT1", true},
		{"gone, cause unknown", Record{Found: true, Ended: EndedGone, Detect: &detect}, "",
			wire.EventEnded, detect, "", "cannot tell why", false},
		{"over when first seen", Record{Found: true, Ended: EndedClosedByPeer, State: stCloseWait}, "",
			wire.EventEnded, now, "", "no detection instant", false},
		{"ttl", Record{Found: true}, "the observation's TTL ran out",
			wire.EventEnded, now, "", "the observation's TTL ran out", true},
		{"closed, never found", Record{}, "the observation was closed",
			wire.EventEnded, now, "", "the observation was closed before the connection was found in the socket table", true},
	}
	for _, tt := range tests {
		kind, at, text, errno := endEvent(tt.r, tt.why, now)
		if kind != tt.kind || !at.Equal(tt.at) || errno != tt.errno || !strings.Contains(text, tt.textHas) || (tt.textEqual && text != tt.textHas) || len(text) > 120 {
			t.Errorf("%s: %s at %v %q %q; want %s at %v %q, text with %q (at most 120 bytes)", tt.name, kind, at, errno, text, tt.kind, tt.at, tt.errno, tt.textHas)
		}
	}
}

// TestOptionsText: options in words, unknown ones said so.
func TestOptionsText(t *testing.T) {
	var eff keepalive.Effective
	if got := OptionsText(eff); got != "keepalive unknown, idle unknown, interval unknown, count unknown" {
		t.Errorf("all unknown: %q", got)
	}
	eff.Enabled.Known = true
	if got := OptionsText(eff); got != "keepalive off" {
		t.Errorf("off: %q", got)
	}
	eff.Enabled.Value = true
	eff.Idle.Value, eff.Idle.Known = 7200*time.Second, true
	eff.Interval.Value, eff.Interval.Known = 75*time.Second, true
	eff.Count.Value, eff.Count.Known = 9, true
	eff.UserTimeout.Value, eff.UserTimeout.Known, eff.UserTimeoutOpt = 1500*time.Millisecond, true, "TCP_USER_TIMEOUT"
	if got := OptionsText(eff); got != "keepalive on, idle 2h, interval 75s, count 9, TCP_USER_TIMEOUT 1500ms" {
		t.Errorf("on: %q", got)
	}
}
