// Package session keeps the coordinator's record of interactive sessions
// between commands (`coordinator session start|list|stop|save`, `fault`,
// `watch`): one JSON file per session in a directory, holding the
// session itself (experiment.Session), how to reach its cluster again,
// and, for a lab session, the lab that stays up until `session stop`.
package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kalab-dev/kalab/internal/atomicfile"
	"github.com/kalab-dev/kalab/internal/experiment"
)

// Record is one session's file.
type Record struct {
	experiment.Session
	// Cluster is how the commands that follow `session start` join the
	// session's cluster again (its flags are remembered, so `fault` and
	// `watch` need only the session id).
	Cluster Cluster `json:"cluster"`
	// Lab is the lab kept up for a `session start --lab` session; nil on
	// a real cluster.
	Lab *Lab `json:"lab,omitempty"`
}

// Cluster is a coordinator's join flags (experiment.JoinOptions).
type Cluster struct {
	// Join are the agents' serf addresses.
	Join []string `json:"join"`
	// KeyFile and SigningKeyFile are the gossip key and the signing key
	// (absolute paths; "" for the signing key: beside the gossip key).
	KeyFile        string `json:"key_file"`
	SigningKeyFile string `json:"signing_key_file,omitempty"`
	// Bind and Advertise are the coordinator's own serf addresses.
	Bind      string `json:"bind,omitempty"`
	Advertise string `json:"advertise,omitempty"`
}

// Lab is a lab a keeper process holds for a session.
type Lab struct {
	// Name is the lab's name; Control the control host's network
	// namespace, where the session's commands run.
	Name    string `json:"name"`
	Control string `json:"control"`
	// ControlAddr is the control host's address (commands bind there).
	ControlAddr string `json:"control_addr"`
	// KeeperPID is the process that built the lab and tears it down at
	// `session stop` (SIGTERM) or at the session's end.
	KeeperPID int `json:"keeper_pid"`
	// Dir is the keeper's directory: keys and agents' logs.
	Dir string `json:"dir"`
	// Agents are the lab agents' names, Join their serf addresses, and
	// KeyFile the lab's gossip key (the signing key beside it).
	Agents  []string `json:"agents"`
	Join    []string `json:"join"`
	KeyFile string   `json:"key_file"`
}

// Store is a directory of session records.
type Store struct {
	// Dir holds <id>.json per session, and beside a lab session's record
	// its keeper's files (<id>.lab.json, <id>.lab.log, <id>.lab/).
	Dir string
}

// DefaultDir is where sessions are kept unless --sessions says otherwise:
// $XDG_STATE_HOME/kalab/sessions, or ~/.local/state/kalab/sessions.
func DefaultDir() string {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return filepath.Join(os.TempDir(), "kalab-sessions")
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "kalab", "sessions")
}

func (s Store) path(id string) string { return filepath.Join(s.Dir, id+".json") }

// Save writes r atomically (mode 0600: it names key files).
func (s Store) Save(r *Record) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("sessions directory: %w", err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(s.path(r.ID), append(b, '\n'), 0o600)
}

// Load reads the session id; an unknown id says which ones exist.
func (s Store) Load(id string) (*Record, error) {
	if id == "" || strings.ContainsAny(id, `/\.`) {
		return nil, fmt.Errorf("session id %q: expected the id `coordinator session start` printed (see coordinator session list)", id)
	}
	b, err := os.ReadFile(s.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		ids, _ := s.IDs()
		known := "none"
		if len(ids) > 0 {
			known = strings.Join(ids, ", ")
		}
		return nil, fmt.Errorf("no session %s in %s (sessions there: %s)", id, s.Dir, known)
	}
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("session %s: %w", s.path(id), err)
	}
	return &r, nil
}

// Remove deletes the session's record.
func (s Store) Remove(id string) error {
	err := os.Remove(s.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// IDs lists the recorded sessions, sorted.
func (s Store) IDs() ([]string, error) {
	ents, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		// <id>.lab.json beside a lab session's record is its lab, not a
		// session.
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok && !e.IsDir() && !strings.Contains(id, ".") {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}
