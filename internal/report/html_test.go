package report

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/results"
)

var screenshot = flag.String("screenshot", "", "also save the Chromium screenshot of the cross-OS report.html here")

// chromium is Debian's browser, which CI installs (apt-get install chromium).
const chromium = "/usr/bin/chromium"

func renderHTML(t *testing.T, name string) []byte {
	t.Helper()
	r := buildNamed(t, name)
	b, err := r.HTML()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// buildNamed builds the report of a named input: the synthetic sample,
// the committed cross-OS results, a lab file of testdata/ (mechanisms,
// blips, targets-redis, …), every targets-*.jsonl at once (targets) or
// nothing.
func buildNamed(t *testing.T, name string) *Report {
	t.Helper()
	var r *Report
	switch name {
	case "sample":
		r = Build(sampleResults(t))
	case "crossos":
		r = Build(crossOSResults(t))
	case "mechanisms", "blips":
		rs, err := results.Read(filepath.Join("testdata", name+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		r = Build(rs)
	case "empty":
		r = Build(nil)
	case "targets":
		r = Build(targetResults(t))
	default:
		rs, err := results.Read(filepath.Join("testdata", name+".jsonl"))
		if err != nil {
			t.Fatalf("no results named %q: %v", name, err)
		}
		r = Build(rs)
	}
	r.Generated = generated
	return r
}

var (
	// attrURL finds src= and href= attribute values (quoted or not).
	attrURL = regexp.MustCompile(`(?i)\b(src|href)\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))`)
	idAttr  = regexp.MustCompile(`\bid="([^"]+)"`)
)

func attrValues(html []byte) []string {
	var out []string
	for _, m := range attrURL.FindAllSubmatch(html, -1) {
		out = append(out, string(m[3])+string(m[4])+string(m[5]))
	}
	return out
}

// TestHTMLSelfContained: report.html opens with no network and no other
// file: no http(s) src or href (plain text may mention URLs) except the
// link to the published measurement it cites, no script, no stylesheet
// link, no CSS import or remote url().
func TestHTMLSelfContained(t *testing.T) {
	for _, name := range []string{"sample", "crossos", "empty", "targets"} {
		t.Run(name, func(t *testing.T) {
			html := renderHTML(t, name)
			for _, v := range attrValues(html) {
				l := strings.ToLower(strings.TrimSpace(v))
				if v == publishedURL {
					continue // a citation the reader may follow; nothing is loaded
				}
				if strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "//") {
					t.Errorf("external reference in a src/href attribute: %q", v)
				}
			}
			lower := bytes.ToLower(html)
			for _, bad := range []string{"<script", "<link", "@import", "url(http", "url(//", "<iframe", "<img"} {
				if bytes.Contains(lower, []byte(bad)) {
					t.Errorf("report.html contains %q", bad)
				}
			}
		})
	}
	// The check itself must catch what it is meant to catch.
	for _, tt := range []struct {
		html string
		want int
	}{
		{`<img src="https://cdn.example/x.png">`, 1},
		{`<a href='http://example.com'>x</a>`, 1},
		{`<a href=https://example.com>x</a>`, 1},
		{`<p>see https://example.com</p><a href="#run-1">x</a>`, 0},
	} {
		n := 0
		for _, v := range attrValues([]byte(tt.html)) {
			if strings.HasPrefix(strings.ToLower(v), "http") {
				n++
			}
		}
		if n != tt.want {
			t.Errorf("%s: %d external references found, want %d", tt.html, n, tt.want)
		}
	}
}

// TestHTMLLinks: every in-page link has a target, every run has a
// timeline, and every run that did not pass is linked from the summary.
func TestHTMLLinks(t *testing.T) {
	for _, name := range []string{"sample", "crossos", "targets"} {
		t.Run(name, func(t *testing.T) {
			html := renderHTML(t, name)
			ids := map[string]int{}
			for _, m := range idAttr.FindAllSubmatch(html, -1) {
				ids[string(m[1])]++
			}
			for id, n := range ids {
				if n > 1 {
					t.Errorf("id %q used %d times", id, n)
				}
			}
			for _, v := range attrValues(html) {
				if frag, ok := strings.CutPrefix(v, "#"); ok && ids[frag] == 0 {
					t.Errorf("link %q has no target", v)
				}
			}
			r := buildNamed(t, name)
			summary := html[:bytes.Index(html, []byte(`id="charts"`))]
			for _, run := range r.Runs {
				if ids[run.Timeline] == 0 {
					t.Errorf("run %s has no timeline (#%s)", run.Run, run.Timeline)
				}
				if run.Outcome != "pass" && !bytes.Contains(summary, []byte(`href="#`+run.Timeline+`"`)) {
					t.Errorf("run %s (%s) is not linked from the summary", run.Run, run.Outcome)
				}
			}
		})
	}
}

// chromiumRun runs headless Chromium with args and returns its stdout.
func chromiumRun(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	profile, err := os.MkdirTemp(dir, "profile-")
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir=" + profile}
	cmd := exec.CommandContext(ctx, chromium, append(base, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, tail(stderr.String(), 20))
	}
	return out
}

// needChromium skips a test without the browser or in -short mode.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("skipping: %s not found (apt-get install chromium); report.html is not rendered in a browser", chromium)
	}
	if testing.Short() {
		t.Skip("skipping the browser check in -short mode")
	}
}

// measureScript is put before </body> of a copy of report.html: the page
// has no script of its own, so this one writes what the test checks into
// data attributes of <body> (of the page framing it, if any: framed),
// which --dump-dom then shows. data-chart-sizes:
// each chart's laid-out size; data-scroll-width and data-inner-width: the
// page's scroll width and the window's; data-wide: the elements that
// stick out of the window outside any box of their own that scrolls;
// data-first-section and data-answer: the first section's id and text.
const measureScript = `<script>
const s = [...document.querySelectorAll('svg.chart')].map(e => { const r = e.getBoundingClientRect(); return Math.round(r.width) + 'x' + Math.round(r.height); });
const b = document.body, out = window.parent !== window ? parent.document.body : b;
out.setAttribute('data-chart-sizes', s.join(' '));
out.setAttribute('data-scroll-width', document.documentElement.scrollWidth);
out.setAttribute('data-inner-width', window.innerWidth);
const clipped = e => { for (let p = e.parentElement; p && p !== b; p = p.parentElement) { if (getComputedStyle(p).overflowX !== 'visible') return true; } return false; };
const wide = [...b.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5 && !clipped(e));
out.setAttribute('data-wide', wide.slice(0, 8).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && e.className.baseVal === undefined ? '.' + e.className : '') + '=' + Math.round(e.getBoundingClientRect().right)).join(' '));
const first = document.querySelector('main section');
out.setAttribute('data-first-section', first ? first.id : '');
out.setAttribute('data-answer', first ? first.innerText : '');
</script></body>`

// framed puts a page into an iframe exactly width CSS px wide (its
// srcdoc, which shares the framing page's origin, so its script can write
// there): headless Chromium keeps a window at least 500 px wide, so a
// phone's 390 px needs a frame.
func framed(page []byte, width int) []byte {
	return fmt.Appendf(nil, `<!DOCTYPE html><html><body style="margin:0"><iframe style="border:0;display:block" width="%d" height="3000" srcdoc="%s"></iframe></body></html>`,
		width, html.EscapeString(string(page)))
}

// domAttr returns an attribute of the dumped <body>, unescaped.
func domAttr(t *testing.T, dom []byte, name string) string {
	t.Helper()
	m := regexp.MustCompile(name + `="([^"]*)"`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("the measuring script did not set %s; dumped DOM starts:\n%s", name, tail(string(dom[:min(len(dom), 2000)]), 30))
	}
	return html.UnescapeString(string(m[1]))
}

// TestHTMLInChromium opens the cross-OS report.html in headless Chromium,
// takes a screenshot and checks that every chart was laid out with a
// non-zero size. The page has no script; a copy gets one that writes each
// chart's getBoundingClientRect size into a data attribute, which
// --dump-dom then shows.
func TestHTMLInChromium(t *testing.T) {
	needChromium(t)
	dir := t.TempDir()
	page := renderHTML(t, "crossos")
	charts := bytes.Count(page, []byte(`<svg class="chart"`))
	if charts < 10 {
		t.Fatalf("only %d charts in report.html", charts)
	}
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, page, 0o644); err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(dir, "measure.html")
	if err := os.WriteFile(probe, bytes.Replace(page, []byte("</body>"), []byte(measureScript), 1), 0o644); err != nil {
		t.Fatal(err)
	}

	dom := chromiumRun(t, dir, "--window-size=1400,3000", "--dump-dom", "file://"+probe)
	sizes := strings.Fields(domAttr(t, dom, "data-chart-sizes"))
	if len(sizes) != charts {
		t.Errorf("Chromium laid out %d charts, report.html has %d", len(sizes), charts)
	}
	for i, s := range sizes {
		w, h, _ := strings.Cut(s, "x")
		wi, _ := strconv.Atoi(w)
		hi, _ := strconv.Atoi(h)
		if wi < 100 || hi < 50 {
			t.Errorf("chart %d rendered %s px: too small to read", i, s)
		}
	}

	shot := filepath.Join(dir, "report.png")
	chromiumRun(t, dir, "--window-size=1400,3000", "--screenshot="+shot, "file://"+file)
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 50_000 {
		t.Errorf("screenshot is not a plausible PNG of the page (%d bytes)", len(png))
	}
	if *screenshot != "" {
		if err := os.WriteFile(*screenshot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d charts rendered with non-zero size; screenshot %s (%d bytes)", len(sizes), shot, len(png))
}

// detectionWords are what an answer says about detection: every
// sentence of the first section has one.
var detectionWords = []string{"the server noticed", "the server did not notice", "was survived", "was noticed",
	"went unnoticed", "were skipped", ": no answer for", ") dropped", ") did not drop", ") kept", ") noticed", ") did not notice",
	") was not bracketed"}

// TestHTMLNarrowInChromium renders report.html of the cross-OS, the
// mechanisms and the services' (targets) results at a desktop's and a phone's width (390 px): at
// both, the page opens with the answer, which holds a detection answer
// for every group; at 390 px nothing makes the page scroll sideways
// (tables and charts scroll inside their own boxes).
func TestHTMLNarrowInChromium(t *testing.T) {
	needChromium(t)
	for _, name := range []string{"crossos", "mechanisms", "targets"} {
		r := buildNamed(t, name)
		page, err := r.HTML()
		if err != nil {
			t.Fatal(err)
		}
		for _, width := range []int{1400, 390} {
			t.Run(fmt.Sprintf("%s/%d", name, width), func(t *testing.T) {
				dir := t.TempDir()
				probe := filepath.Join(dir, "measure.html")
				measured := bytes.Replace(page, []byte("</body>"), []byte(measureScript), 1)
				if err := os.WriteFile(probe, framed(measured, width), 0o644); err != nil {
					t.Fatal(err)
				}
				dom := chromiumRun(t, dir, fmt.Sprintf("--window-size=%d,3000", width), "--dump-dom", "file://"+probe)
				sw, _ := strconv.Atoi(domAttr(t, dom, "data-scroll-width"))
				iw, _ := strconv.Atoi(domAttr(t, dom, "data-inner-width"))
				if iw != width {
					t.Fatalf("window.innerWidth = %d in a frame %d px wide", iw, width)
				}
				if width == 390 && sw > iw {
					t.Errorf("the page scrolls sideways: scrollWidth %d > innerWidth %d; sticking out: %s", sw, iw, domAttr(t, dom, "data-wide"))
				}
				if first := domAttr(t, dom, "data-first-section"); first != "answer" {
					t.Errorf("the first section is %q, want the answer", first)
				}
				text := strings.Join(strings.Fields(domAttr(t, dom, "data-answer")), " ")
				for _, a := range r.Answers {
					if !strings.Contains(text, strings.Join(strings.Fields(a.Text), " ")) {
						t.Errorf("the first section lacks the answer of %s: %q", a.Group, a.Text)
					}
					if !slices.ContainsFunc(detectionWords, func(w string) bool { return strings.Contains(a.Text, w) }) {
						t.Errorf("the answer of %s says nothing about detection: %q", a.Group, a.Text)
					}
				}
				if len(r.Answers) != len(r.Groups) {
					t.Errorf("%d answers for %d groups", len(r.Answers), len(r.Groups))
				}
			})
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
