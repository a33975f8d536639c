package experiment

import (
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/wire"
)

// TestUnackedModelFromHostValues: the unacked model uses the values and RTT
// the server's agent reported with its write (tcp_retries2 = 5 ends the
// connection minutes before the stock 15), says which in the note, and
// falls back to stock values, said too, when the agent reported none or
// values for another OS.
func TestUnackedModelFromHostValues(t *testing.T) {
	plat := keepalive.Platform{OS: "linux"}
	tuned, _ := keepalive.RetransmitDefaults(plat)
	tuned.Retries = 5
	tuned.Values[0] = keepalive.HostValue{Name: "net.ipv4.tcp_retries2", Value: "5", Source: keepalive.SourceSysctl}
	windows, _ := keepalive.RetransmitDefaults(keepalive.Platform{OS: "windows"})
	rttUS := int64(40)
	eff := keepalive.Settings{Idle: time.Second, Interval: time.Second, Count: 10}
	for _, tc := range []struct {
		name     string
		wr       wire.WriteResp
		maxAfter time.Duration // the model's latest detection after the write
		notes    []string
	}{
		{"host values", wire.WriteResp{RTTUS: &rttUS, Retransmit: &tuned}, 30 * time.Second,
			[]string{"with the server's values", "net.ipv4.tcp_retries2 = 5 (sysctl)", "RTT measured 40µs (TCP_INFO)"}},
		{"none reported", wire.WriteResp{}, time.Hour,
			[]string{"stock values (no usable values from the server's agent)", "net.ipv4.tcp_retries2 = 15 (default)", "assumed 1ms"}},
		{"another OS's values", wire.WriteResp{Retransmit: &windows}, time.Hour,
			[]string{`values for "windows", not "linux": ignored`, "stock values"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := results.Result{Server: results.Host{OS: "linux"}}
			hostRetransmit(&res, tc.wr)
			p := unackedModel(&res, plat, eff, keepalive.PhaseCycling, 250, 0)
			if p == nil {
				t.Fatalf("no model; note %q", res.Note)
			}
			if p.AfterFault.Max > tc.maxAfter || p.AfterFault.Max <= 0 {
				t.Errorf("model after the write %s, want at most %s", p.AfterFault, tc.maxAfter)
			}
			for _, n := range tc.notes {
				if !strings.Contains(res.Note, n) {
					t.Errorf("note %q lacks %q", res.Note, n)
				}
			}
			t.Logf("%s: %s; %s", tc.name, p.AfterFault, res.Note)
		})
	}
}
