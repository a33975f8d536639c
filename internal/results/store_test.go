package results

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func jsonLine(t *testing.T, run string) string {
	t.Helper()
	b, err := json.Marshal(Result{Schema: Schema, Experiment: "x", Run: run, Outcome: OutcomePass})
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// TestTornLastLine: a crash mid-append leaves a fragment; Read skips it
// with a warning, OpenStore cuts it off so the next append starts on a
// line of its own, and a bad line in the middle stays an error.
func TestTornLastLine(t *testing.T) {
	a, b := jsonLine(t, "a"), jsonLine(t, "b")
	tests := []struct {
		name     string
		content  string
		runs     string // runs Read returns, comma-separated
		readWarn string // substring of Read's warning ("" none)
		openWarn string // substring of OpenStore's warning ("" none)
		readErr  string // substring of Read's error ("" none)
	}{
		{"whole", a + b, "a,b", "", "", ""},
		{"empty", "", "", "", "", ""},
		{"fragment", a + b[:20], "a", ":2: ignored a torn last line (20 bytes, no newline", ":2: removed a torn last line (20 bytes", ""},
		{"fragment of the only line", b[:7], "", ":1: ignored a torn", ":1: removed", ""},
		{"invalid last line with newline", a + "{\"schema\":1,\"ru\n", "a", ":2: ignored a torn last line", ":2: removed", ""},
		{"zeros", a + "\x00\x00\x00\x00", "a", ":2: ignored", ":2: removed", ""},
		{"whole record without newline", a + strings.TrimSuffix(b, "\n"), "a,b", "", ":2: the last line lacked its newline", ""},
		{"blank lines after", a + "\n\n", "a", "", "", ""},
		{"bad line in the middle", a + "{oops\n" + b, "", "", "", "results.jsonl:2:"},
		{"glued line in the middle", a + b[:20] + b + a, "", "", "", "results.jsonl:2:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "results.jsonl")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			rs, warns, err := ReadFile(path)
			if tt.readErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.readErr) {
					t.Fatalf("ReadFile error %v, want one with %q", err, tt.readErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadFile: %v", err)
			}
			if got := runs(rs); got != tt.runs {
				t.Errorf("ReadFile runs %q, want %q", got, tt.runs)
			}
			checkWarn(t, "ReadFile", warns, tt.readWarn)

			s, warns, err := OpenStore(path)
			if err != nil {
				t.Fatalf("OpenStore: %v", err)
			}
			checkWarn(t, "OpenStore", warns, tt.openWarn)
			if err := s.Append(Result{Schema: Schema, Experiment: "x", Run: "c", Outcome: OutcomePass}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			rs, warns, err = ReadFile(path)
			if err != nil || len(warns) > 0 {
				t.Fatalf("after the append: %v, warnings %q", err, warns)
			}
			want := tt.runs + ",c"
			if tt.runs == "" {
				want = "c"
			}
			if got := runs(rs); got != want {
				t.Errorf("after the append: runs %q, want %q", got, want)
			}
			// Reopening a repaired file repairs nothing.
			s, warns, err = OpenStore(path)
			if err != nil || len(warns) > 0 {
				t.Fatalf("reopen: %v, warnings %q", err, warns)
			}
			s.Close()
		})
	}
}

func runs(rs []Result) string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.Run)
	}
	return strings.Join(ids, ",")
}

func checkWarn(t *testing.T, what string, warns []string, want string) {
	t.Helper()
	switch {
	case want == "" && len(warns) > 0:
		t.Errorf("%s warned %q, want nothing", what, warns)
	case want != "" && (len(warns) != 1 || !strings.Contains(warns[0], want)):
		t.Errorf("%s warned %q, want one warning with %q", what, warns, want)
	}
}

func TestOpenStoreCreates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	s, warns, err := OpenStore(path)
	if err != nil || len(warns) > 0 {
		t.Fatalf("OpenStore: %v %q", err, warns)
	}
	defer s.Close()
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Fatalf("new store: %v %v", fi, err)
	}
}

// TestRewrite: the kept lines stay byte for byte, the torn tail goes, and
// no temporary file is left.
func TestRewrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "results.jsonl")
	a, b, c := jsonLine(t, "a"), jsonLine(t, "b"), jsonLine(t, "c")
	if err := os.WriteFile(path, []byte(a+b+c+c[:9]), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := Rewrite(path, func(r Result) bool { return r.Run != "b" })
	if err != nil || n != 1 {
		t.Fatalf("Rewrite = %d, %v; want 1 dropped", n, err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != a+c {
		t.Errorf("rewritten file %q, want %q", got, a+c)
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Errorf("directory holds %d entries, want only results.jsonl", len(es))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	if err := os.WriteFile(path, []byte(a+"{bad\n"+c), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Rewrite(path, func(Result) bool { return true }); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("Rewrite of a file with a bad middle line: %v, want an error naming line 2", err)
	}
}

func TestMergeWarns(t *testing.T) {
	dir := t.TempDir()
	p1, p2 := filepath.Join(dir, "1.jsonl"), filepath.Join(dir, "2.jsonl")
	a, b := jsonLine(t, "a"), jsonLine(t, "b")
	os.WriteFile(p1, []byte(a+b[:10]), 0o644)
	os.WriteFile(p2, []byte(a+b), 0o644)
	m, err := Merge([]string{p1, p2})
	if err != nil {
		t.Fatal(err)
	}
	if runs(m.Results) != "a,b" || len(m.Duplicates) != 1 || len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "1.jsonl:2") {
		t.Errorf("Merge = %q, dups %v, warnings %q", runs(m.Results), m.Duplicates, m.Warnings)
	}
	if one, err := Merge([]string{p1}); err != nil || runs(one.Results) != "a" {
		t.Errorf("Merge of one file = %q, %v", runs(one.Results), err)
	}
}
