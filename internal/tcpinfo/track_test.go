package tcpinfo

import (
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
