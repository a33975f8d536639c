package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/synthetic"
)

// TestTimelineSplit: above inlineTimelines runs, report.html draws the
// notable runs and a sample per group, and every run's timeline is on its
// group's page in timelines/, which every link reaches; a small report
// written over it removes the pages again.
func TestTimelineSplit(t *testing.T) {
	rs := synthetic.Results(2 * inlineTimelines)
	r := Build(rs)
	r.Generated = generated
	dir := t.TempDir()
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ids := func(page []byte) map[string]bool {
		out := map[string]bool{}
		for _, m := range idAttr.FindAllSubmatch(page, -1) {
			out[string(m[1])] = true
		}
		return out
	}
	page := read("report.html")
	if n := bytes.Count(page, []byte("<article")); n == 0 || n >= len(rs) {
		t.Errorf("report.html draws %d of %d timelines: want a part of them", n, len(rs))
	}
	if bytes.Contains(page, []byte("<th>why / failure</th>")) {
		t.Error("report.html still lists every run")
	}
	pages := map[string]map[string]bool{"report.html": ids(page)}
	for _, g := range r.Groups {
		name := groupFile(g.ID)
		pages[name] = ids(read(name))
	}
	for _, run := range r.Runs {
		if !pages[groupFile(run.Group)][run.Timeline] {
			t.Errorf("run %s: no timeline on %s", run.Run, groupFile(run.Group))
		}
	}
	for _, res := range rs {
		if notable(res) && !pages["report.html"][timelineID(res.Run)] {
			t.Errorf("%s run %s is not drawn in report.html", res.Outcome, res.Run)
		}
	}
	// Every link of every page reaches an id of the page it names.
	for name, own := range pages {
		for _, v := range attrValues(read(name)) {
			file, frag, ok := strings.Cut(v, "#")
			if !ok || strings.HasPrefix(v, "http") {
				continue
			}
			target := own
			if file != "" {
				target = pages[filepath.ToSlash(filepath.Join(filepath.Dir(name), file))]
			}
			if target == nil || (frag != "" && !target[frag]) {
				t.Errorf("%s: link %q has no target", name, v)
			}
		}
	}
	// A small report in the same directory leaves no stale page behind.
	if err := Write(dir, Build(rs[:10])); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, TimelineDir)); !os.IsNotExist(err) {
		t.Errorf("%s after a small report: %v, want it gone", TimelineDir, err)
	}
}

// TestTimelineNoSplit: up to inlineTimelines runs every timeline stays in
// report.html and no page is written.
func TestTimelineNoSplit(t *testing.T) {
	r := Build(synthetic.Results(inlineTimelines))
	if r.timelinePlan().split {
		t.Fatalf("%d runs: split", inlineTimelines)
	}
	html, err := r.HTML()
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(html, []byte("<article")); n != inlineTimelines {
		t.Errorf("%d timelines in report.html, want %d", n, inlineTimelines)
	}
	var notPass int
	for _, res := range r.runs {
		if res.Outcome != results.OutcomePass {
			notPass++
		}
	}
	if notPass == 0 {
		t.Error("synthetic runs without a deviation: the split is not exercised")
	}
}
