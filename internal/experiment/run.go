package experiment

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/report"
	"github.com/kalab-dev/kalab/internal/results"
)

// ResultsFile is the name of the results file in an output directory.
const ResultsFile = "results.jsonl"

// RunOptions say where an experiment runs and where its files go.
type RunOptions struct {
	// Config is the loaded experiment.
	Config *Config
	// Out is the output directory: results.jsonl (appended), the report
	// files, and the coordinator's log when it logs to a file.
	Out string
	// Join says how the coordinator joins the cluster.
	Join JoinOptions
	// Lab marks results as measured in the netns lab.
	Lab bool
	// LabService is the service the lab started for the experiment's
	// [target] (nil otherwise): its product, version and configuration
	// go into every result.
	LabService *LabService
	// Resume continues the latest execution of the same experiment file
	// that results.jsonl holds (see FindResumable) instead of starting a
	// new one: only its planned runs without a record, or whose record is
	// interrupted, run again, under their old ids.
	Resume bool
	// Progress is told when runs start and end (nil: silent).
	Progress Progress
	// Log receives what the executor and serf say (nil: discarded).
	Log *slog.Logger
	// Node, when set, is a coordinator node that already joined the
	// cluster: Run uses it instead of joining (and leaves it joined), so a
	// benchmark can run several executions and ask the agents between
	// them. Join is then ignored.
	Node *cluster.Node
	// Stagger spreads the runs' starts: run i starts no earlier than
	// i × Stagger after the first (0: as soon as Parallel allows), so
	// that many parallel runs do not silence their clients at one
	// instant.
	Stagger time.Duration
	// Notes receives what a person should read before the runs: a torn
	// line repaired, what --resume continues, whom the join waits for
	// (nil: discarded).
	Notes io.Writer
}

// Summary is what one execution of an experiment produced.
type Summary struct {
	// Results are this execution's runs, sorted by id (on --resume only
	// the runs carried out now).
	Results []results.Result
	// Counts are runs per outcome.
	Counts map[string]int
	// Planned is how many runs this execution set out to carry out;
	// NotStarted how many of them never started (Ctrl-C came first).
	Planned, NotStarted int
	// Execution is the execution's nonce (results.Result.Execution);
	// Earlier is how many of its planned runs an interrupted execution had
	// already recorded (0 without --resume).
	Execution string
	Earlier   int
	// Interrupted: Ctrl-C stopped the experiment before every planned run
	// ended; `experiment run --resume` finishes it.
	Interrupted bool
	// ResultsPath is the results file (holding earlier executions too);
	// ReportDir is where the report files were written.
	ResultsPath, ReportDir string
}

// ExitCode is the coordinator's exit status for a finished experiment: 0
// when every run was carried out (deviations are findings, not errors), 3
// when some run failed, 130 (as for SIGINT) when the experiment was
// interrupted, whatever the runs that ended.
func (s Summary) ExitCode() int {
	switch {
	case s.Interrupted:
		return 130
	case s.Counts[results.OutcomeFailed] > 0:
		return 3
	}
	return 0
}

// String is the closing tally and where the files are.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d runs: %d pass, %d deviation, %d unconfirmed, %d failed", len(s.Results),
		s.Counts[results.OutcomePass], s.Counts[results.OutcomeDeviation], s.Counts[results.OutcomeUnconfirmed], s.Counts[results.OutcomeFailed])
	if n := s.Counts[results.OutcomeInterrupted]; n > 0 {
		fmt.Fprintf(&b, ", %d interrupted", n)
	}
	if n := s.Counts[results.OutcomeSkipped]; n > 0 {
		fmt.Fprintf(&b, ", %d skipped (they would outlast max_run)", n)
	}
	if s.Earlier > 0 {
		fmt.Fprintf(&b, " (resumed execution %s: %s already recorded)", s.Execution, nRuns(s.Earlier))
	}
	b.WriteString("\n")
	if s.Interrupted {
		fmt.Fprintf(&b, "interrupted: %d of %s cut short, %d not started; run the same command with --resume to finish them\n",
			s.Counts[results.OutcomeInterrupted], nRuns(s.Planned), s.NotStarted)
	}
	fmt.Fprintf(&b, "results: %s\nreport:  %s (also %s)\n", s.ResultsPath, filepath.Join(s.ReportDir, report.Files[0]),
		strings.Join(report.Files[1:], ", "))
	return b.String()
}

// nRuns is "1 run" or "n runs".
func nRuns(n int) string {
	if n == 1 {
		return "1 run"
	}
	return fmt.Sprintf("%d runs", n)
}

// ExperimentHash identifies an experiment file's exact content: the
// first 12 hex digits of the SHA-256 of its bytes
// (results.Result.ExperimentHash).
func ExperimentHash(c *Config) string {
	sum := sha256.Sum256(c.src)
	return fmt.Sprintf("%x", sum[:6])
}

// Resumable is the execution `experiment run --resume` continues.
type Resumable struct {
	// Execution is its nonce; Hash the experiment file's (ExperimentHash).
	Execution, Hash string
	// Records are every line of the results file.
	Records []results.Result
	// Warnings are the file's torn last line, if any (results.ReadFile).
	Warnings []string
}

// FindResumable finds in the results file at path the latest execution
// (the last line's) of c's exact file content. No such execution is an
// error that says why and what to do.
func FindResumable(path string, c *Config) (Resumable, error) {
	rp := Resumable{Hash: ExperimentHash(c)}
	recs, warns, err := results.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return rp, fmt.Errorf("--resume: %s does not exist, so there is nothing to resume; run without --resume to start the experiment, or give -o the output directory of the interrupted run", path)
	}
	if err != nil {
		return rp, err
	}
	rp.Records, rp.Warnings = recs, warns
	var others []string
	for _, r := range slices.Backward(recs) {
		if r.Experiment != c.Name {
			continue
		}
		if r.ExperimentHash == rp.Hash && r.Execution != "" {
			rp.Execution = r.Execution
			return rp, nil
		}
		if h := cmp.Or(r.ExperimentHash, "none recorded"); !slices.Contains(others, h) {
			others = append(others, h)
		}
	}
	if len(others) == 0 {
		return rp, fmt.Errorf("--resume: %s has no run of experiment %q; run without --resume to start it, or give -o the output directory of the interrupted run", path, c.Name)
	}
	return rp, fmt.Errorf("--resume: %s has runs of %q, but none planned from this content of %s (sha256 %s; the runs have %s): the file changed since, or the runs predate --resume. Restore the file, or run without --resume to start a new execution",
		path, c.Name, c.path, rp.Hash, strings.Join(others, ", "))
}

// resumeDecision is what a resumed execution does with its plan.
type resumeDecision struct {
	// run are the planned ids to carry out: no record, or only
	// interrupted ones.
	run map[string]bool
	// drop are the ids whose interrupted lines are removed from the
	// results file before they run again (or because a finished record
	// exists beside them), so each planned run ends up recorded once.
	drop map[string]bool
	// done are the planned runs with a finished record; interrupted and
	// missing split the others.
	done, interrupted, missing int
}

// decideResume compares the planned run ids with the records.
func decideResume(planned []string, recs []results.Result) resumeDecision {
	finished, cut := map[string]bool{}, map[string]bool{}
	for _, r := range recs {
		if r.Outcome == results.OutcomeInterrupted {
			cut[r.Run] = true
		} else {
			finished[r.Run] = true
		}
	}
	d := resumeDecision{run: map[string]bool{}, drop: map[string]bool{}}
	for _, id := range planned {
		if cut[id] {
			d.drop[id] = true
		}
		switch {
		case finished[id]:
			d.done++
		case cut[id]:
			d.interrupted++
			d.run[id] = true
		default:
			d.missing++
			d.run[id] = true
		}
	}
	return d
}

// Run carries out an experiment: it opens the results file, joins the
// cluster, executes every run (each result fsynced as it ends), and writes
// the report over everything the results file holds. A run that fails is
// recorded and counted, not returned as an error; the error is for what
// stopped the experiment itself (no cluster, no agents). Ctrl-C is not an
// error once runs began: Summary.Interrupted says so.
//
// With o.Resume it continues the interrupted execution instead
// (FindResumable, decideResume): the interrupted lines of the runs to redo
// are removed from the results file first (atomically), then only those
// runs and the never-started ones run, under their old ids.
func Run(ctx context.Context, o RunOptions) (Summary, error) {
	s := Summary{Counts: map[string]int{}, ResultsPath: filepath.Join(o.Out, ResultsFile), ReportDir: o.Out}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Notes == nil {
		o.Notes = io.Discard
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return s, fmt.Errorf("output directory: %w", err)
	}
	ex := &Executor{Config: o.Config, Lab: o.Lab, LabService: o.LabService, Progress: o.Progress, Log: o.Log, Hash: ExperimentHash(o.Config)}
	var rp Resumable
	if o.Resume {
		var err error
		if rp, err = FindResumable(s.ResultsPath, o.Config); err != nil {
			return s, err
		}
		note(o.Notes, rp.Warnings)
		ex.Execution = rp.Execution
	} else {
		store, err := openStore(s.ResultsPath, o.Notes)
		if err != nil {
			return s, err
		}
		defer store.Close()
		ex.Store = store
	}
	join := o.Join
	join.Log = o.Log
	if join.Status == nil {
		join.Status = o.Notes
	}
	node := o.Node
	if node == nil {
		var err error
		if node, err = JoinCluster(ctx, join); err != nil {
			return s, err
		}
		defer func() { node.Leave(); node.Shutdown() }()
	}
	ex.Node, ex.Stagger = node, o.Stagger
	runs, err := ex.plan(ctx)
	if err != nil {
		return s, err
	}
	s.Execution = ex.Execution
	if o.Resume {
		if runs, err = resume(&s, o, rp, runs); err != nil {
			return s, err
		}
		store, err := openStore(s.ResultsPath, o.Notes)
		if err != nil {
			return s, err
		}
		defer store.Close()
		ex.Store = store
	}
	s.Planned = len(runs)
	var runErr error
	if len(runs) > 0 {
		s.Results, s.NotStarted, runErr = ex.runPlanned(ctx, runs)
	}
	for _, r := range s.Results {
		s.Counts[r.Outcome]++
	}
	s.Interrupted = ctx.Err() != nil && (s.NotStarted > 0 || s.Counts[results.OutcomeInterrupted] > 0)
	all, warns, err := results.ReadFile(s.ResultsPath)
	if err != nil {
		return s, err
	}
	note(o.Notes, warns)
	if err := report.Write(o.Out, report.Build(all)); err != nil {
		return s, err
	}
	return s, runErr
}

// resume narrows the plan to the runs the interrupted execution did not
// finish, after removing their interrupted lines from the results file.
func resume(s *Summary, o RunOptions, rp Resumable, planned []plannedRun) ([]plannedRun, error) {
	ids := make([]string, len(planned))
	for i, r := range planned {
		ids[i] = r.ID
	}
	d := decideResume(ids, rp.Records)
	s.Earlier = d.done
	if len(d.run) == 0 {
		fmt.Fprintf(o.Notes, "execution %s of %s (file sha256 %s) is complete: all %d planned runs are recorded; writing the report\n",
			rp.Execution, o.Config.Name, rp.Hash, len(planned))
	} else {
		fmt.Fprintf(o.Notes, "resuming execution %s of %s (file sha256 %s): %d of %d planned runs recorded; running %d (%d interrupted, %d never started)\n",
			rp.Execution, o.Config.Name, rp.Hash, d.done, len(planned), len(d.run), d.interrupted, d.missing)
	}
	if len(d.drop) > 0 {
		n, err := results.Rewrite(s.ResultsPath, func(r results.Result) bool {
			return r.Outcome != results.OutcomeInterrupted || !d.drop[r.Run]
		})
		if err != nil {
			return nil, err
		}
		o.Log.Info("resume: removed interrupted lines", "lines", n)
	}
	attempt := newNonce(resumeNonceBytes)
	var todo []plannedRun
	for _, r := range planned {
		if d.run[r.ID] {
			r.Key = r.ID + "-r" + attempt // fresh command ids and agent state (resumeSuffixLen bytes)
			todo = append(todo, r)
		}
	}
	return todo, nil
}

// openStore opens the results file and prints what it repaired.
func openStore(path string, notes io.Writer) (*results.Store, error) {
	store, warns, err := results.OpenStore(path)
	note(notes, warns)
	return store, err
}

func note(w io.Writer, lines []string) {
	for _, l := range lines {
		fmt.Fprintln(w, "warning:", l)
	}
}
