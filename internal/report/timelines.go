package report

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/kalab-dev/kalab/internal/results"
)

// A report of at most inlineTimelines runs draws every run's timeline in
// report.html and lists every run there, as it always did. A larger one
// would make a page no browser opens comfortably (10,000 runs: 45 MB), so
// report.html then draws the notable runs (notable: at most maxNotable per
// group) and a sample of the others (1 to maxSample per group, within the
// same budget), replaces the run table by one row per group, and writes
// every group's timelines and runs to its own page in TimelineDir, linked
// from report.html. Each page is self-contained like report.html.
const (
	inlineTimelines = 400
	maxSample       = 3
	maxNotable      = 25
)

// TimelineDir is the directory, next to report.html, of a large report's
// group pages (TimelineDir/G1.html, …); Write removes its pages when the
// report is small enough to draw everything in report.html.
const TimelineDir = "timelines"

// timelinePlan says where each run's timeline is drawn.
type timelinePlan struct {
	// split: report.html draws only the runs in inline; every run's
	// timeline is in its group's page, group[run] names it.
	split  bool
	inline map[string]bool
	group  map[string]string
	sample int
}

// notable says whether a run's timeline is linked from the summary table:
// it did not pass, the data shows it outside the model, or its OS did not
// apply the options (the same runs as report.md's Deviations, plus skipped
// runs, whose timeline card says why they were not run).
func notable(r results.Result) bool {
	d := deviation(r)
	status, _ := compareEffective(r.Requested, r.Scenario, r.Effective)
	return r.Outcome != results.OutcomePass || (d != nil && (d.Verdict == VsEarly || d.Verdict == VsLate)) ||
		status == EffectiveDiffers
}

// timelinePlan decides, once per report, which timelines report.html draws.
func (r *Report) timelinePlan() *timelinePlan {
	if r.plan != nil {
		return r.plan
	}
	p := &timelinePlan{}
	r.plan = p
	if len(r.runs) <= inlineTimelines || len(r.Groups) == 0 {
		return p
	}
	p.split, p.inline, p.group = true, map[string]bool{}, map[string]string{}
	kept := 0
	for i := range r.Groups {
		n := 0
		for _, res := range r.Groups[i].members {
			p.group[res.Run] = r.Groups[i].ID
			if n < maxNotable && notable(res) {
				p.inline[res.Run] = true
				n++
			}
		}
		kept += n
	}
	p.sample = min(maxSample, max(1, (inlineTimelines-kept)/len(r.Groups)))
	for i := range r.Groups {
		n := 0
		for _, res := range r.Groups[i].members {
			if n < p.sample && !p.inline[res.Run] {
				p.inline[res.Run] = true
				n++
			}
		}
	}
	return p
}

// inlineOnly keeps the runs report.html draws; nil when it draws all.
func (p *timelinePlan) inlineOnly() func(string) bool {
	if !p.split {
		return nil
	}
	return func(run string) bool { return p.inline[run] }
}

// href links a run's timeline from report.html.
func (p *timelinePlan) href(run string) string {
	if !p.split || p.inline[run] {
		return "#" + timelineID(run)
	}
	return groupFile(p.group[run]) + "#" + timelineID(run)
}

// note says, above report.html's timelines, which ones it draws.
func (p *timelinePlan) note(runs int) string {
	return fmt.Sprintf("%s: too many to draw here. Each group shows the runs that did not pass or lie outside the model (up to %d) and %s; every run's timeline is on its group's page (%s/G….html, linked under each group), and every run is in runs.csv.",
		plural(runs, "run"), maxNotable, plural(p.sample, "other run"), TimelineDir)
}

// groupFile is the path of a group's page, relative to report.html.
func groupFile(id string) string { return TimelineDir + "/" + id + ".html" }

// runGroupRow is a large report's run-table row: one group, with a link
// to the page listing its runs.
type runGroupRow struct {
	summaryRow
	File string
}

// groupPage is everything group.tmpl shows.
type groupPage struct {
	Title, Meta, Fixtures string
	Group                 timelineGroup
	Runs                  []runView
}

// writeGroupPages writes a large report's group pages into dir/TimelineDir
// one at a time (each is rendered, then written atomically) and removes
// pages a previous report left there; a small report writes none and
// removes them all.
func (r *Report) writeGroupPages(dir string) error {
	p := r.timelinePlan()
	tdir := filepath.Join(dir, TimelineDir)
	written := map[string]bool{}
	if p.split {
		if err := os.MkdirAll(tdir, 0o755); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		runsOf := map[string][]int{}
		for i, run := range r.Runs {
			runsOf[run.Group] = append(runsOf[run.Group], i)
		}
		if err := r.renderGroupPages(tdir, runsOf); err != nil {
			return err
		}
		for _, g := range r.Groups {
			written[g.ID+".html"] = true
		}
	}
	es, err := os.ReadDir(tdir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	for _, e := range es {
		// Only the pages a report writes: G<number>.html.
		if n := e.Name(); !written[n] && strings.HasPrefix(n, "G") && strings.HasSuffix(n, ".html") && !e.IsDir() {
			if err := os.Remove(filepath.Join(tdir, n)); err != nil {
				return fmt.Errorf("write report: %w", err)
			}
		}
	}
	if !p.split {
		os.Remove(tdir) // only if empty: it may hold files of the reader's
	}
	return nil
}

// renderGroupPages renders and writes every group's page, on as many
// goroutines as there are CPUs: drawing 10,000 timelines is most of a
// large report's time. Each worker holds one page at a time.
func (r *Report) renderGroupPages(tdir string, runsOf map[string][]int) error {
	next := make(chan *Group)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(r.Groups)) {
		wg.Go(func() {
			var b bytes.Buffer
			for g := range next {
				err := r.writeGroupPage(&b, g, runsOf[g.ID], filepath.Join(tdir, g.ID+".html"))
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range r.Groups {
		next <- &r.Groups[i]
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// writeGroupPage renders g's page into b and writes it to path.
func (r *Report) writeGroupPage(b *bytes.Buffer, g *Group, rows []int, path string) error {
	page, err := r.groupPage(g, rows)
	if err != nil {
		return err
	}
	b.Reset()
	if err := pageTemplate.ExecuteTemplate(b, "group.html", page); err != nil {
		return fmt.Errorf("render %s: %w", groupFile(g.ID), err)
	}
	return writeFile(path, b.Bytes())
}

// groupPage is the page of group g, whose run rows are r.Runs[rows].
func (r *Report) groupPage(g *Group, rows []int) (*groupPage, error) {
	back := "../report.html#group-" + g.ID
	tg, err := timelineGroupOf(g, back, nil)
	if err != nil {
		return nil, err
	}
	page := &groupPage{Title: "kalab report: " + g.ID + " " + g.Label, Group: tg,
		Meta: fmt.Sprintf("%s of %s · every timeline and run of the group; the rest of the report is in report.html", plural(g.Runs, "run"), g.ID)}
	if g.Source == SourceFixture {
		page.Fixtures = "these runs are fixtures built from the reference model (keepalive.Predict), not measurements."
	}
	for _, i := range rows {
		v := runViewOf(r.Runs[i])
		v.GroupHref = back
		page.Runs = append(page.Runs, v)
	}
	return page, nil
}
