package experiment

import (
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/results"
)

// TestHoldExpectations: with 1s/1s/3 on Linux (model 3.072 s – 4.096 s
// after the fault at HZ=250), a hold that ends before the earliest
// detection minus SurviveMargin survives, one after the latest plus the
// late tolerance is detected, a pause with any hold survives, a fault
// without a hold keeps its kind's expectation, and a hold in between is
// refused with both numbers and a fix.
func TestHoldExpectations(t *testing.T) {
	tests := []struct {
		fault   string
		expect  results.Expectation
		observe time.Duration // 0: not checked
		err     string
	}{
		{`kind = "drop"`, results.ExpectDetected, 0, ""},
		{`kind = "pause"`, results.ExpectNotDetected, 0, ""},
		{`kind = "kill"`, results.ExpectImmediate, 0, ""},
		{"kind = \"drop\"\nhold = \"2s\"", results.ExpectSurvives, 2*time.Second + echoAllowance + 5*time.Second, ""},
		{"kind = \"drop\"\nhold = \"2.5s\"", results.ExpectSurvives, 0, ""},
		{"kind = \"drop\"\ndirection = \"to-server\"\nhold = \"1s\"", results.ExpectSurvives, 0, ""},
		{"kind = \"vm-pause\"\nhold = \"1s\"", results.ExpectSurvives, 0, ""},
		{"kind = \"drop\"\nhold = \"6s\"", results.ExpectDetected, 4096*time.Millisecond + 5*time.Second, ""},
		{"kind = \"drop\"\nscope = \"host\"\nhold = \"4700ms\"", results.ExpectDetected, 0, ""},
		{"kind = \"pause\"\nhold = \"2s\"", results.ExpectSurvives, 2*time.Second + echoAllowance + 5*time.Second, ""},
		{"kind = \"pause\"\nhold = \"30s\"", results.ExpectSurvives, 0, ""},
		{"kind = \"drop\"\nhold = \"2.6s\"", "", 0, "configs/x.toml:12: faults[0].hold = 2.6s ends inside the linux model window after the fault 3.072s..4.096s"},
		{"kind = \"drop\"\nhold = \"3.5s\"", "", 0, "a hold under 2.572s (earliest detection 3.072s − 500ms margin: survives) or over 4.608s (latest 4.096s + 512ms late tolerance: detected); fix: hold = \"1.5s\" (survives) or hold = \"5s\" (detected)"},
		{"kind = \"vm-pause\"\nhold = \"4.6s\"", "", 0, "coin toss"},
	}
	for _, tt := range tests {
		src := strings.Replace(base, `kind = "drop"`, tt.fault, 1)
		c, err := Parse("configs/x.toml", []byte(src))
		if err != nil {
			t.Fatalf("%q: %v", tt.fault, err)
		}
		cells, err := c.Cells()
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%q: error %v, want one line with %q", tt.fault, err, tt.err)
			}
			continue
		}
		if err != nil || len(cells) != 1 {
			t.Fatalf("%q: %d cells, %v", tt.fault, len(cells), err)
		}
		if cells[0].Expect != tt.expect {
			t.Errorf("%q: expect %s, want %s", tt.fault, cells[0].Expect, tt.expect)
		}
		if tt.observe != 0 && cells[0].Observe != tt.observe {
			t.Errorf("%q: observe %s, want %s", tt.fault, cells[0].Observe, tt.observe)
		}
	}
}

// TestHoldName: a hold shows in the fault's name and so in run names.
func TestHoldName(t *testing.T) {
	f := FaultEntry{Kind: results.KindDrop, Scope: results.ScopeFlow, Direction: results.DirectionToServer, Hold: 2 * time.Second}
	if got := f.String(); got != "drop→server hold 2s" {
		t.Errorf("String() = %q", got)
	}
}
