package observe

import (
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/tcpinfo"
)

var base = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func ms(n int) time.Time { return base.Add(time.Duration(n) * time.Millisecond) }

// est is an ESTABLISHED sample at atMs whose peer was last heard ageMs
// before, with probes unanswered and retrans retransmissions.
func est(atMs, ageMs int, probes, retrans uint8, timer string) sample {
	age := time.Duration(ageMs) * time.Millisecond
	return sample{At: ms(atMs), Present: true, State: stEstablished, Timer: timer,
		Info: &tcpinfo.Info{At: ms(atMs), State: 1, LastAckRecv: age, LastDataRecv: age + time.Hour, Probes: probes, Retransmits: retrans}}
}

// in is a sample that saw the socket in state st.
func in(atMs int, st string) sample { return sample{At: ms(atMs), Present: true, State: st} }

// gone is a sample that did not find the socket.
func gone(atMs int, h heldState) sample { return sample{At: ms(atMs), Held: h} }

// bare is an ESTABLISHED sample from a table without tcp_info (Windows,
// macOS).
func bare(atMs int) sample { return sample{At: ms(atMs), Present: true, State: stEstablished} }

// TestTracker feeds synthetic successive samples, as the poller would,
// and checks the Record: every way a connection can end, and T0 and the
// probe instants on the way.
func TestTracker(t *testing.T) {
	ka := TimerKeepalive
	tests := []struct {
		name        string
		samples     []sample
		wantFound   bool
		wantEnded   string
		wantState   string
		wantDetect  int // ms; -1 = nil
		wantLast    int // LastSeen ms; -1 = nil
		wantT0      int // LastPeer ms; -1 = nil
		wantProbes  int // -1 = nil
		wantPTimes  []int
		wantTimer   string
		wantNoteHas string
	}{
		{
			name: "keepalive timeout: three probes unanswered, then gone",
			samples: []sample{
				gone(0, heldUnknown), // before the connection exists: waited for
				est(20, 20, 0, 0, ka), est(1000, 996, 0, 0, ka),
				est(1020, 1016, 1, 0, ka), est(2020, 2016, 2, 0, ka), est(3040, 3036, 3, 0, ka),
				gone(4020, heldYes),
			},
			wantFound: true, wantEnded: EndedKeepaliveTimeout, wantDetect: 4020, wantLast: 3040,
			wantT0: 0, wantProbes: 3, wantPTimes: []int{1020, 2020, 3040}, wantTimer: ka,
		},
		{
			name: "a poll missed between probes: both rises stamped at the poll that saw them",
			samples: []sample{
				est(0, 0, 0, 0, ka), est(1500, 1500, 2, 0, ka), est(2500, 2500, 3, 0, ka), gone(3100, heldNo),
			},
			wantFound: true, wantEnded: EndedKeepaliveTimeout, wantDetect: 3100, wantLast: 2500,
			wantT0: 0, wantProbes: 3, wantPTimes: []int{1500, 1500, 2500}, wantTimer: ka,
		},
		{
			name: "probe answered resets the cycle; later new activity moves T0; then an RST",
			samples: []sample{
				est(0, 0, 0, 0, ka), est(1000, 1000, 1, 0, ka), est(1100, 8, 0, 0, ka),
				est(1500, 408, 0, 0, ka), gone(1520, heldYes),
			},
			wantFound: true, wantEnded: EndedResetByPeer, wantDetect: 1520, wantLast: 1500,
			wantT0: 1092, wantProbes: 0, wantTimer: ka,
		},
		{
			name: "jiffy rounding is not new activity",
			samples: []sample{
				est(100, 100, 0, 0, ka), est(200, 196, 0, 0, ka), est(300, 292, 0, 0, ka), in(320, stFinWait1),
			},
			wantFound: true, wantEnded: EndedClosedByTarget, wantState: stFinWait1, wantDetect: 320, wantLast: 300,
			wantT0: 0, wantProbes: 0, wantTimer: ka,
		},
		{
			name:      "retransmissions outstanding, then gone",
			samples:   []sample{est(0, 0, 0, 0, TimerRetransmit), est(900, 900, 0, 5, TimerRetransmit), gone(950, heldYes)},
			wantFound: true, wantEnded: EndedRetransmitTimeout, wantDetect: 950, wantLast: 900,
			wantT0: 0, wantProbes: 0, wantTimer: TimerRetransmit,
		},
		{
			name:      "straight to TIME_WAIT: the target closed first",
			samples:   []sample{est(0, 0, 0, 0, ka), in(40, stTimeWait)},
			wantFound: true, wantEnded: EndedClosedByTarget, wantState: stTimeWait, wantDetect: 40, wantLast: 0,
			wantT0: 0, wantProbes: 0, wantTimer: ka,
		},
		{
			name:      "CLOSE_WAIT: the client closed first",
			samples:   []sample{est(0, 0, 0, 0, ka), in(20, stCloseWait)},
			wantFound: true, wantEnded: EndedClosedByPeer, wantState: stCloseWait, wantDetect: 20, wantLast: 0,
			wantT0: 0, wantProbes: 0, wantTimer: ka,
		},
		{
			name:      "seen in CLOSE with probes out counts as the keepalive end",
			samples:   []sample{est(0, 0, 2, 0, ka), in(20, stClose)},
			wantFound: true, wantEnded: EndedKeepaliveTimeout, wantState: stClose, wantDetect: 20, wantLast: 0,
			wantT0: 0, wantProbes: 2, wantPTimes: []int{0, 0}, wantTimer: ka,
		},
		{
			name:      "gone and the descriptor closed too: cannot tell",
			samples:   []sample{est(0, 0, 0, 0, ka), gone(20, heldNo)},
			wantFound: true, wantEnded: EndedGone, wantDetect: 20, wantLast: 0,
			wantT0: 0, wantProbes: 0, wantTimer: ka, wantNoteHas: "cannot be told apart",
		},
		{
			name:      "zero-window probes are not keepalive",
			samples:   []sample{est(0, 0, 2, 0, TimerProbe0), gone(20, heldYes)},
			wantFound: true, wantEnded: EndedGone, wantDetect: 20, wantLast: 0,
			wantT0: 0, wantProbes: 2, wantPTimes: []int{0, 0}, wantTimer: TimerProbe0, wantNoteHas: "zero-window",
		},
		{
			name:      "a table without tcp_info (Windows, macOS): state only",
			samples:   []sample{bare(0), bare(20), gone(40, heldUnknown)},
			wantFound: true, wantEnded: EndedGone, wantDetect: 40, wantLast: 20,
			wantT0: -1, wantProbes: -1, wantNoteHas: "no timers",
		},
		{
			name:      "a table without tcp_info: FIN_WAIT2 still tells",
			samples:   []sample{bare(0), in(20, stFinWait2)},
			wantFound: true, wantEnded: EndedClosedByTarget, wantState: stFinWait2, wantDetect: 20, wantLast: 0,
			wantT0: -1, wantProbes: -1,
		},
		{
			name:      "already over when first seen: no detection instant",
			samples:   []sample{gone(0, heldUnknown), in(20, stCloseWait)},
			wantFound: true, wantEnded: EndedClosedByPeer, wantState: stCloseWait, wantDetect: -1, wantLast: -1,
			wantT0: -1, wantProbes: -1, wantNoteHas: "first seen already",
		},
		{
			name:      "a listener row is not the connection, before or after it is found",
			samples:   []sample{in(0, stListen), in(10, stSynRecv), est(20, 0, 0, 0, ka), in(40, stListen)},
			wantFound: true, wantEnded: EndedGone, wantDetect: 40, wantLast: 20,
			wantT0: 20, wantProbes: 0, wantTimer: ka,
		},
		{
			name:      "never found",
			samples:   []sample{gone(0, heldUnknown), in(10, stListen), gone(20, heldUnknown)},
			wantFound: false, wantDetect: -1, wantLast: -1, wantT0: -1, wantProbes: -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTracker(250)
			ended := false
			for i, s := range tt.samples {
				if ended {
					t.Fatalf("sample %d after the end", i)
				}
				ended = tr.add(s)
			}
			r := tr.record()
			if ended != (tt.wantEnded != "") || r.Found != tt.wantFound || r.Ended != tt.wantEnded || r.State != tt.wantState || r.Timer != tt.wantTimer {
				t.Errorf("ended=%v found=%v how=%q state=%q timer=%q, want %v %v %q %q %q",
					ended, r.Found, r.Ended, r.State, r.Timer, tt.wantEnded != "", tt.wantFound, tt.wantEnded, tt.wantState, tt.wantTimer)
			}
			checkTime(t, "detect", r.Detect, tt.wantDetect)
			checkTime(t, "last seen", r.LastSeen, tt.wantLast)
			checkTime(t, "T0", r.LastPeer, tt.wantT0)
			if (r.Probes == nil) != (tt.wantProbes < 0) || (r.Probes != nil && *r.Probes != tt.wantProbes) {
				t.Errorf("probes %v, want %d", r.Probes, tt.wantProbes)
			}
			if len(r.ProbeTimes) != len(tt.wantPTimes) {
				t.Fatalf("probe times %v, want %v ms", r.ProbeTimes, tt.wantPTimes)
			}
			for i, p := range tt.wantPTimes {
				if !r.ProbeTimes[i].Equal(ms(p)) {
					t.Errorf("probe %d at %v, want +%dms", i, r.ProbeTimes[i], p)
				}
			}
			note := joinNotes(tr.notes)
			if (tt.wantNoteHas == "") != (note == "") || !strings.Contains(note, tt.wantNoteHas) {
				t.Errorf("note %q, want one containing %q", note, tt.wantNoteHas)
			}
		})
	}
}

func checkTime(t *testing.T, what string, got *time.Time, wantMs int) {
	t.Helper()
	switch {
	case wantMs < 0 && got != nil:
		t.Errorf("%s = %v, want nil", what, got)
	case wantMs >= 0 && (got == nil || !got.Equal(ms(wantMs))):
		t.Errorf("%s = %v, want +%dms", what, got, wantMs)
	}
}
