// Package bench measures how `coordinator report` copes with many runs: it
// writes a synthetic results file (internal/synthetic, built from the
// model and labelled synthetic), runs the report as a child process,
// and records the child's wall time and peak RSS, the size of every file
// it wrote and, where headless Chromium is installed, how long the browser
// takes to load report.html and dump its DOM. The figures are data to
// publish (docs/benchmarks.md), not a pass/fail check.
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/kalab-dev/kalab/internal/atomicfile"
	"github.com/kalab-dev/kalab/internal/synthetic"
)

// Chromium is where Debian installs the browser the bench renders with.
const Chromium = "/usr/bin/chromium"

// Options say what to measure.
type Options struct {
	// Runs is how many synthetic runs the results file holds.
	Runs int
	// Dir receives results.jsonl, report/ and bench.json.
	Dir string
	// Exe is the coordinator binary run as `Exe report -o DIR FILE`.
	Exe string
	// Browser is the Chromium binary; empty skips the render.
	Browser string
}

// File is one file the report wrote, or one directory of files.
type File struct {
	// Name is the file's name in the report directory, a directory's with
	// a trailing slash; Bytes its size, a directory's the sum of its
	// files'; Files how many files a directory holds (0 for a file).
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
	Files int    `json:"files,omitempty"`
}

// fileOf sizes a file, or the files under a directory.
func fileOf(path string) File {
	f := File{Name: filepath.Base(path)}
	info, err := os.Stat(path)
	if err != nil || !info.IsDir() {
		if err == nil {
			f.Bytes = info.Size()
		}
		return f
	}
	f.Name += "/"
	filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				f.Bytes += info.Size()
				f.Files++
			}
		}
		return nil
	})
	return f
}

// Result is bench.json.
type Result struct {
	// Date is when the bench ran (UTC); Runs how many runs the results held.
	Date time.Time `json:"date"`
	Runs int       `json:"runs"`
	// ResultsBytes is the size of the synthetic results.jsonl.
	ResultsBytes int64 `json:"results_bytes"`
	// Wall is the report child's wall time.
	Wall time.Duration `json:"wall_ns"`
	// MaxRSS is the child's peak resident set in bytes; 0 when RSSNote
	// says it was not measured.
	MaxRSS  int64  `json:"max_rss_bytes,omitempty"`
	RSSNote string `json:"rss_note,omitempty"`
	// Files are every file in the report directory, by name.
	Files []File `json:"files"`
	// Render is how long headless Chromium took to load report.html and
	// dump its DOM, Blank the same for an empty page (the browser's own
	// start-up); both 0 with RenderNote saying why when not measured.
	Render     time.Duration `json:"render_ns,omitempty"`
	Blank      time.Duration `json:"blank_ns,omitempty"`
	RenderNote string        `json:"render_note,omitempty"`
}

// Run writes the results, runs the report, measures it and writes
// bench.json into o.Dir.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	in, out := filepath.Join(o.Dir, "results.jsonl"), filepath.Join(o.Dir, "report")
	n, err := writeResults(in, o.Runs)
	if err != nil {
		return nil, err
	}
	res := &Result{Date: time.Now().UTC().Truncate(time.Second), Runs: o.Runs, ResultsBytes: n}
	cmd := exec.CommandContext(ctx, o.Exe, "report", "-o", out, in)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s report: %w", o.Exe, err)
	}
	res.Wall = time.Since(t0)
	res.MaxRSS, res.RSSNote = maxRSS(cmd.ProcessState)
	entries, err := os.ReadDir(out)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		res.Files = append(res.Files, fileOf(filepath.Join(out, e.Name())))
	}
	res.renderIn(ctx, o.Browser, filepath.Join(out, "report.html"))
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	return res, atomicfile.Write(filepath.Join(o.Dir, "bench.json"), append(js, '\n'), 0o644)
}

// writeResults writes n synthetic runs as results.jsonl and returns its size.
func writeResults(path string, n int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, r := range synthetic.Results(n) {
		if err := enc.Encode(r); err != nil {
			f.Close()
			return 0, err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, err
	}
	return info.Size(), f.Close()
}

// renderIn times Chromium's --dump-dom of page, and of an empty page.
func (r *Result) renderIn(ctx context.Context, browser, page string) {
	if browser == "" {
		r.RenderNote = "not measured: no browser"
		return
	}
	if _, err := os.Stat(browser); err != nil {
		r.RenderNote = "not measured: " + browser + " not found"
		return
	}
	abs, err := filepath.Abs(page)
	if err != nil {
		r.RenderNote = "not measured: " + err.Error()
		return
	}
	blank, err := dumpDOM(ctx, browser, "about:blank")
	if err == nil {
		r.Blank = blank
		r.Render, err = dumpDOM(ctx, browser, "file://"+filepath.ToSlash(abs))
	}
	if err != nil {
		r.RenderNote = "not measured: " + err.Error()
	}
}

// dumpDOM runs headless Chromium once on url and returns its wall time.
func dumpDOM(ctx context.Context, browser, url string) (time.Duration, error) {
	profile, err := os.MkdirTemp("", "kalab-bench-profile-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(profile)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + profile, "--dump-dom", url}
	cmd := exec.CommandContext(ctx, browser, args...)
	cmd.Stdout = io.Discard
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s --dump-dom %s: %w", browser, url, err)
	}
	return time.Since(t0), nil
}

// Table writes the figures as a small aligned table.
func (r *Result) Table(w io.Writer) {
	fmt.Fprintf(w, "runs\t%d\n", r.Runs)
	fmt.Fprintf(w, "results.jsonl\t%s\n", Size(r.ResultsBytes))
	fmt.Fprintf(w, "report wall time\t%s\n", r.Wall.Round(time.Millisecond))
	if r.RSSNote != "" {
		fmt.Fprintf(w, "report peak RSS\t%s\n", r.RSSNote)
	} else {
		fmt.Fprintf(w, "report peak RSS\t%s\n", Size(r.MaxRSS))
	}
	files := slices.Clone(r.Files)
	slices.SortFunc(files, func(a, b File) int { return int(b.Bytes - a.Bytes) })
	for _, f := range files {
		if f.Files > 0 {
			fmt.Fprintf(w, "%s\t%s in %d files\n", f.Name, Size(f.Bytes), f.Files)
			continue
		}
		fmt.Fprintf(w, "%s\t%s\n", f.Name, Size(f.Bytes))
	}
	if r.RenderNote != "" {
		fmt.Fprintf(w, "chromium render\t%s\n", r.RenderNote)
	} else {
		fmt.Fprintf(w, "chromium render\t%s (empty page %s)\n", r.Render.Round(time.Millisecond), r.Blank.Round(time.Millisecond))
	}
}

// Size writes a byte count in B, KiB or MiB.
func Size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
