package report

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var screenshot = flag.String("screenshot", "", "also save the Chromium screenshot of the cross-OS report.html here")

// chromium is Debian's browser, which CI installs (apt-get install chromium).
const chromium = "/usr/bin/chromium"

func renderHTML(t *testing.T, name string) []byte {
	t.Helper()
	var r *Report
	switch name {
	case "sample":
		r = Build(sampleResults(t))
	case "crossos":
		r = Build(crossOSResults(t))
	case "empty":
		r = Build(nil)
	default:
		t.Fatalf("no results named %q", name)
	}
	r.Generated = generated
	b, err := r.HTML()
	if err != nil {
		t.Fatal(err)
	}
	return b
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
	for _, name := range []string{"sample", "crossos", "empty"} {
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
	for _, name := range []string{"sample", "crossos"} {
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
			var r *Report
			if name == "sample" {
				r = Build(sampleResults(t))
			} else {
				r = Build(crossOSResults(t))
			}
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

// TestHTMLInChromium opens the cross-OS report.html in headless Chromium,
// takes a screenshot and checks that every chart was laid out with a
// non-zero size. The page has no script; a copy gets one that writes each
// chart's getBoundingClientRect size into a data attribute, which
// --dump-dom then shows.
func TestHTMLInChromium(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("skipping: %s not found (apt-get install chromium); report.html is not rendered in a browser", chromium)
	}
	if testing.Short() {
		t.Skip("skipping the browser check in -short mode")
	}
	dir := t.TempDir()
	html := renderHTML(t, "crossos")
	charts := bytes.Count(html, []byte(`<svg class="chart"`))
	if charts < 10 {
		t.Fatalf("only %d charts in report.html", charts)
	}
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, html, 0o644); err != nil {
		t.Fatal(err)
	}
	const measure = `<script>
const s = [...document.querySelectorAll('svg.chart')].map(e => { const r = e.getBoundingClientRect(); return Math.round(r.width) + 'x' + Math.round(r.height); });
document.body.setAttribute('data-chart-sizes', s.join(' '));
</script></body>`
	probe := filepath.Join(dir, "measure.html")
	if err := os.WriteFile(probe, bytes.Replace(html, []byte("</body>"), []byte(measure), 1), 0o644); err != nil {
		t.Fatal(err)
	}

	run := func(args ...string) []byte {
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

	dom := run("--window-size=1400,3000", "--dump-dom", "file://"+probe)
	m := regexp.MustCompile(`data-chart-sizes="([^"]*)"`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("the measuring script did not run; dumped DOM starts:\n%s", tail(string(dom[:min(len(dom), 2000)]), 30))
	}
	sizes := strings.Fields(string(m[1]))
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
	run("--window-size=1400,3000", "--screenshot="+shot, "file://"+page)
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

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
