package results

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// Store appends results to a JSONL file, one fsynced line per run, so an
// interrupted experiment loses nothing that finished.
type Store struct {
	mu sync.Mutex
	f  *os.File
}

// OpenStore opens (creating or appending to) path.
func OpenStore(path string) (*Store, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open results: %w", err)
	}
	return &Store{f: f}, nil
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

// Read reads a results.jsonl file; a bad line is an error naming it.
func Read(path string) ([]Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	defer f.Close()
	var out []Result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var r Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if r.Schema != Schema {
			return nil, fmt.Errorf("%s:%d: result schema %d, this kalab reads %d", path, n, r.Schema, Schema)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// Duplicate is a file's runs that an earlier file already had.
type Duplicate struct {
	// File is the later file; Runs the ids it repeated.
	File string
	Runs []string
}

// ReadAll reads every file in order and merges them. Run ids are unique
// per execution of an experiment (name, a random nonce, agents, cell,
// repetition), so the same id twice is the same run (a file given twice,
// or a copy): it is kept once, from the first file, and the repeats are
// returned so the caller can say so.
func ReadAll(files []string) ([]Result, []Duplicate, error) {
	var all []Result
	var dups []Duplicate
	seen := map[string]bool{}
	for _, f := range files {
		rs, err := Read(f)
		if err != nil {
			return nil, nil, err
		}
		d := Duplicate{File: f}
		for _, r := range rs {
			if seen[r.Run] {
				d.Runs = append(d.Runs, r.Run)
				continue
			}
			seen[r.Run] = true
			all = append(all, r)
		}
		if len(d.Runs) > 0 {
			dups = append(dups, d)
		}
	}
	return all, dups, nil
}
