package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// JSON renders the report as report.json (indented, newline-terminated).
func (r *Report) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode report: %w", err)
	}
	return append(b, '\n'), nil
}

// Write writes report.md and report.json into dir (created if missing).
// Each file is written to a temporary name and renamed, so a reader never
// sees half a report.
func Write(dir string, r *Report) error {
	if r == nil {
		return errors.New("write report: no report")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	js, err := r.JSON()
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "report.md"), r.Markdown()); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "report.json"), js)
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
