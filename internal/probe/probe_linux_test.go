package probe

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/kalab-dev/kalab/internal/lab"
)

// waitReport polls m until ok holds, failing after limit. Polling with a
// generous limit instead of fixed sleeps keeps the test independent of load.
func waitReport(t *testing.T, m *Monitor, limit time.Duration, what string, ok func(Report) bool) Report {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		r := m.Report()
		if ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v: %+v", what, limit, r)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLabLossAndResume monitors host 2 from host 1, silences host 2 by
// taking its eth0 down, then brings it back. The monitor is started inside
// host1.Do, so the test also proves that the socket follows the caller's
// namespace although pro-bing opens it on another goroutine: from the root
// namespace 198.18.0.0/15 is a blackhole route and Start would fail.
// All traffic stays inside the lab's namespaces.
func TestLabLossAndResume(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root for the netns lab")
	}
	tests := []struct {
		name string
		// pingGroupRange, if set, is written to host 1's (per-namespace)
		// net.ipv4.ping_group_range to allow the datagram socket.
		pingGroupRange string
		wantMode       string
	}{
		{name: "privileged fallback", wantMode: ModePrivileged}, // a new namespace's range is "1 0"
		{name: "unprivileged", pingGroupRange: "0 2147483647", wantMode: ModeUnprivileged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := lab.New(lab.Config{Hosts: 2})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := l.Close(); err != nil {
					t.Errorf("close lab: %v", err)
				}
			})
			h1, h2 := l.Hosts[0], l.Hosts[1]
			if tt.pingGroupRange != "" {
				// /proc/sys/net resolves against the opening thread's namespace.
				if err := h1.Do(func() error {
					return os.WriteFile("/proc/sys/net/ipv4/ping_group_range", []byte(tt.pingGroupRange), 0o644)
				}); err != nil {
					t.Fatalf("set ping_group_range in %s: %v", h1.Name, err)
				}
			}

			cfg := Config{Target: h2.Addr, Interval: 20 * time.Millisecond} // StallAfter 100ms
			var m *Monitor
			if err := h1.Do(func() (err error) {
				m, err = Start(context.Background(), cfg)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			// Registered after l.Close, so it runs before it.
			t.Cleanup(func() { m.Stop() })

			// A few replies first: the monitor is in its steady state.
			r := waitReport(t, m, 5*time.Second, "replies", func(r Report) bool { return r.Received >= 5 })
			if r.Mode != tt.wantMode {
				t.Errorf("Mode = %q, want %q", r.Mode, tt.wantMode)
			}

			hh, err := netlink.NewHandleAt(netns.NsHandle(h2.NetNS()))
			if err != nil {
				t.Fatal(err)
			}
			defer hh.Close()
			eth0, err := hh.LinkByName("eth0")
			if err != nil {
				t.Fatal(err)
			}
			silenced := time.Now()
			if err := hh.LinkSetDown(eth0); err != nil {
				t.Fatal(err)
			}
			r = waitReport(t, m, 5*time.Second, "loss", func(r Report) bool { return !r.LossAt.IsZero() })
			t.Logf("silenced at +0; last reply %v, loss at %v (StallAfter %v)",
				r.LastReply.Sub(silenced), r.LossAt.Sub(silenced), 5*cfg.Interval)
			if r.LastReply.IsZero() || !r.LossAt.After(r.LastReply) {
				t.Errorf("LossAt %v not after LastReply %v", r.LossAt, r.LastReply)
			}
			if gap := r.LossAt.Sub(r.LastReply); gap <= 5*cfg.Interval {
				t.Errorf("LossAt - LastReply = %v, want > StallAfter %v", gap, 5*cfg.Interval)
			}
			if !r.LossAt.After(silenced) || r.LossAt.Sub(silenced) > 2*time.Second {
				t.Errorf("LossAt = silenced%+v, want within (0, 2s]", r.LossAt.Sub(silenced))
			}
			if len(r.Transitions) == 0 || r.Transitions[0].Up || !r.Transitions[0].At.Equal(r.LossAt) {
				t.Errorf("transitions %v: want the first to be down at LossAt %v", r.Transitions, r.LossAt)
			}

			resumed := time.Now()
			if err := hh.LinkSetUp(eth0); err != nil {
				t.Fatal(err)
			}
			r = waitReport(t, m, 10*time.Second, "resumed replies", func(r Report) bool {
				n := len(r.Transitions)
				return n > 0 && r.Transitions[n-1].Up
			})
			final := m.Stop()
			t.Logf("mode %s, sent %d, received %d, transitions %d", final.Mode, final.Sent, final.Received, len(final.Transitions))
			if len(r.Transitions) < 2 || !r.Transitions[1].Up || !r.Transitions[1].At.After(resumed) {
				t.Errorf("transitions %v: want down, then up after the link came back at %v", r.Transitions, resumed)
			}
			for i, tr := range final.Transitions {
				if tr.Up != (i%2 == 1) {
					t.Errorf("transition %d = %+v: want down and up alternating, starting down", i, tr)
				}
			}
			if !final.LossAt.Equal(r.LossAt) {
				t.Errorf("LossAt moved from %v to %v: it is the first loss only", r.LossAt, final.LossAt)
			}
			if final.Received >= final.Sent || final.Err != "" {
				t.Errorf("sent %d, received %d, err %q: want losses and no error", final.Sent, final.Received, final.Err)
			}
		})
	}
}
