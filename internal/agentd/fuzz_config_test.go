package agentd

import (
	"bytes"
	"errors"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"

	"github.com/BurntSushi/toml"
)

// agentErrorShape is the one-line form of every agent.toml error.
var agentErrorShape = regexp.MustCompile(`^agent\.toml:([1-9][0-9]*): [^\n]+: allowed [^\n]+; fix: [^\n]+$`)

// FuzzAgentConfig: parsing agent.toml never panics; a refusal is one
// *FieldError of the documented form at a line of the file; an accepted
// file survives a round trip through the TOML encoder unchanged, and
// Validate on it either passes or refuses in the same form.
func FuzzAgentConfig(f *testing.F) {
	for _, s := range []string{
		goodAgentConfig,
		goodAgentConfig + "join = [\"192.0.2.20:7946\", \"192.0.2.30:7946\"]\nmax_runs = 8\n[hypervisor]\nvm = \"v\"\npause = [\"virsh\", \"suspend\", \"{vm}\"]\nresume = [\"virsh\", \"resume\", \"{vm}\"]\n",
		"name = 'win-1'\nbind = '0.0.0.0:7946'\nadvertise = '192.0.2.20:7946'\nkey_file = 'C:\\kalab\\kalab.key'\ndata_dir = 'C:\\kalab\\data'\n",
		"hypervisor.vm = \"v\"\nhypervisor = 1\n",
		"colour = \"red\"\n",
		"Name = \"a\"\nname = \"b\"\n[HYPERVISOR]\nvm = \"v\"\n",
		"join = \"x\"\n",
		"max_runs = 99999999999999999999\n",
		"bind = 0.0.0.0:7946\n",
		"[hypervisor]\npause = [[[\"a\"]]]\n",
		"name = \"\"\"\nx\"\"\"\n\xff",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		lines := bytes.Count(src, []byte("\n")) + 1
		check := func(stage string, err error) {
			t.Helper()
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("%s: %T %v, want a *FieldError", stage, err, err)
			}
			m := agentErrorShape.FindStringSubmatch(err.Error())
			if m == nil || fe.File != "agent.toml" || fe.Line > lines {
				t.Fatalf("%s: not file:line: what: allowed …; fix: … within the file's %d lines: %q", stage, lines, err)
			}
		}
		c, err := parseConfig("agent.toml", src)
		if err != nil {
			check("parse", err)
			return
		}
		var buf bytes.Buffer
		if err := toml.NewEncoder(&buf).Encode(c); err != nil {
			t.Fatalf("encode accepted config: %v", err)
		}
		back, err := parseConfig("agent.toml", buf.Bytes())
		if err != nil {
			t.Fatalf("re-encoded config refused: %v\n%s", err, buf.Bytes())
		}
		c.path, c.src, back.path, back.src = "", nil, "", nil
		if !reflect.DeepEqual(normal(c), normal(back)) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v\n%s", c, back, buf.Bytes())
		}
		c.path, c.src = "agent.toml", src
		// Validate reads the files the config names: keep the fuzzer to
		// files of its own, never the host's (a /proc file can block).
		dir := t.TempDir()
		for _, p := range []*string{&c.KeyFile, &c.CoordinatorKey, &c.DataDir} {
			if *p != "" {
				*p = filepath.Join(dir, filepath.Base(*p))
			}
		}
		if err := c.Validate(); err != nil {
			check("validate", err)
		}
	})
}

// normal makes empty lists nil, as the encoder leaves them out.
func normal(c Config) Config {
	if len(c.Join) == 0 {
		c.Join = nil
	}
	if len(c.Hypervisor.Pause) == 0 {
		c.Hypervisor.Pause = nil
	}
	if len(c.Hypervisor.Resume) == 0 {
		c.Hypervisor.Resume = nil
	}
	return c
}
