package probe

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaultsAndValidation(t *testing.T) {
	v4 := netip.MustParseAddr("127.0.0.1")
	tests := []struct {
		name      string
		in        Config
		want      Config
		wantErr   []string // substrings the error must contain
		wantNoErr bool
	}{
		{name: "defaults", in: Config{Target: v4},
			want: Config{Target: v4, Interval: 20 * time.Millisecond, StallAfter: 100 * time.Millisecond}},
		{name: "stall follows interval", in: Config{Target: v4, Interval: 100 * time.Millisecond},
			want: Config{Target: v4, Interval: 100 * time.Millisecond, StallAfter: 500 * time.Millisecond}},
		{name: "explicit values kept", in: Config{Target: v4, Interval: time.Second, StallAfter: 3 * time.Second},
			want: Config{Target: v4, Interval: time.Second, StallAfter: 3 * time.Second}},
		{name: "bounds inclusive low", in: Config{Target: v4, Interval: 10 * time.Millisecond, StallAfter: 20 * time.Millisecond},
			want: Config{Target: v4, Interval: 10 * time.Millisecond, StallAfter: 20 * time.Millisecond}},
		{name: "bounds inclusive high", in: Config{Target: v4, Interval: time.Second, StallAfter: time.Minute},
			want: Config{Target: v4, Interval: time.Second, StallAfter: time.Minute}},
		{name: "ipv6", in: Config{Target: netip.MustParseAddr("::1")},
			want: Config{Target: netip.MustParseAddr("::1"), Interval: 20 * time.Millisecond, StallAfter: 100 * time.Millisecond}},
		{name: "mapped v4 unmapped", in: Config{Target: netip.MustParseAddr("::ffff:127.0.0.1")},
			want: Config{Target: v4, Interval: 20 * time.Millisecond, StallAfter: 100 * time.Millisecond}},
		{name: "no target", in: Config{}, wantErr: []string{"Target", "not set"}},
		{name: "interval too short", in: Config{Target: v4, Interval: 5 * time.Millisecond},
			wantErr: []string{"Interval", "5ms", "10ms..1s"}},
		{name: "interval too long", in: Config{Target: v4, Interval: 2 * time.Second},
			wantErr: []string{"Interval", "2s", "10ms..1s"}},
		{name: "interval negative", in: Config{Target: v4, Interval: -time.Second},
			wantErr: []string{"Interval", "-1s", "10ms..1s"}},
		{name: "stall below 2 intervals", in: Config{Target: v4, Interval: 50 * time.Millisecond, StallAfter: 60 * time.Millisecond},
			wantErr: []string{"StallAfter", "60ms", "100ms..1m0s"}},
		{name: "stall negative", in: Config{Target: v4, StallAfter: -time.Millisecond},
			wantErr: []string{"StallAfter", "-1ms", "40ms..1m0s"}},
		{name: "stall too long", in: Config{Target: v4, StallAfter: 2 * time.Minute},
			wantErr: []string{"StallAfter", "2m0s", "40ms..1m0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.withDefaults()
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("withDefaults(%+v) = %+v, want an error", tt.in, got)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				// Start reports the same error, with context, before any socket.
				_, serr := Start(context.Background(), tt.in)
				if serr == nil || !strings.Contains(serr.Error(), "start ICMP monitor of") || !strings.Contains(serr.Error(), err.Error()) {
					t.Errorf("Start error = %v, want it to wrap %q", serr, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("withDefaults(%+v): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("withDefaults(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

// TestTracker drives the state machine with synthetic times: no sockets,
// no timing sensitivity.
func TestTracker(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type ev struct {
		ms    int
		reply bool // true: a reply received at ms; false: a watchdog check at ms
	}
	tests := []struct {
		name     string
		events   []ev
		recv     int
		last     time.Time
		lossAt   time.Time
		wantTran []Transition
	}{
		{name: "no reply ever: no loss", events: []ev{{0, false}, {500, false}, {5000, false}}},
		{name: "steady replies", events: []ev{{0, true}, {20, true}, {40, true}, {100, false}, {140, false}},
			recv: 3, last: at(40)},
		{name: "gap equal to stall is not a loss", events: []ev{{0, true}, {100, false}},
			recv: 1, last: at(0)},
		{name: "loss after gap", events: []ev{{0, true}, {20, true}, {100, false}, {125, false}, {130, false}, {500, false}},
			recv: 2, last: at(20), lossAt: at(125),
			wantTran: []Transition{{At: at(125), Up: false}}},
		{name: "loss and resume and loss again", events: []ev{
			{0, true}, {105, false}, {300, true}, {320, true}, {421, false}, {600, true}},
			recv: 4, last: at(600), lossAt: at(105),
			wantTran: []Transition{{at(105), false}, {at(300), true}, {at(421), false}, {at(600), true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var told []Transition
			tr := &tracker{stallAfter: 100 * time.Millisecond, onChange: func(tr Transition) { told = append(told, tr) }}
			for _, e := range tt.events {
				if e.reply {
					tr.onRecv(at(e.ms))
				} else {
					tr.check(at(e.ms))
				}
			}
			r := tr.report()
			if r.Received != tt.recv || !r.LastReply.Equal(tt.last) || !r.LossAt.Equal(tt.lossAt) {
				t.Errorf("Received, LastReply, LossAt = %d, %v, %v; want %d, %v, %v",
					r.Received, r.LastReply, r.LossAt, tt.recv, tt.last, tt.lossAt)
			}
			if len(r.Transitions) != len(tt.wantTran) {
				t.Fatalf("transitions %v, want %v", r.Transitions, tt.wantTran)
			}
			for i := range r.Transitions {
				if !r.Transitions[i].At.Equal(tt.wantTran[i].At) || r.Transitions[i].Up != tt.wantTran[i].Up {
					t.Errorf("transition %d = %v, want %v", i, r.Transitions[i], tt.wantTran[i])
				}
			}
			// OnChange is told the same transitions, in order, as they happen.
			if !slices.EqualFunc(told, r.Transitions, func(a, b Transition) bool { return a.At.Equal(b.At) && a.Up == b.Up }) {
				t.Errorf("OnChange was told %v, want %v", told, r.Transitions)
			}
		})
	}
}

// startOrSkip starts a monitor, skipping when this process may open no
// ICMP socket at all (not root and outside ping_group_range).
func startOrSkip(t *testing.T, ctx context.Context, cfg Config) *Monitor {
	t.Helper()
	m, err := Start(ctx, cfg)
	if errors.Is(err, os.ErrPermission) {
		t.Skipf("skipping: no ICMP socket allowed (run as root or widen net.ipv4.ping_group_range): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Stop() })
	return m
}

func TestLoopback(t *testing.T) {
	// StallAfter is generous: a loaded CI machine running packages in
	// parallel must not turn a scheduling pause into a loss.
	m := startOrSkip(t, context.Background(), Config{
		Target:     netip.MustParseAddr("127.0.0.1"),
		Interval:   20 * time.Millisecond,
		StallAfter: 2 * time.Second,
	})
	time.Sleep(300 * time.Millisecond)
	live := m.Report()
	r := m.Stop()
	t.Logf("mode %s, sent %d, received %d", r.Mode, r.Sent, r.Received)
	if r.Mode != ModeUnprivileged && r.Mode != ModePrivileged {
		t.Errorf("Mode = %q", r.Mode)
	}
	if r.Received == 0 || r.Sent == 0 {
		t.Errorf("sent %d, received %d: want replies from loopback", r.Sent, r.Received)
	}
	if r.Received > r.Sent {
		t.Errorf("received %d > sent %d", r.Received, r.Sent)
	}
	if r.LastReply.IsZero() {
		t.Error("LastReply is zero")
	}
	if !r.LossAt.IsZero() || len(r.Transitions) != 0 {
		t.Errorf("LossAt %v, transitions %v: want none on loopback", r.LossAt, r.Transitions)
	}
	if r.Err != "" {
		t.Errorf("Err = %q", r.Err)
	}
	if live.Sent > r.Sent || live.Received > r.Received {
		t.Errorf("live report %+v ahead of final %+v", live, r)
	}
	// Stop is idempotent and the report is frozen afterwards.
	time.Sleep(50 * time.Millisecond)
	if again := m.Stop(); again.Sent != r.Sent || again.Received != r.Received || !again.LastReply.Equal(r.LastReply) {
		t.Errorf("second Stop = %+v, want %+v", again, r)
	}
}

// TestContextCancel: cancelling Start's context stops the monitor on its
// own; Stop then returns promptly with no error recorded.
func TestContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := startOrSkip(t, ctx, Config{Target: netip.MustParseAddr("127.0.0.1"), StallAfter: 2 * time.Second})
	time.Sleep(50 * time.Millisecond)
	cancel()
	done := make(chan Report)
	go func() { done <- m.Stop() }()
	select {
	case r := <-done:
		if r.Err != "" {
			t.Errorf("Err after cancel = %q, want none", r.Err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return within 10s of cancelling the context")
	}
}

// TestStartCancelled: an already-cancelled context fails Start cleanly.
func TestStartCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m, err := Start(ctx, Config{Target: netip.MustParseAddr("127.0.0.1")})
	if err == nil {
		m.Stop()
		t.Fatal("Start with a cancelled context succeeded")
	}
	if !errors.Is(err, context.Canceled) && !errors.Is(err, os.ErrPermission) {
		t.Errorf("Start error = %v, want context.Canceled", err)
	}
}
