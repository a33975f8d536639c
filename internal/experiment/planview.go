package experiment

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// LoadPlan reads and checks an experiment and expands its cells (which
// also refuses runs predicted longer than max_run).
func LoadPlan(path string) (*Config, []Cell, error) {
	c, err := Load(path)
	if err != nil {
		return nil, nil, err
	}
	cells, err := c.Cells()
	if err != nil {
		return nil, nil, err
	}
	return c, cells, nil
}

// WritePlan prints the cells as a table with the model's windows and the
// expected duration of every run, then the total.
func WritePlan(w io.Writer, c *Config, cells []Cell) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tserver os\tsettings\tmode\tfault\texpect\tmodel detection − T0\tafter fault\texpected run")
	for i, cl := range cells {
		fromT0 := cl.Model.FromT0.String()
		if cl.Scenario == keepalive.ScenarioUnacked {
			fromT0 = "— (from the write)" // the retransmission model runs from the write, not T0
		}
		mode := string(cl.Mode)
		switch {
		case cl.Scenario == keepalive.ScenarioHeartbeat:
			mode = "keepalive off"
		case cl.Target != "":
			mode = "the service's (plan: " + cl.Settings.Short() + ")"
		}
		expect, took := string(cl.Expect), cl.Expected.Round(100*time.Millisecond).String()
		if cl.Skip != "" {
			expect, took = "skipped (below)", "—"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i+1, cl.OS, cl.Label(), mode, cl.Fault,
			expect, fromT0, cl.Model.AfterFault, took)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for i, cl := range cells {
		if cl.Skip != "" {
			fmt.Fprintf(w, "cell %d (%s %s %s) is skipped: %s\n", i+1, cl.OS, cl.Label(), cl.Fault, cl.Skip)
		}
	}
	_, err := fmt.Fprintf(w, "%d cells × %d repetitions = %d runs per server/client agent pair; expected %s at parallel %d (Linux model at HZ=250; runs use each host's HZ)\n",
		len(cells), c.Repetitions, len(cells)*c.Repetitions, c.Total(cells).Round(time.Second), c.Parallel)
	return err
}
