package experiment

import (
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// TestScenarioCells: the scenario and user timeout reach the cells (per
// entry, else the top level), the run name shows a non-idle one, and the
// model follows it: unacked with TCP_USER_TIMEOUT 5 s near 5 s after the
// write, user-timeout 3 s with 1s/1s/10 at 3.072 s after the last ACK,
// idle at the keepalive model.
func TestScenarioCells(t *testing.T) {
	src := strings.Replace(base, "count = 3\n", "count = 10\n[[settings]]\nidle = \"1s\"\ninterval = \"1s\"\ncount = 10\nscenario = \"unacked\"\n"+
		"[[settings]]\nidle = \"1s\"\ninterval = \"1s\"\ncount = 10\nscenario = \"user-timeout\"\nuser_timeout = \"3s\"\n", 1)
	src = "user_timeout = \"5s\"\nscenario = \"unacked\"\n" + strings.Replace(src, "count = 10\n", "count = 10\nscenario = \"idle\"\n", 1)
	c, err := Parse("configs/x.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cells, err := c.Cells()
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 3 {
		t.Fatalf("%d cells", len(cells))
	}
	idle, unacked, uto := cells[0], cells[1], cells[2]
	if idle.Scenario != keepalive.ScenarioIdle || unacked.Scenario != keepalive.ScenarioUnacked || unacked.UserTimeout != 5*time.Second ||
		uto.Scenario != keepalive.ScenarioUserTimeout || uto.UserTimeout != 3*time.Second {
		t.Fatalf("scenarios %+v %+v %+v", idle, unacked, uto)
	}
	if idle.Model.FromT0.Max != 11264*time.Millisecond || uto.Model.FromT0.Max != 3072*time.Millisecond {
		t.Errorf("idle %s, user-timeout %s after the last ACK", idle.Model.FromT0, uto.Model.FromT0)
	}
	if w := unacked.Model.AfterFault; w.Min < 5*time.Second || w.Max > 6*time.Second {
		t.Errorf("unacked uto 5s: %s after the write", w)
	}
	if got := RunName(unacked, "a", "b", 1); got != "drop·1s/1s/10 unacked uto 5s·a→b·#1" {
		t.Errorf("run name %q", got)
	}
	if got := RunName(idle, "a", "b", 1); got != "drop·1s/1s/10·a→b·#1" {
		t.Errorf("run name %q", got)
	}
}
