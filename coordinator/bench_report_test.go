package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kalab-dev/kalab/internal/report/bench"
)

// benchChildEnv makes this test binary act as the coordinator: the bench
// runs os.Executable() as `coordinator report …`, which in a test is the
// test binary itself.
const benchChildEnv = "KALAB_TEST_BENCH_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(benchChildEnv) == "1" {
		os.Exit(run())
	}
	os.Exit(m.Run())
}

// TestBenchReport: a small bench runs briefly, prints a well-formed table
// and writes bench.json; no figure is asserted.
func TestBenchReport(t *testing.T) {
	t.Setenv(benchChildEnv, "1")
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	cmd := benchReportCmd()
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"--runs", "200", "-o", dir, "--browser", ""})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("bench report: %v\n%s", err, errOut.String())
	}
	row := regexp.MustCompile(`^\S+( \S+)*  +\S.*$`)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for _, l := range lines {
		if !row.MatchString(l) {
			t.Errorf("malformed line %q in\n%s", l, out.String())
		}
	}
	for _, want := range []string{"runs  ", "report wall time", "report peak RSS", "report.html", "chromium render"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res bench.Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("bench.json: %v", err)
	}
	if res.Runs != 200 || res.Wall <= 0 || len(res.Files) == 0 {
		t.Errorf("bench.json: runs %d, wall %s, %d files", res.Runs, res.Wall, len(res.Files))
	}
}
