package tcpinfo

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestTracker: T0 is the earliest estimate until the estimate moves later
// by more than the tick rounding (new activity); probe instants are the
// samples that saw the counter rise, reset when a probe is answered.
func TestTracker(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// sample at ms whose last ACK was ageMs before, with probes out.
	s := func(ms, ageMs int, probes uint8) Info {
		age := time.Duration(ageMs) * time.Millisecond
		return Info{At: at(ms), LastAckRecv: age, LastDataRecv: age + time.Hour, Probes: probes}
	}
	tr := NewTracker(250)
	for _, i := range []Info{s(100, 100, 0), s(120, 116, 0), s(1100, 1100, 1), s(2100, 2100, 2)} {
		tr.Add(i)
	}
	if got, ok := tr.T0(); !ok || !got.Equal(at(0)) {
		t.Errorf("T0 = %v, %v; want the earliest estimate %v", got, ok, at(0))
	}
	if p := tr.ProbeTimes(); len(p) != 2 || !p[0].Equal(at(1100)) || !p[1].Equal(at(2100)) {
		t.Errorf("probes %v", p)
	}
	tr.Add(s(3000, 0, 0)) // answered: new activity, a new cycle
	if got, _ := tr.T0(); !got.Equal(at(3000)) || len(tr.ProbeTimes()) != 0 {
		t.Errorf("after an answer: T0 %v, probes %v", got, tr.ProbeTimes())
	}
	if Jiffy(0) != 10*time.Millisecond || Jiffy(250) != 4*time.Millisecond {
		t.Errorf("Jiffy: %s %s", Jiffy(0), Jiffy(250))
	}
}

// TestTrackerMoved: each sample says whether the client's last activity
// moved forward and which unanswered probes it shows first, numbered
// from 1 within each unanswered run; Report words them as the timeline
// shows them.
func TestTrackerMoved(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	at := func(n int) time.Time { return t0.Add(ms(n)) }
	tr := NewTracker(1000)
	for _, tc := range []struct {
		atMS, ageMS, dataAgeMS int
		probes                 uint8
		wantPeer               time.Time
		wantProbes             []time.Time
		wantFirst              int
		wantReport             []string
	}{
		{0, 0, 5000, 0, at(0), nil, 0, []string{"peer last ACK from the client"}},                                               // the first sample sets T0
		{10, 10, 5010, 0, time.Time{}, nil, 0, nil},                                                                             // same activity
		{1000, 1000, 6000, 1, time.Time{}, []time.Time{at(1000)}, 1, []string{"probe 1 keepalive probe 1 sent, no answer yet"}}, // probe 1
		{1500, 1500, 6500, 1, time.Time{}, nil, 0, nil},                                                                         // still one out
		{2000, 2000, 7000, 3, time.Time{}, []time.Time{at(2000), at(2000)}, 2,
			[]string{"probe 2 keepalive probe 2 sent, no answer yet", "probe 3 keepalive probe 3 sent, no answer yet"}}, // two more at once
		{2500, 0, 0, 0, at(2500), nil, 0, []string{"peer last data from the client"}},                                           // answered with data: T0 moves
		{3500, 1000, 1000, 1, time.Time{}, []time.Time{at(3500)}, 1, []string{"probe 1 keepalive probe 1 sent, no answer yet"}}, // a new run starts at 1
	} {
		m := tr.Add(Info{At: at(tc.atMS), LastAckRecv: ms(tc.ageMS), LastDataRecv: ms(tc.dataAgeMS), Probes: tc.probes})
		if !m.Peer.Equal(tc.wantPeer) || !slices.EqualFunc(m.Probes, tc.wantProbes, time.Time.Equal) || m.First != tc.wantFirst {
			t.Errorf("sample at %dms (age %dms, %d probes): peer %v, probes %v from %d; want %v, %v from %d",
				tc.atMS, tc.ageMS, tc.probes, m.Peer, m.Probes, m.First, tc.wantPeer, tc.wantProbes, tc.wantFirst)
		}
		var told []string
		m.Report(func(at time.Time, text string) { told = append(told, "peer "+text) },
			func(at time.Time, text string, n int) { told = append(told, fmt.Sprintf("probe %d %s", n, text)) })
		if !slices.Equal(told, tc.wantReport) {
			t.Errorf("sample at %dms: reported %q, want %q", tc.atMS, told, tc.wantReport)
		}
	}
}
