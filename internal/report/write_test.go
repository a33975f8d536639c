package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// TestWriteAtomic: every file is complete, no temporary file is left
// behind, and a reader polling report.json while reports of two sizes
// replace each other never sees a partial file.
func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	full := build(t)
	small := &Report{Schema: full.Schema, Runs: full.Runs[:1]}
	if err := Write(dir, full); err != nil {
		t.Fatal(err)
	}
	js, _ := full.JSON()
	if got, _ := os.ReadFile(filepath.Join(dir, "report.json")); !bytes.Equal(got, js) {
		t.Errorf("report.json differs from the rendered report (%d bytes, want %d)", len(got), len(js))
	}
	for _, f := range Files {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Size() == 0 || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: %v, %v", f, fi, err)
		}
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	var reads, bad atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			b, err := os.ReadFile(filepath.Join(dir, "report.json"))
			reads.Add(1)
			var r Report
			if err != nil || json.Unmarshal(b, &r) != nil {
				bad.Add(1)
			}
		}
	}()
	for i := range 12 {
		r := full
		if i%2 == 1 {
			r = small
		}
		if err := Write(dir, r); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if bad.Load() > 0 {
		t.Errorf("%d of %d reads saw a missing or partial report.json", bad.Load(), reads.Load())
	}
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != len(Files) {
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only %v (no temporary files)", names, Files)
	}
}
