package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/kalab-dev/kalab/internal/atomicfile"
)

// Store appends results to a JSONL file, one fsynced line per run, so an
// interrupted experiment loses nothing that finished.
type Store struct {
	mu sync.Mutex
	f  *os.File
}

// OpenStore opens (creating or appending to) path. A crash in the middle
// of an append can leave a torn last line: a fragment without its newline,
// or a last line that is not JSON. OpenStore cuts such a fragment off (and
// completes the newline of a last line that is a whole record), so the
// next append never glues onto it, and returns one warning per repair for
// the caller to print. A new file's directory is fsynced, so the file
// survives a crash too.
func OpenStore(path string) (*Store, []string, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR|os.O_APPEND, 0o644)
	created := err == nil
	if errors.Is(err, os.ErrExist) {
		f, err = os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0o644)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open results: %w", err)
	}
	if created {
		if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("open results: %w", err)
		}
		return &Store{f: f}, nil, nil
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("read results %s: %w", path, err)
	}
	var warns []string
	t := tail(data)
	switch {
	case t.torn:
		if err := f.Truncate(int64(t.start)); err == nil {
			err = f.Sync()
		}
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("cut the torn last line of %s: %w", path, err)
		}
		warns = append(warns, fmt.Sprintf("%s:%d: removed a torn last line (%d bytes, %s) left by an interrupted write",
			path, t.line, len(data)-t.start, t.why))
	case t.noNewline:
		if _, err := f.Write([]byte{'\n'}); err == nil {
			err = f.Sync()
		}
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("complete the last line of %s: %w", path, err)
		}
		warns = append(warns, fmt.Sprintf("%s:%d: the last line lacked its newline (an interrupted write); added it", path, t.line))
	}
	return &Store{f: f}, warns, nil
}

// Append writes one result and fsyncs.
func (s *Store) Append(r Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode result %s: %w", r.Run, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("append result %s: %w", r.Run, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sync results: %w", err)
	}
	return nil
}

// Close closes the file.
func (s *Store) Close() error { return s.f.Close() }

// tailInfo describes a file's last non-empty line.
type tailInfo struct {
	// start is the line's offset, line its 1-based number.
	start, line int
	// torn: the line is not a whole JSON value (why says how); noNewline:
	// it is whole but its newline is missing.
	torn, noNewline bool
	why             string
}

// tail finds a torn last line: not valid JSON (with or without a newline:
// a crash can leave a fragment or, on some file systems, zeros). A last
// line that is valid JSON but lacks its newline is whole (one write put
// the record and the newline) and only noNewline is set.
func tail(data []byte) tailInfo {
	end := len(bytes.TrimRight(data, "\n"))
	if end == 0 {
		return tailInfo{}
	}
	start := bytes.LastIndexByte(data[:end], '\n') + 1
	t := tailInfo{start: start, line: bytes.Count(data[:start], []byte{'\n'}) + 1}
	if !json.Valid(data[start:end]) {
		t.torn = true
		t.why = "not valid JSON"
		if end == len(data) {
			t.why = "no newline, not valid JSON"
		}
		return t
	}
	t.noNewline = end == len(data)
	return t
}

// line is one non-empty line of a results file.
type line struct {
	n   int // 1-based line number
	raw []byte
	r   Result
}

// parse reads a results file's lines. A torn last line (see tail) is left
// out with a warning; any other line that does not decode, or has another
// schema, is an error naming path:line.
func parse(path string, data []byte) ([]line, []string, error) {
	var warns []string
	if t := tail(data); t.torn {
		warns = append(warns, fmt.Sprintf("%s:%d: ignored a torn last line (%d bytes, %s): an interrupted write",
			path, t.line, len(bytes.TrimRight(data, "\n"))-t.start, t.why))
		data = data[:t.start]
	}
	var out []line
	for n, raw := range bytes.Split(data, []byte{'\n'}) {
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		var r Result
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", path, n+1, err)
		}
		if r.Schema != Schema {
			return nil, nil, fmt.Errorf("%s:%d: result schema %d, this kalab reads %d", path, n+1, r.Schema, Schema)
		}
		out = append(out, line{n: n + 1, raw: raw, r: r})
	}
	return out, warns, nil
}

// ReadFile reads a results.jsonl file. A torn last line (a write cut
// short by a crash, or one still being written) is skipped with a warning;
// a bad line anywhere else is an error naming path:line.
func ReadFile(path string) ([]Result, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read results: %w", err)
	}
	lines, warns, err := parse(path, data)
	if err != nil {
		return nil, nil, err
	}
	out := make([]Result, 0, len(lines))
	for _, l := range lines {
		out = append(out, l.r)
	}
	return out, warns, nil
}

// Read is ReadFile without the warnings: a torn last line is skipped
// silently.
func Read(path string) ([]Result, error) {
	rs, _, err := ReadFile(path)
	return rs, err
}

// Rewrite replaces path with the lines for which keep is true, byte for
// byte, and drops a torn last line. It writes a temporary file in the
// same directory, fsyncs it, renames it over path and fsyncs the
// directory, so a crash leaves either the old file or the new one. No
// Store may have path open meanwhile. It returns how many lines it
// dropped (the torn one not counted).
func Rewrite(path string, keep func(Result) bool) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("rewrite results: %w", err)
	}
	lines, _, err := parse(path, data)
	if err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	dropped := 0
	for _, l := range lines {
		if !keep(l.r) {
			dropped++
			continue
		}
		buf.Write(l.raw)
		buf.WriteByte('\n')
	}
	if err := atomicfile.Write(path, buf.Bytes(), 0o644); err != nil {
		return 0, fmt.Errorf("rewrite results: %w", err)
	}
	return dropped, nil
}

// Duplicate is a file's runs that an earlier file already had.
type Duplicate struct {
	// File is the later file; Runs the ids it repeated.
	File string
	Runs []string
}

// Merged is what Merge read from several files.
type Merged struct {
	// Results are every file's runs, each run id once.
	Results []Result
	// Duplicates are the runs a later file repeated (kept from the first).
	Duplicates []Duplicate
	// Warnings are the torn last lines skipped (see ReadFile).
	Warnings []string
}

// Merge reads every file in order and merges them. Run ids are unique per
// execution of an experiment (name, the execution's nonce, agents, cell,
// repetition), so the same id twice is the same run (a file given twice,
// or a copy): it is kept once, from the first file, and the repeats are
// returned so the caller can say so.
func Merge(files []string) (Merged, error) {
	var m Merged
	seen := map[string]bool{}
	for _, f := range files {
		rs, warns, err := ReadFile(f)
		if err != nil {
			return Merged{}, err
		}
		m.Warnings = append(m.Warnings, warns...)
		d := Duplicate{File: f}
		for _, r := range rs {
			if seen[r.Run] {
				d.Runs = append(d.Runs, r.Run)
				continue
			}
			seen[r.Run] = true
			m.Results = append(m.Results, r)
		}
		if len(d.Runs) > 0 {
			m.Duplicates = append(m.Duplicates, d)
		}
	}
	return m, nil
}
