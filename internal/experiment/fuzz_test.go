package experiment

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/kalab-dev/kalab/internal/fault"
)

// errorShape is the one-line form every Parse error has.
var errorShape = regexp.MustCompile(`^fuzz\.toml:([1-9][0-9]*): [^\n]+: allowed [^\n]+; fix: [^\n]+$`)

// FuzzParse: Parse never panics; it refuses with exactly one error of the
// documented form, the same one every time; and what it accepts is in
// range, plans within the agents' TTL cap, and survives a round trip
// through the TOML encoder unchanged.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob("../../configs/*.toml")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		base,
		strings.Replace(base, `os = "linux"`, `os = "linux|windows|darwin"`, 1) + "[[faults]]\nkind = \"kill\"\n",
		"max_run = \"5h59m\"\nsettle = \"1h\"\nmargin = \"0s\"\n" + base,
		strings.Replace(base, "[client]\nselect = { os = \"linux\" }", "[client.select]\nos = \"plan9\"", 1),
		strings.Replace(base, `name = "t"`, `name = "../x"`, 1),
		strings.Replace(base, "count = 3", "count = \"3\"", 1),
		"a.b.c = { d = [1, [2, {e = 3}]] }\n" + base,
		"name = '''\nx'''\n[[settings]]\n[[faults]]\n",
		"\"name\" = \"t\" # comment\n\xff",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			select {
			case <-stop:
			case <-time.After(10 * time.Second):
				panic(fmt.Sprintf("FuzzParse: no answer after 10s for %q", src))
			}
		}()
		t0 := time.Now()
		c, err := Parse("fuzz.toml", src)
		if d := time.Since(t0); d > 2*time.Second {
			t.Fatalf("Parse of %d bytes took %s", len(src), d)
		}
		c2, err2 := Parse("fuzz.toml", src)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("two parses differ: %v / %v", err, err2)
		}
		if err != nil {
			m := errorShape.FindStringSubmatch(err.Error())
			if m == nil {
				t.Fatalf("error not of the form file:line: what: allowed …; fix: …: %q", err)
			}
			if line, _ := strconv.Atoi(m[1]); line > bytes.Count(src, []byte("\n"))+1 {
				t.Fatalf("error names line %d of a %d-line file: %q", line, bytes.Count(src, []byte("\n"))+1, err)
			}
			if _, ok := err.(interface{ Unwrap() []error }); ok {
				t.Fatalf("several errors: %q", err)
			}
			return
		}
		checkAccepted(t, c)
		if !reflect.DeepEqual(exported(c), exported(c2)) {
			t.Fatalf("two parses differ: %+v / %+v", c, c2)
		}
		var buf bytes.Buffer
		if err := toml.NewEncoder(&buf).Encode(exported(c)); err != nil {
			t.Fatalf("encode accepted config: %v", err)
		}
		back, err := Parse("fuzz.toml", buf.Bytes())
		if err != nil {
			t.Fatalf("re-encoded config refused: %v\n%s", err, buf.Bytes())
		}
		if !reflect.DeepEqual(exported(c), exported(back)) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v\n%s", exported(c), exported(back), buf.Bytes())
		}
	})
}

// exported is c without where it came from, with empty selections as nil.
func exported(c *Config) Config {
	e := *c
	e.path, e.src = "", nil
	for _, s := range []*Side{&e.Server, &e.Client} {
		if len(s.Select) == 0 {
			s.Select = nil
		}
	}
	return e
}

// checkAccepted asserts what validation promises about an accepted config.
func checkAccepted(t *testing.T, c *Config) {
	t.Helper()
	if !validName(c.Name) || strings.ContainsAny(c.Name, "/\\") {
		t.Fatalf("accepted name %q", c.Name)
	}
	switch {
	case c.Repetitions < 1 || c.Repetitions > 100, c.Parallel < 1 || c.Parallel > 64,
		c.MaxRun < time.Second || c.MaxRun > MaxRunLimit, c.Settle < 0 || c.Settle > time.Hour, c.Margin < 0 || c.Margin > time.Hour,
		len(c.Settings) < 1 || len(c.Settings) > maxSettings, len(c.Faults) < 1 || len(c.Faults) > maxFaults:
		t.Fatalf("accepted out of range: %+v", c)
	}
	for _, s := range []Side{c.Server, c.Client} {
		for tag, expr := range s.Select {
			if !slices.Contains(selectTags, tag) || expr == "" {
				t.Fatalf("accepted select %s = %q", tag, expr)
			}
		}
		if oses, err := s.SelectedOSes(); err != nil || len(oses) == 0 {
			t.Fatalf("accepted select %v: %v %v", s.Select, oses, err)
		}
	}
	cells, err := c.Cells()
	if err != nil {
		return // refused at plan time (predicted run over max_run), with its reason
	}
	for _, cl := range cells {
		if cl.Skip != "" {
			continue // never sent to an agent
		}
		// What the executor asks the agents for (executor.go).
		role, flt := cl.Settle+cl.Observe+time.Minute, cl.Observe+30*time.Second
		if role > fault.MaxTTL || flt > fault.MaxTTL || cl.Longest > c.MaxRun {
			t.Fatalf("cell %+v: role TTL %s, fault TTL %s over the agents' %s", cl, role, flt, fault.MaxTTL)
		}
	}
}
