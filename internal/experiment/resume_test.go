package experiment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/wire"
)

func rec(run, outcome string) results.Result {
	return results.Result{Schema: results.Schema, Experiment: "quick", Run: run, Outcome: outcome}
}

// TestDecideResume: a planned run is carried out again when it has no
// record or only interrupted ones; its interrupted lines are dropped first
// (also when a finished record sits beside one), so each planned run ends
// up recorded once; records of other runs are left alone.
func TestDecideResume(t *testing.T) {
	pass, failed, cut := results.OutcomePass, results.OutcomeFailed, results.OutcomeInterrupted
	tests := []struct {
		name      string
		planned   []string
		recs      []results.Result
		run, drop []string
		done      int
	}{
		{"nothing recorded", []string{"a", "b"}, nil, []string{"a", "b"}, nil, 0},
		{"all finished", []string{"a", "b"}, []results.Result{rec("a", pass), rec("b", failed)}, nil, nil, 2},
		{"interrupted and missing", []string{"a", "b", "c", "d"},
			[]results.Result{rec("a", pass), rec("b", cut), rec("x", cut), rec("y", pass)}, []string{"b", "c", "d"}, []string{"b"}, 1},
		{"interrupted twice", []string{"a"}, []results.Result{rec("a", cut), rec("a", cut)}, []string{"a"}, []string{"a"}, 0},
		{"interrupted beside finished", []string{"a"}, []results.Result{rec("a", cut), rec("a", pass)}, nil, []string{"a"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decideResume(tt.planned, tt.recs)
			if got := keys(d.run); !slices.Equal(got, tt.run) {
				t.Errorf("run %v, want %v", got, tt.run)
			}
			if got := keys(d.drop); !slices.Equal(got, tt.drop) {
				t.Errorf("drop %v, want %v", got, tt.drop)
			}
			if d.done != tt.done || d.done+d.interrupted+d.missing != len(tt.planned) {
				t.Errorf("done %d interrupted %d missing %d, want done %d of %d", d.done, d.interrupted, d.missing, tt.done, len(tt.planned))
			}
			// Applying the decision records each planned run exactly once.
			var after []results.Result
			for _, r := range tt.recs {
				if r.Outcome != cut || !d.drop[r.Run] {
					after = append(after, r)
				}
			}
			for id := range d.run {
				after = append(after, rec(id, pass))
			}
			for _, id := range tt.planned {
				n := 0
				for _, r := range after {
					if r.Run == id {
						n++
					}
				}
				if n != 1 {
					t.Errorf("run %s recorded %d times after the resume", id, n)
				}
			}
		})
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func loadQuick(t *testing.T) *Config {
	t.Helper()
	c, err := Load(filepath.Join("..", "..", "configs", "quick.toml"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFindResumable(t *testing.T) {
	c := loadQuick(t)
	h := ExperimentHash(c)
	if len(h) != 12 {
		t.Fatalf("ExperimentHash = %q, want 12 hex digits", h)
	}
	other := *c
	other.src = append([]byte("# changed\n"), c.src...)
	if ExperimentHash(&other) == h {
		t.Fatal("ExperimentHash ignores the file's content")
	}
	write := func(t *testing.T, rs ...results.Result) string {
		path := filepath.Join(t.TempDir(), ResultsFile)
		s, _, err := results.OpenStore(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, r := range rs {
			if err := s.Append(r); err != nil {
				t.Fatal(err)
			}
		}
		return path
	}
	exec := func(run, hash, execution, outcome string) results.Result {
		r := rec(run, outcome)
		r.ExperimentHash, r.Execution = hash, execution
		return r
	}
	t.Run("latest execution of the same file", func(t *testing.T) {
		path := write(t, exec("1", h, "aaaaaa", results.OutcomePass), exec("2", "0123456789ab", "bbbbbb", results.OutcomePass),
			exec("3", h, "cccccc", results.OutcomeInterrupted), exec("4", "0123456789ab", "dddddd", results.OutcomePass))
		rp, err := FindResumable(path, c)
		if err != nil || rp.Execution != "cccccc" || rp.Hash != h || len(rp.Records) != 4 {
			t.Fatalf("FindResumable = %+v, %v; want execution cccccc", rp, err)
		}
	})
	for _, tt := range []struct {
		name string
		recs []results.Result
		want string
	}{
		{"no file", nil, "does not exist"},
		{"other experiment", []results.Result{{Schema: results.Schema, Experiment: "published", Run: "p", ExperimentHash: h, Execution: "x"}}, `no run of experiment "quick"`},
		{"file changed", []results.Result{exec("1", "0123456789ab", "aaaaaa", results.OutcomePass)}, "the file changed since"},
		{"before --resume", []results.Result{rec("1", results.OutcomePass)}, "none recorded"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ResultsFile)
			if tt.recs != nil {
				path = write(t, tt.recs...)
			}
			_, err := FindResumable(path, c)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "without --resume") {
				t.Errorf("FindResumable: %v, want an error with %q and the fix", err, tt.want)
			}
		})
	}
}

func TestFailure(t *testing.T) {
	re := &restartError{agent: "lab-agent-2"}
	tests := []struct {
		name       string
		err, cause error
		stopped    bool
		outcome    string
		why        string
	}{
		{"command failed", errors.New("boom"), nil, false, results.OutcomeFailed, "collect: boom"},
		{"ctrl-c", context.Canceled, context.Canceled, true, results.OutcomeInterrupted, "experiment stopped during collect"},
		{"restart seen by the command", fmt.Errorf("wrapped: %w", re), nil, false, results.OutcomeFailed, "agent lab-agent-2 restarted (boot id changed)"},
		{"restart seen by the watch", context.Canceled, re, false, results.OutcomeFailed, "agent lab-agent-2 restarted (boot id changed)"},
		{"restart then ctrl-c", context.Canceled, re, true, results.OutcomeFailed, "agent lab-agent-2 restarted (boot id changed)"},
	}
	for _, tt := range tests {
		o, why := failure("collect", tt.err, tt.cause, tt.stopped)
		if o != tt.outcome || why != tt.why {
			t.Errorf("%s: failure = %s, %q; want %s, %q", tt.name, o, why, tt.outcome, tt.why)
		}
	}
}

func TestBootChanged(t *testing.T) {
	for _, tt := range []struct {
		want, now string
		changed   bool
	}{{"a", "a", false}, {"a", "b", true}, {"", "b", false}, {"", "", false}, {"a", "", true}} {
		if got := bootChanged(tt.want, wire.StatusResp{BootID: tt.now}); got != tt.changed {
			t.Errorf("bootChanged(%q, %q) = %v", tt.want, tt.now, got)
		}
	}
}

// fakeAgents answers status with a boot id per agent that the test
// changes, or an error for an agent that does not answer.
type fakeAgents struct {
	boots map[string]*atomic.Value
	calls atomic.Int64
}

func (f *fakeAgents) status(_ context.Context, node, _ string) (wire.StatusResp, error) {
	f.calls.Add(1)
	b := f.boots[node].Load().(string)
	if b == "down" {
		return wire.StatusResp{}, cluster.ErrNoResponse
	}
	return wire.StatusResp{Name: node, BootID: b}, nil
}

func newWatch(t *testing.T, boots map[string]string) (*bootWatch, *fakeAgents, []*agentInfo) {
	f := &fakeAgents{boots: map[string]*atomic.Value{}}
	var agents []*agentInfo
	for _, n := range []string{"srv", "cli"} {
		v := &atomic.Value{}
		v.Store(boots[n])
		f.boots[n] = v
		agents = append(agents, &agentInfo{Member: cluster.Member{Name: n}, boot: boots[n]})
	}
	w := &bootWatch{run: "r", every: 20 * time.Millisecond, status: f.status, agents: agents, want: map[string]string{}, log: discard()}
	w.start(context.Background())
	return w, f, agents
}

// TestBootWatch: a restarted agent fails the run within one check
// interval; an agent that does not answer (a paused VM) does not; the
// watch ends with the run.
func TestBootWatch(t *testing.T) {
	w, f, agents := newWatch(t, map[string]string{"srv": "s1", "cli": "c1"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.loop(ctx) }()
	f.boots["cli"].Store("down")
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("an agent that does not answer ended the watch: %v", err)
	default:
	}
	f.boots["cli"].Store("c2")
	changed := time.Now()
	select {
	case err := <-done:
		var re *restartError
		if !errors.As(err, &re) || re.Error() != "agent cli restarted (boot id changed)" {
			t.Fatalf("watch ended with %v, want cli's restart", err)
		}
		if took := time.Since(changed); took > time.Second {
			t.Errorf("restart noticed after %s", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("restart not noticed within 5 s")
	}
	if agents[1].boot != "c2" || agents[0].boot != "s1" {
		t.Errorf("agents' boot ids now %q, %q; want the restarted agent's new one for later runs", agents[0].boot, agents[1].boot)
	}

	// A watch ends without error when its run does.
	w, _, _ = newWatch(t, map[string]string{"srv": "s1", "cli": "c1"})
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel2() }()
	if err := w.loop(ctx2); err != nil {
		t.Errorf("watch of a finished run: %v", err)
	}
}

// TestBootWatchStart: an agent restarted between the plan and the run
// serves the run with its new process (no failure); check on a failed
// command says whether the agent restarted.
func TestBootWatchStart(t *testing.T) {
	w, f, agents := newWatch(t, map[string]string{"srv": "s1", "cli": "c1"})
	f.boots["srv"].Store("s2")
	w2 := &bootWatch{run: "r2", every: time.Hour, status: f.status, agents: agents, want: map[string]string{}, log: discard()}
	w2.start(context.Background())
	if w2.want["srv"] != "s2" || agents[0].boot != "s2" {
		t.Errorf("a run starting after a restart expects %q (agent %q), want s2", w2.want["srv"], agents[0].boot)
	}
	if err := w2.check(context.Background(), "srv"); err != nil {
		t.Errorf("check of an unchanged agent: %v", err)
	}
	if err := w.check(context.Background(), "srv"); err == nil {
		t.Error("check: the first run's server restarted, no error")
	}
	// Agents too old to report a boot id are never taken for restarted.
	w3, f3, _ := newWatch(t, map[string]string{"srv": "", "cli": ""})
	f3.boots["srv"].Store("new")
	if err := w3.check(context.Background(), "srv"); err != nil {
		t.Errorf("agent without boot id: %v", err)
	}
}

func TestJoinProgress(t *testing.T) {
	p := &joinProgress{expect: 2, addrs: []string{"198.18.0.2:7946", "198.18.0.3:7946"}, failed: map[string]error{}}
	p.failed["198.18.0.2:7946"] = errors.New("connection refused")
	p.failed["198.18.0.3:7946"] = errors.New("i/o timeout")
	if got, want := p.waiting(), "waiting to join the cluster: no answer from 198.18.0.2:7946 (connection refused); no answer from 198.18.0.3:7946 (i/o timeout)"; got != want {
		t.Errorf("waiting =\n%s\nwant\n%s", got, want)
	}
	err := p.timeout(30 * time.Second).Error()
	for _, s := range []string{"could not join the cluster within 30s", "198.18.0.3:7946 (i/o timeout)", "--join", "7946", "7947", "--key-file"} {
		if !strings.Contains(err, s) {
			t.Errorf("timeout error %q lacks %q", err, s)
		}
	}
	delete(p.failed, "198.18.0.2:7946")
	p.joined = []string{"198.18.0.2:7946"}
	p.agents = []cluster.Member{{Name: "lab-agent-1", Addr: "198.18.0.2:7946"}}
	if got, want := p.waiting(), "waiting for 2 agents, 1 alive: lab-agent-1 (198.18.0.2:7946); joined via 198.18.0.2:7946; no answer from 198.18.0.3:7946 (i/o timeout)"; got != want {
		t.Errorf("waiting =\n%s\nwant\n%s", got, want)
	}
	err = p.timeout(30 * time.Second).Error()
	for _, s := range []string{"1 of the 2 expected agents alive after 30s", "lab-agent-1 (198.18.0.2:7946)", "--join", "TCP and UDP 7946", "7947", "--key-file", "--expect-agents"} {
		if !strings.Contains(err, s) {
			t.Errorf("timeout error %q lacks %q", err, s)
		}
	}
	if p.done() {
		t.Error("done with 1 of 2 agents")
	}
	p.agents = append(p.agents, cluster.Member{Name: "lab-agent-2"})
	if !p.done() {
		t.Error("not done with 2 of 2 agents")
	}
}

// TestJoinClusterTimeout: nothing listens at the join address; the join
// retries, says every few seconds what it waits for, and gives up at the
// deadline with the fix.
func TestJoinClusterTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 3 s")
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "gossip.key")
	if err := cluster.WriteKeyFile(key); err != nil {
		t.Fatal(err)
	}
	if err := cluster.WriteSigningKeys(filepath.Join(dir, SigningKeyName), filepath.Join(dir, VerifyKeyName)); err != nil {
		t.Fatal(err)
	}
	var status strings.Builder
	start := time.Now()
	_, err := JoinCluster(context.Background(), JoinOptions{Bind: "127.0.0.1:0", Join: []string{"127.0.0.1:1"}, KeyFile: key,
		ExpectAgents: 1, WaitAgents: 2500 * time.Millisecond, Status: &status})
	if err == nil || !strings.Contains(err.Error(), "could not join the cluster within 2.5s") || !strings.Contains(err.Error(), "--key-file") {
		t.Errorf("JoinCluster: %v", err)
	}
	if took := time.Since(start); took > 6*time.Second {
		t.Errorf("gave up after %s, want about 2.5 s", took)
	}
	if !strings.Contains(status.String(), "waiting to join the cluster: no answer from 127.0.0.1:1") {
		t.Errorf("status lines %q", status.String())
	}
}

func TestSummary(t *testing.T) {
	s := Summary{Counts: map[string]int{results.OutcomePass: 2, results.OutcomeInterrupted: 1}, Planned: 6, NotStarted: 3,
		Interrupted: true, Results: make([]results.Result, 3), ResultsPath: "out/q/results.jsonl", ReportDir: "out/q"}
	str := s.String()
	for _, want := range []string{"3 runs: 2 pass, 0 deviation, 0 unconfirmed, 0 failed, 1 interrupted\n",
		"interrupted: 1 of 6 runs cut short, 3 not started; run the same command with --resume to finish them"} {
		if !strings.Contains(str, want) {
			t.Errorf("Summary.String() =\n%s\nlacks %q", str, want)
		}
	}
	if s.ExitCode() != 130 {
		t.Errorf("interrupted exit code %d, want 130", s.ExitCode())
	}
	s = Summary{Counts: map[string]int{results.OutcomePass: 2, results.OutcomeFailed: 1}, Results: make([]results.Result, 3), Earlier: 3, Execution: "abc123"}
	if str := s.String(); strings.Contains(str, "interrupted") || !strings.Contains(str, "(resumed execution abc123: 3 runs already recorded)") {
		t.Errorf("Summary.String() =\n%s", str)
	}
	if s.ExitCode() != 3 {
		t.Errorf("failed exit code %d, want 3", s.ExitCode())
	}
	if (Summary{Counts: map[string]int{results.OutcomePass: 1}}).ExitCode() != 0 {
		t.Error("pass exit code not 0")
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
