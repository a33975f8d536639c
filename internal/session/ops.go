package session

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/results"
)

// JoinOptions is how a command on r joins its cluster: the flags it was
// given (jo) where changed says the user set them, the ones `session
// start` used otherwise.
func (r *Record) JoinOptions(jo experiment.JoinOptions, changed func(flag string) bool) experiment.JoinOptions {
	c := r.Cluster
	if !changed("join") {
		jo.Join = c.Join
	}
	if !changed("key-file") {
		jo.KeyFile = c.KeyFile
	}
	if !changed("signing-key") {
		jo.SigningKeyFile = c.SigningKeyFile
	}
	if !changed("bind") && c.Bind != "" {
		jo.Bind = c.Bind
	}
	if !changed("advertise") {
		jo.Advertise = c.Advertise
	}
	return jo
}

// WriteList writes the store's sessions as a table.
func (s Store) WriteList(w io.Writer) error {
	ids, err := s.IDs()
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		_, err := fmt.Fprintf(w, "no sessions in %s (start one with coordinator session start)\n", s.Dir)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSERVER → CLIENT\tKEEPALIVE\tMODE/SERVICE\tSTARTED\tENDS\tFAULTS\tWHERE")
	for _, id := range ids {
		rec, err := s.Load(id)
		if err != nil {
			fmt.Fprintf(tw, "%s\t(unreadable: %v)\n", id, err)
			continue
		}
		ends := rec.ExpiresAt.Format(time.TimeOnly)
		if time.Now().After(rec.ExpiresAt) {
			ends += " (expired)"
		}
		where := "cluster"
		if rec.Lab != nil {
			where = "lab " + rec.Lab.Name
		}
		faults := "-"
		if len(rec.Faults) > 0 {
			var fs []string
			for _, f := range rec.Faults {
				if f.Healed != nil {
					f.Kind += " (healed)"
				}
				fs = append(fs, f.Kind)
			}
			faults = strings.Join(fs, ", ")
		}
		mode := string(rec.Mode)
		if t := rec.Target; t != nil {
			mode = fmt.Sprintf("%s:%d", cmp.Or(t.Product, t.Process, "service"), t.Port)
		}
		fmt.Fprintf(tw, "%s\t%s → %s\t%s\t%s\t%s\t%s\t%s\t%s\n", rec.ID, rec.Server.Name, rec.Client.Name, rec.Settings.Short(), mode,
			rec.StartedAt.Format(time.TimeOnly), ends, faults, where)
	}
	return tw.Flush()
}

// AppendResult appends res to the results file at path (created with its
// directory), saying on warn what the file's repair noticed.
func AppendResult(path string, res results.Result, warn io.Writer) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	store, warns, err := results.OpenStore(path)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, w := range warns {
		fmt.Fprintln(warn, "warning:", w)
	}
	return store.Append(res)
}

// Start joins the cluster as jo says, starts the session spec asks for
// and records it in s. labID names the session when a lab keeper was
// started for it (the lab is recorded with it); "" picks a new id.
//
// target, when set, is called with the lab (nil on real hosts) before the
// session starts, to complete spec's target from what the lab started.
func Start(ctx context.Context, s Store, jo experiment.JoinOptions, spec experiment.SessionSpec, labID string, target func(*Lab) (*experiment.SessionTarget, error)) (*Record, error) {
	var k *Lab
	if labID != "" {
		var err error
		if k, err = s.ReadLab(labID); err != nil {
			return nil, err
		}
	}
	spec.ID = labID
	if target != nil {
		var err error
		if spec.Target, err = target(k); err != nil {
			return nil, err
		}
	}
	node, err := experiment.JoinCluster(ctx, jo)
	if err != nil {
		return nil, err
	}
	defer func() { node.Leave(); node.Shutdown() }()
	sess, err := experiment.StartSession(ctx, node, spec)
	if err != nil {
		return nil, err
	}
	rec := &Record{Session: *sess, Lab: k, Cluster: Cluster{Join: jo.Join, KeyFile: abs(jo.KeyFile), SigningKeyFile: abs(jo.SigningKeyFile),
		Bind: jo.Bind, Advertise: jo.Advertise}}
	if err := s.Save(rec); err != nil {
		_ = sess.Stop(ctx, node)
		return nil, err
	}
	return rec, nil
}

// abs makes a key path absolute, so later commands find it from any
// directory ("" stays "").
func abs(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// Describe says in one line what the session connected, for `session
// start`.
func (r *Record) Describe() string {
	s := r.Session
	ends := s.ExpiresAt.Format(time.TimeOnly)
	if t := s.Target; t != nil {
		what := cmp.Or(t.Version, t.Process, "the service")
		return fmt.Sprintf("session %s: %s on %s:%d (%s %s) applies keepalive %s; %s (%s) connected from %s; the agents drop it at %s",
			r.ID, what, s.Server.Name, t.Port, s.Server.OS, s.Server.OSVersion, s.Settings.Short(), s.Client.Name, s.Client.OS, s.ClientEnd, ends)
	}
	return fmt.Sprintf("session %s: %s (%s %s) serves keepalive %s (%s), %s (%s) connected from %s; the agents drop it at %s",
		r.ID, s.Server.Name, s.Server.OS, s.Server.OSVersion, s.Settings.Short(), s.Mode, s.Client.Name, s.Client.OS, s.ClientEnd, ends)
}
