package e2e

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/labsvc"
	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/session"
	"github.com/kalab-dev/kalab/internal/wire"
)

// TestSessionTargetInLab: a session whose server is Debian's redis-server
// (tcp-keepalive 2, so 2s/1s/3 on its socket), started by the session's
// lab: the timeline comes from the agent observing redis's socket — its
// options, probes and the keepalive timeout — and a pause
// healed in time leaves redis answering PING on the same connection.
func TestSessionTargetInLab(t *testing.T) {
	s := newSessions(t)
	if err := labsvc.Installed(labsvc.Redis); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v (CI installs it: .ci/run)", err)
		}
		t.Skipf("skipping: %v", err)
	}
	defer s.done()
	id := strings.TrimSpace(s.run("session", "start", "--lab", "--target", "redis", "--idle", "2s", "--ttl", "3m"))
	s.adopt(id)
	w, out := s.watch(id, true)
	time.Sleep(1500 * time.Millisecond)
	s.run("fault", "pause", "--session", id)
	time.Sleep(time.Second)
	if got := s.run("fault", "heal", "--session", id); !strings.Contains(got, "the service answered the hello again") {
		t.Errorf("fault heal said %q", got)
	}
	time.Sleep(2500 * time.Millisecond) // an answered probe after the heal: probes cycle again
	s.run("fault", "drop", "--session", id)
	if err := s.wait(w, 40*time.Second); err != nil {
		t.Fatalf("watch: %v\n%s", err, out)
	}
	t.Logf("watch --json:\n%s", out)
	// In the order they happened (an event fetched after a lost push
	// prints late, with its own time).
	lines := parseWatch(t, out.Bytes())
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].T < lines[j].T })
	order := []string{wire.EventOptions, wire.EventFault, wire.EventHeal, wire.EventFault, session.KindModel, wire.EventProbe, wire.EventDetection}
	next := 0
	var kinds []string
	var detection *watchLine
	for i, l := range lines {
		kinds = append(kinds, l.Kind)
		if next < len(order) && l.Kind == order[next] {
			next++
		}
		if l.Kind == wire.EventDetection {
			detection = &lines[i]
		}
	}
	if next < len(order) {
		t.Errorf("event kinds %v: want %v in this order", kinds, order)
	}
	if detection == nil || detection.Errno != "ETIMEDOUT" {
		t.Fatalf("no keepalive timeout of redis's socket: %+v", detection)
	}
	res := filepath.Join(filepath.Dir(s.bin), "target.jsonl")
	s.run("session", "save", id, "-o", res)
	rs, err := results.Read(res)
	if err != nil || len(rs) != 1 || rs[0].Target == nil || rs[0].Target.Product != "redis" || rs[0].Outcome != results.OutcomePass {
		t.Fatalf("saved: %+v %v", rs, err)
	}
	if eff, ok := rs[0].Effective.Settings(); !ok || eff.Short() != "2s/1s/3" {
		t.Errorf("redis's socket read back %s (%v), want 2s/1s/3", eff.Short(), ok)
	}
}
