package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/labsvc"
	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/testkit"
)

// TestTargetsInLab runs configs/targets/*.toml: Debian's redis-server,
// postgresql and nginx as the experiment's server, started by the lab on
// lab-agent-1's host. Every run passes; with short keepalive the drop is
// detected inside the model computed from the options read back from the
// service's own socket; with PostgreSQL's defaults nothing is detected
// and the model says hours; the bisection's bracket is as narrow as asked
// and agrees with the model; the report has the services.
func TestTargetsInLab(t *testing.T) {
	for _, tc := range []struct {
		config  string
		product labsvc.Product
		check   func(t *testing.T, r results.Result)
	}{
		{"redis", labsvc.Redis, readBack("3s/1s/3")},
		{"postgresql", labsvc.PostgreSQL, readBack("2s/1s/3")},
		{"nginx", labsvc.Nginx, readBack("2s/1s/3")},
		{"postgresql-defaults", labsvc.PostgreSQL, func(t *testing.T, r results.Result) {
			if r.Detected || r.Model == nil || r.Model.FromT0.Min < 2*time.Hour || r.Requested.Short() != "2h/75s/9" {
				t.Errorf("%s: detected %v, model %+v, settings %s: want no detection and the 2 h model", r.Label(), r.Detected, r.Model, r.Requested.Short())
			}
		}},
		{"redis-bisect", labsvc.Redis, func(t *testing.T, r results.Result) {
			b := r.Target.Bracket
			if b == nil || b.Max-b.Min > 250*time.Millisecond || r.Target.Method != results.MethodBisection {
				t.Errorf("%s: bracket %+v, method %s: want a bisection bracket at most 250 ms wide", r.Label(), b, r.Target.Method)
			}
		}},
	} {
		t.Run(tc.config, func(t *testing.T) {
			if err := labsvc.Installed(tc.product); err != nil {
				if os.Getenv("CI") != "" {
					t.Fatalf("%v (CI installs it: .ci/run)", err)
				}
				t.Skipf("skipping: %v", err)
			}
			rs, md := testkit.RunLabExperiment(t, "configs/targets/"+tc.config+".toml")
			for _, r := range rs {
				if r.Outcome != results.OutcomePass || r.Target == nil {
					t.Errorf("%s: %s (%s%s), target %+v", r.Label(), r.Outcome, r.Why, r.Failure, r.Target)
					continue
				}
				if r.FaultKind == results.KindDrop {
					tc.check(t, r)
				}
			}
			if !strings.Contains(md, "## Your services") {
				t.Error("report.md lacks the services section")
			}
		})
	}
}

// readBack checks a detected drop against the options read from the
// service's socket.
func readBack(want string) func(t *testing.T, r results.Result) {
	return func(t *testing.T, r results.Result) {
		eff, ok := r.Effective.Settings()
		if !ok || eff.Short() != want || r.Target.EffectiveFrom != "socket" || r.Target.Ended != results.EndedKeepalive {
			t.Errorf("%s: read back %s (%v) from %q, ended %q: want %s from the socket and a keepalive timeout",
				r.Label(), eff.Short(), ok, r.Target.EffectiveFrom, r.Target.Ended, want)
		}
		if r.Target.Version == "" || len(r.Target.ConfigLines) == 0 {
			t.Errorf("%s: no version or config lines: %+v", r.Label(), r.Target)
		}
	}
}
