package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
// (created if missing). Every file is rendered before the first is written,
// so a rendering error leaves the previous report whole; each file goes to
// a temporary name and is renamed, so a reader never sees half a file.
func Write(dir string, r *Report) error {
	if r == nil {
		return errors.New("write report: no report")
	}
	html, err := r.HTML()
	if err != nil {
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
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	for i, data := range [][]byte{html, r.Markdown(), js, csv} {
		if err := writeFile(filepath.Join(dir, Files[i]), data); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}
