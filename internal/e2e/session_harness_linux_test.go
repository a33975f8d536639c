package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/session"
	"github.com/kalab-dev/kalab/internal/testkit"
)

// sessions drives the real coordinator binary's session commands, as a
// person would, with its own sessions directory; done stops every session
// it started and checks that nothing (lab, keeper, rule) is left.
type sessions struct {
	t       *testing.T
	bin     string
	dir     string
	pids    []int
	started []string
}

func newSessions(t *testing.T) *sessions {
	if os.Geteuid() != 0 {
		t.Skip("skipping: lab sessions need root (run as root, as CI does)")
	}
	if testing.Short() {
		t.Skip("skipping a lab session in -short mode")
	}
	bin := testkit.BuildBinaries(t)
	return &sessions{t: t, bin: bin, dir: filepath.Join(filepath.Dir(bin), "sessions"), pids: []int{os.Getpid()}}
}

func (s *sessions) done() {
	for _, id := range s.started {
		_ = exec.Command(s.bin, "session", "stop", id, "--sessions", s.dir).Run()
	}
	testkit.CheckNothingLeft(s.t, s.bin, &s.pids)
}

// run runs one command and returns its stdout; a failure fails the test.
func (s *sessions) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command(s.bin, append(args, "--sessions", s.dir)...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		s.t.Fatalf("coordinator %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return string(out)
}

// start starts a 1s/1s/3 lab session and returns its id.
func (s *sessions) start() string {
	s.t.Helper()
	id := strings.TrimSpace(s.run("session", "start", "--lab", "--idle", "1s", "--interval", "1s", "--count", "3", "--ttl", "3m"))
	s.adopt(id)
	return id
}

// adopt records a started session, to stop it and check its lab is gone.
func (s *sessions) adopt(id string) {
	s.t.Helper()
	rec, err := session.Store{Dir: s.dir}.Load(id)
	if err != nil {
		s.t.Fatalf("session start printed %q: %v", id, err)
	}
	s.started = append(s.started, id)
	if rec.Lab != nil {
		s.pids = append(s.pids, rec.Lab.KeeperPID)
	}
}

// watch starts `watch id` with --json, or on a 120×40 pseudo-terminal
// (script(1)) as a person sees it, in its own process group.
func (s *sessions) watch(id string, asJSON bool) (*exec.Cmd, *bytes.Buffer) {
	s.t.Helper()
	var out bytes.Buffer
	c := exec.Command(s.bin, "watch", id, "--json", "--sessions", s.dir)
	if !asJSON {
		c = exec.Command("script", "-qfec", "stty cols 120 rows 40; exec "+s.bin+" watch "+id+" --sessions "+s.dir, "/dev/null")
	}
	c.Stdout, c.Stderr = &out, &out
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		s.t.Fatal(err)
	}
	return c, &out
}

// wait waits for a watch; one still running after within is killed and
// fails the test.
func (s *sessions) wait(c *exec.Cmd, within time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		<-done
		s.t.Errorf("watch did not end within %s", within)
		return nil
	}
}
