package experiment

import (
	"strings"
	"testing"

	"github.com/kalab-dev/kalab/internal/results"
)

// TestTargetConfigs: a [target] experiment parses with what it needs and
// is refused, with the key and the fix, without it.
func TestTargetConfigs(t *testing.T) {
	const head = "name = \"t\"\nmax_run = \"3m\"\n"
	const drop = "\n[[faults]]\nkind = \"drop\"\n"
	redis := "[target]\nagent = \"db-1\"\nport = 6379\nhello = \"PING\\r\\n\"\nexpect = \"+PONG\"\n"
	for _, tc := range []struct {
		name, src, err string
	}{
		{"agent and port", head + redis + drop, ""},
		{"lab redis", head + redis + "[target.lab]\nproduct = \"redis\"\nidle = \"3s\"\n" + drop, ""},
		{"bisection", head + redis + "[target.bisect]\nmin = \"2s\"\nmax = \"10s\"\n" + drop, ""},
		{"agentless", head + "[target]\naddress = \"192.0.2.30:5432\"\nhello = \"x\"\nexpect = \"R\"\n[target.bisect]\nmin = \"1s\"\nmax = \"10s\"\n" + drop, ""},
		{"no agent", head + "[target]\nport = 6379\n" + drop, "target.agent is required"},
		{"port 0", head + "[target]\nagent = \"db-1\"\n" + drop, "target.port = 0"},
		{"settings beside", head + redis + "[[settings]]\nidle = \"1s\"\ninterval = \"1s\"\ncount = 3\n" + drop, "[[settings]] with a [target]"},
		{"hold", head + redis + "\n[[faults]]\nkind = \"drop\"\nhold = \"2s\"\n", "no hold with a [target]"},
		{"expect alone", head + "[target]\nagent = \"db-1\"\nport = 1\nexpect = \"+PONG\"\n" + drop, "only with hello"},
		{"unknown product", head + redis + "[target.lab]\nproduct = \"mysql\"\n" + drop, `target.lab.product = "mysql"`},
		{"redis interval", head + redis + "[target.lab]\nproduct = \"redis\"\nidle = \"3s\"\ninterval = \"1s\"\n" + drop, "redis's tcp-keepalive derives"},
		{"postgres partial", head + redis + "[target.lab]\nproduct = \"postgresql\"\nidle = \"3s\"\n" + drop, "idle, interval and count together"},
		{"bisect max below min", head + redis + "[target.bisect]\nmin = \"5s\"\nmax = \"2s\"\n" + drop, "target.bisect.max = 2s"},
		{"bisect without expect", head + "[target]\nagent = \"db-1\"\nport = 1\n[target.bisect]\nmin = \"1s\"\nmax = \"5s\"\n" + drop, "without hello and expect"},
		{"bisect a pause", head + redis + "[target.bisect]\nmin = \"1s\"\nmax = \"5s\"\n\n[[faults]]\nkind = \"pause\"\n", "only a flow drop both ways"},
		{"bisect over max_run", "name = \"t\"\nmax_run = \"30s\"\n" + redis + "[target.bisect]\nmin = \"1s\"\nmax = \"20s\"\n" + drop, "the bisection tries up to"},
		{"address without bisect", head + "[target]\naddress = \"192.0.2.30:5432\"\n" + drop, "without [target.bisect]"},
		{"address and agent", head + "[target]\naddress = \"192.0.2.30:5432\"\nagent = \"db-1\"\nhello = \"x\"\nexpect = \"R\"\n[target.bisect]\nmin = \"1s\"\nmax = \"5s\"\n" + drop, "not beside them"},
		{"address not ip", head + "[target]\naddress = \"db.example:5432\"\n" + drop, `target.address = "db.example:5432"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("configs/x.toml", []byte(tc.src))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Cells(); err != nil {
					t.Fatalf("cells: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "fix: ") {
				t.Fatalf("error %v, want %q with a fix", err, tc.err)
			}
		})
	}
}

// TestTargetCells: the plan predicts from what the lab's service applies:
// Redis's tcp-keepalive 4 → 4s/1s/3 (whole-second interval, as anetKeepAlive
// divides), PostgreSQL's defaults → the kernel's 2 h, expected not to be
// detected within max_run; nginx without so_keepalive → off, never
// detected; bisection cells model the first idle (the outage follows the
// hello at once).
func TestTargetCells(t *testing.T) {
	for _, tc := range []struct {
		lab, bisect string
		settings    string
		expect      results.Expectation
	}{
		{"product = \"redis\"\nidle = \"4s\"", "", "4s/1s/3", results.ExpectDetected},
		{"product = \"redis\"", "", "300s/100s/3", results.ExpectNotDetected},
		{"product = \"postgresql\"", "", "2h/75s/9", results.ExpectNotDetected},
		{"product = \"nginx\"", "", "0/0/0", results.ExpectNotDetected},
		{"product = \"redis\"\nidle = \"3s\"", "[target.bisect]\nmin = \"2s\"\nmax = \"10s\"\n", "3s/1s/3", results.ExpectDetected},
	} {
		src := "name = \"t\"\nmax_run = \"3m\"\n[server]\nselect = { os = \"linux\" }\n[target]\nagent = \"lab-agent-1\"\nport = 6379\nhello = \"PING\\r\\n\"\nexpect = \"+PONG\"\n[target.lab]\n" +
			tc.lab + "\n" + tc.bisect + "\n[[faults]]\nkind = \"drop\"\n"
		c, err := Parse("x.toml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		cells, err := c.Cells()
		if err != nil || len(cells) != 1 {
			t.Fatalf("%s: %v %v", tc.lab, cells, err)
		}
		cl := cells[0]
		if cl.Settings.Short() != tc.settings || cl.Expect != tc.expect || cl.Longest > c.MaxRun {
			t.Errorf("%s: settings %s expect %s longest %s; want %s, %s within max_run", tc.lab, cl.Settings.Short(), cl.Expect, cl.Longest, tc.settings, tc.expect)
		}
		if tc.bisect != "" && (cl.Model.Phase != "first-idle" || cl.Settle != 0) {
			t.Errorf("bisection cell: phase %s settle %s", cl.Model.Phase, cl.Settle)
		}
	}
}
