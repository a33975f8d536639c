package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestReportTornLine: a results file whose last line was cut by a crash
// still makes a report, with a warning naming the file.
func TestReportTornLine(t *testing.T) {
	good, err := os.ReadFile("../testdata/linux-lab-quick.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	torn := filepath.Join(dir, "results.jsonl")
	if err := os.WriteFile(torn, append(good, []byte(`{"schema":1,"experiment":"quick","run":"cut-mid-wr`)...), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	cmd := rootCmd()
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"report", "-o", filepath.Join(dir, "report"), torn})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("report of a torn file: %v\n%s", err, errOut.String())
	}
	runs := bytes.Count(good, []byte("\n"))
	if !strings.Contains(out.String(), strconv.Itoa(runs)+" runs from 1 files") {
		t.Errorf("stdout %q: want %d runs", out.String(), runs)
	}
	if !strings.Contains(errOut.String(), "warning:") || !strings.Contains(errOut.String(), torn) {
		t.Errorf("stderr %q: want a warning naming %s", errOut.String(), torn)
	}
	if _, err := os.Stat(filepath.Join(dir, "report", "report.html")); err != nil {
		t.Error(err)
	}
}
