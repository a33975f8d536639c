package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kalab-dev/kalab/internal/atomicfile"
)

// Files are the names Write produces, in the order it writes them.
var Files = []string{"report.html", "report.md", "report.json", "runs.csv"}

// JSON renders the report as report.json (indented, newline-terminated).
func (r *Report) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode report: %w", err)
	}
	return append(b, '\n'), nil
}

// Write writes report.html, report.md, report.json and runs.csv into dir
// (created if missing), and for a report too large to draw every run in
// report.html each group's page into dir/TimelineDir (timelines.go).
// Every file is rendered before the first of the four is written, so a
// rendering error leaves the previous report whole (a large report's
// group pages are written, one by one, after report.html is rendered and
// before the rest are, which keeps the memory a large report needs low);
// each file goes to a fsynced temporary file in dir and is renamed (then
// dir is fsynced), so neither a reader nor a crash ever sees half a file.
func Write(dir string, r *Report) error {
	if r == nil {
		return errors.New("write report: no report")
	}
	html, err := r.HTML()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	// Before report.html, so it never links a page that is not there yet.
	if err := r.writeGroupPages(dir); err != nil {
		return err
	}
	js, err := r.JSON()
	if err != nil {
		return err
	}
	csv, err := r.CSV()
	if err != nil {
		return err
	}
	for i, data := range [][]byte{html, r.Markdown(), js, csv} {
		if err := writeFile(filepath.Join(dir, Files[i]), data); err != nil {
			return err
		}
	}
	return nil
}

// writeFile puts data at path so that no reader and no crash ever sees
// half of it.
func writeFile(path string, data []byte) error {
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}
