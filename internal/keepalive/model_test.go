package keepalive

import (
	"testing"
	"time"
)

func TestPredictLinuxTimerWheel(t *testing.T) {
	ms := time.Millisecond
	s := func(i, v, c int) Settings {
		return Settings{Idle: time.Duration(i) * time.Second, Interval: time.Duration(v) * time.Second, Count: c}
	}
	tests := []struct {
		name      string
		settings  Settings
		phase     Phase
		hz        int
		uto       time.Duration
		want      Window
		probes    int
		cycleWant Window
	}{
		// docs/linux-lab.md §6: measured 4096 ms every time.
		{"1/1/3 HZ=250 measured", s(1, 1, 3), PhaseCycling, 250, 0, Window{4096 * ms, 4096 * ms}, 3, Window{1024 * ms, 1024 * ms}},
		// §6: 2016 then 3×1024.
		{"2/1/3 HZ=250 measured", s(2, 1, 3), PhaseCycling, 250, 0, Window{5088 * ms, 5088 * ms}, 3, Window{2016 * ms, 2016 * ms}},
		// docs/keepalive-models.md §6.2 e3: 33.82 s measured (11 firings of 3072 ms).
		{"1/3/10 HZ=250 idle<intvl", s(1, 3, 10), PhaseCycling, 250, 0, Window{33792 * ms, 33792 * ms}, 10, Window{3072 * ms, 3072 * ms}},
		{"1/1/10 HZ=250", s(1, 1, 10), PhaseCycling, 250, 0, Window{11264 * ms, 11264 * ms}, 10, Window{1024 * ms, 1024 * ms}},
		// HZ=1000: 1000 jiffies is level 2 (gran 64): 1024 per firing.
		{"1/1/3 HZ=1000", s(1, 1, 3), PhaseCycling, 1000, 0, Window{4096 * ms, 4096 * ms}, 3, Window{1024 * ms, 1024 * ms}},
		// docs/keepalive-models.md §6.2 b3: UTO 5000 with 1/1/3 died at 5.12 s after 4 probes: fifth firing ≥ 5000 ms.
		{"1/1/3 UTO 5s HZ=250", s(1, 1, 3), PhaseCycling, 250, 5 * time.Second, Window{5120 * ms, 5120 * ms}, 4, Window{1024 * ms, 1024 * ms}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Predict(Platform{OS: "linux"}, tt.settings, tt.phase, ModelOptions{HZ: tt.hz, UserTimeout: tt.uto})
			if err != nil {
				t.Fatal(err)
			}
			if p.FromT0 != tt.want {
				t.Errorf("FromT0 = %s, want %s", p.FromT0, tt.want)
			}
			if p.Probes != tt.probes {
				t.Errorf("Probes = %d, want %d", p.Probes, tt.probes)
			}
			if p.Cycle != tt.cycleWant {
				t.Errorf("Cycle = %s, want %s", p.Cycle, tt.cycleWant)
			}
			if p.AfterFault.Max != p.FromT0.Max || p.AfterFault.Min != p.FromT0.Min-p.Cycle.Max {
				t.Errorf("AfterFault = %s, want FromT0 minus one cycle", p.AfterFault)
			}
		})
	}
}

func TestPredictLinuxWithoutHZ(t *testing.T) {
	// The formula of docs/keepalive-models.md §3.1, §8 with the re-arm-at-interval caveat, and
	// each firing up to 1/8 late.
	p, err := Predict(Platform{OS: "linux"}, Settings{time.Second, 3 * time.Second, 10}, PhaseCycling, ModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.FromT0.Min != 33*time.Second {
		t.Errorf("Min = %s, want 33s (max(idle,intvl) + cnt·intvl)", p.FromT0.Min)
	}
	if p.FromT0.Max < 33*time.Second+33*time.Second/8 || p.FromT0.Max > 38*time.Second {
		t.Errorf("Max = %s, want about 33s + 1/8", p.FromT0.Max)
	}
	first, _ := Predict(Platform{OS: "linux"}, Settings{time.Second, 3 * time.Second, 10}, PhaseFirstIdle, ModelOptions{})
	if first.FromT0.Min != 31*time.Second {
		t.Errorf("first-idle Min = %s, want 31s (idle + cnt·intvl)", first.FromT0.Min)
	}
}

func TestPredictFirstIdleHZ(t *testing.T) {
	// Silence before the first probe: the timer is armed at idle from an
	// arbitrary jiffy, so the window spans the wheel's phase.
	p, err := Predict(Platform{OS: "linux"}, Settings{time.Second, time.Second, 3}, PhaseFirstIdle, ModelOptions{HZ: 250})
	if err != nil {
		t.Fatal(err)
	}
	if p.FromT0.Min < 4000*time.Millisecond || p.FromT0.Max > 4128*time.Millisecond || p.FromT0.Min > p.FromT0.Max {
		t.Errorf("FromT0 = %s, want within 4000..4128ms", p.FromT0)
	}
}

func TestPredictBSDStyle(t *testing.T) {
	tests := []struct {
		name   string
		p      Platform
		s      Settings
		want   time.Duration
		probes int
	}{
		{"macOS 1/3/10", Platform{OS: "darwin"}, Settings{time.Second, 3 * time.Second, 10}, 31 * time.Second, 10},
		{"macOS listener idle 2h default", Platform{OS: "darwin"}, Settings{2 * time.Hour, 3 * time.Second, 10}, 2*time.Hour + 30*time.Second, 10},
		// the published Windows figures: 31.2 s and 10.3 s.
		{"Windows 1709+ 1/3/10", Platform{OS: "windows", Build: 19045}, Settings{time.Second, 3 * time.Second, 10}, 31 * time.Second, 10},
		{"Windows 1/1/10", Platform{OS: "windows", Build: 19045}, Settings{time.Second, time.Second, 10}, 11 * time.Second, 10},
		// before 1703 the count is 10 whatever was asked.
		{"Windows 1607 count fixed", Platform{OS: "windows", Build: 14393}, Settings{time.Second, time.Second, 3}, 11 * time.Second, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Predict(tt.p, tt.s, PhaseCycling, ModelOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if p.FromT0.Min != tt.want || p.FromT0.Max != tt.want+slackUnverified {
				t.Errorf("FromT0 = %s, want %s..+%s", p.FromT0, tt.want, slackUnverified)
			}
			if p.Probes != tt.probes {
				t.Errorf("Probes = %d, want %d", p.Probes, tt.probes)
			}
		})
	}
}

func TestPredictRejects(t *testing.T) {
	if _, err := Predict(Platform{OS: "plan9"}, Settings{time.Second, time.Second, 1}, PhaseCycling, ModelOptions{}); err == nil {
		t.Error("plan9: want an unsupported error")
	}
	if _, err := Predict(Platform{OS: "linux"}, Settings{}, PhaseCycling, ModelOptions{}); err == nil {
		t.Error("zero settings: want an error")
	}
}

func TestWheelExpiry(t *testing.T) {
	tests := []struct{ now, delta, hz, want int64 }{
		{0, 10, 250, 11},              // level 0: +1 jiffy
		{0, 250, 250, 256},            // level 1: gran 8
		{6, 250, 250, 264},            // unaligned: 256 is a bucket edge, so +1 bucket
		{0, 750, 250, 768},            // level 2: gran 64
		{0, 1000, 1000, 1024},         // 1 s at HZ=1000
		{0, 7200 * 250, 250, 1802240}, // 2 h at HZ=250: level 5, gran 32768
	}
	for _, tt := range tests {
		if got := wheelExpiry(tt.now, tt.delta, tt.hz); got != tt.want {
			t.Errorf("wheelExpiry(%d, %d, HZ=%d) = %d, want %d", tt.now, tt.delta, tt.hz, got, tt.want)
		}
	}
}

// TestDefaultsDeath: the stock "SO_KEEPALIVE only" death times of
// docs/keepalive-models.md §1 (7875 s, 7210 s, 7800 s).
func TestDefaultsDeath(t *testing.T) {
	for _, tt := range []struct {
		os   string
		want time.Duration
	}{{"linux", 7875 * time.Second}, {"windows", 7210 * time.Second}, {"darwin", 7800 * time.Second}} {
		d, err := Defaults(Platform{OS: tt.os})
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Idle + time.Duration(d.Count)*d.Interval; got != tt.want {
			t.Errorf("%s default death %s, want %s", tt.os, got, tt.want)
		}
		p, err := Predict(Platform{OS: tt.os}, d, PhaseFirstIdle, ModelOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.FromT0.Min != tt.want {
			t.Errorf("%s model first-idle min %s, want %s", tt.os, p.FromT0.Min, tt.want)
		}
	}
}
