package experiment

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const base = `name = "t"
[server]
select = { os = "linux" }
[client]
select = { os = "linux" }
[[settings]]
idle = "1s"
interval = "1s"
count = 3
[[faults]]
kind = "drop"
`

func TestShippedConfigs(t *testing.T) {
	paths, err := filepath.Glob("../../configs/*.toml")
	if err != nil || len(paths) < 3 {
		t.Fatalf("configs: %v %v", paths, err)
	}
	for _, path := range paths {
		c, err := Load(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		cells, err := c.Cells()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		t.Logf("%s: %d cells × %d reps, expected total %s", path, len(cells), c.Repetitions, c.Total(cells).Round(time.Second))
	}
	c, _ := Load("../../configs/quick.toml")
	cells, _ := c.Cells()
	if len(cells) != 3 || cells[0].Model.FromT0.Min != 4096*time.Millisecond {
		t.Fatalf("quick: %d cells, first model %s; want 3 cells and 4.096s", len(cells), cells[0].Model.FromT0)
	}
	if total := c.Total(cells); total > 2*time.Minute {
		t.Fatalf("quick is expected to take %s, over the 2 minute budget", total)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // substrings, including file:line
	}{
		{"typo'd key", strings.Replace(base, "count = 3", "cuont = 3", 1), []string{"x.toml:9:", `unknown key "settings.cuont"`}},
		{"count 0", strings.Replace(base, "count = 3", "count = 0", 1), []string{"x.toml:9:", "settings[0].count = 0", "1..127", "linux"}},
		{"second settings bad", base + "[[settings]]\nidle = \"1s\"\ninterval = \"0s\"\ncount = 3\n", []string{"x.toml:14:", "settings[1].interval = 0s"}},
		{"bad fault kind", strings.Replace(base, `kind = "drop"`, `kind = "unplug"`, 1), []string{"x.toml:11:", `faults[0].kind = "unplug"`, "vm-pause"}},
		{"scope on kill", strings.Replace(base, `kind = "drop"`, "kind = \"kill\"\nscope = \"host\"", 1), []string{"x.toml:12:", "only drop has a scope"}},
		{"bad mode", strings.Replace(base, "[client]", "mode = \"inherit\"\n[client]", 1), []string{"x.toml:4:", `server.mode = "inherit"`, "per-connection"}},
		{"os matches nothing", strings.Replace(base, `select = { os = "linux" }`, `select = { os = "lin" }`, 1), []string{"x.toml:3:", "server.select.os", "matches none"}},
		{"repetitions", "repetitions = 0\n" + base, []string{"x.toml:1:", "repetitions = 0"}},
		{"syntax", base + "oops =\n", []string{"x.toml:12:"}},
		{"no name", strings.Replace(base, `name = "t"`, "", 1), []string{"name is required", "fix: name = \"x\""}},
		{"unsupported count on linux only", strings.Replace(strings.ReplaceAll(base, `os = "linux"`, `os = ".*"`), "count = 3", "count = 200", 1), []string{"settings[0].count = 200", "on linux"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.toml", []byte(tt.src))
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("x.toml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.Repetitions != 1 || c.Parallel != 1 || c.MaxRun != 10*time.Minute || c.Margin != 5*time.Second ||
		c.Server.Mode != "listener" || c.Faults[0].Scope != "flow" || c.Faults[0].Direction != "both" {
		t.Fatalf("defaults not applied: %+v", c)
	}
}

// TestFaultDirections: one-way drops parse, default to both ways, and show
// their direction in fault and run names; other kinds have none.
func TestFaultDirections(t *testing.T) {
	src := base + "[[faults]]\nkind = \"drop\"\ndirection = \"to-server\"\n" +
		"[[faults]]\nkind = \"drop\"\nscope = \"host\"\ndirection = \"to-client\"\n" +
		"[[faults]]\nkind = \"drop\"\ndirection = \"both\"\n[[faults]]\nkind = \"pause\"\n"
	c, err := Parse("x.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range c.Faults {
		got = append(got, f.Direction+" "+f.String())
	}
	want := []string{"both drop", "to-server drop→server", "to-client drop/host→client", "both drop", " pause"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("faults %q, want %q", got, want)
	}
	cells, err := c.Cells()
	if err != nil || len(cells) != 5 {
		t.Fatalf("cells: %d, %v", len(cells), err)
	}
	if name := RunName(cells[1], "agent-2", "agent-1", 1); name != "drop→server·1s/1s/3·agent-2→agent-1·#1" {
		t.Errorf("run name %q", name)
	}
	for i, wantDir := range []string{"", "to-server", "to-client", "", ""} {
		if req := faultReq("r", cells[i]); req.Direction != wantDir {
			t.Errorf("cell %d (%s): fault request direction %q, want %q (both ways is sent empty)", i, cells[i].Fault, req.Direction, wantDir)
		}
	}
}

func TestCellsRefuseLongRuns(t *testing.T) {
	// macOS in listener mode waits the 2 h default idle: refused with advice.
	src := strings.Replace(base, `select = { os = "linux" }`, `select = { os = "darwin" }`, 1)
	c, err := Parse("x.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Cells()
	if err == nil || !strings.Contains(err.Error(), "exceeds max_run") || !strings.Contains(err.Error(), "per-connection") {
		t.Fatalf("want a max_run refusal suggesting per-connection mode, got %v", err)
	}
	c.Server.Mode = "per-connection"
	cells, err := c.Cells()
	if err != nil || len(cells) != 1 || cells[0].Model.FromT0.Min != 4*time.Second {
		t.Fatalf("per-connection on macOS: %v %v", cells, err)
	}
}

// TestCellsSkipLongRunsPerOS: with no os selector, a config whose macOS
// listener-mode cells would outlast max_run still plans: those cells are
// skipped with the reason and the advice, Linux and Windows run, and the
// total leaves the skipped cells out.
func TestCellsSkipLongRunsPerOS(t *testing.T) {
	src := "name = \"minimal\"\n[[settings]]\nidle = \"1s\"\ninterval = \"1s\"\ncount = 3\n[[faults]]\nkind = \"drop\"\n"
	c, err := Parse("x.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cells, err := c.Cells()
	if err != nil {
		t.Fatal(err)
	}
	skipped := map[string]string{}
	for _, cl := range cells {
		skipped[cl.OS] = cl.Skip
	}
	if len(skipped) != 3 || skipped["linux"] != "" || skipped["windows"] != "" ||
		!strings.Contains(skipped["darwin"], "exceeds max_run") || !strings.Contains(skipped["darwin"], "per-connection") {
		t.Fatalf("skips per OS: %q", skipped)
	}
	var want time.Duration
	for _, cl := range cells {
		if cl.OS != "darwin" {
			want += cl.Expected
		}
	}
	if got := c.Total(cells); got != want {
		t.Errorf("total %s, want %s (without the skipped cell)", got, want)
	}
}
