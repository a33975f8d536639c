package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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
// a fsynced temporary file in dir and is renamed (then dir is fsynced), so
// neither a reader nor a crash ever sees half a file.
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

// writeFile puts data at path so that no reader and no crash ever sees
// half of it: a temporary file in the same directory, fsynced, renamed
// over path, then the directory fsynced so the rename lasts.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644) // CreateTemp makes 0600
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

// syncDir fsyncs a directory so a rename in it survives a crash; Windows
// cannot open a directory for that (NTFS journals it), so it is a no-op
// there.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
