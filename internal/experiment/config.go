// Package experiment reads an experiment's TOML file strictly, expands it
// into the matrix of runs, drives them on the cluster (the executor) and
// writes results and the report (Run). Every key is documented on Config
// and in configs/README.md with its default and range.
package experiment

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// Config is one experiment file.
type Config struct {
	// Name labels results and reports. Required.
	Name string `toml:"name"`
	// Description is free text for the report. Default "", any value.
	Description string `toml:"description"`
	// Repetitions of every (settings, fault) cell. Default 1, 1..100.
	Repetitions int `toml:"repetitions"`
	// Parallel is how many runs may execute at once (runs never share a
	// client process). Default 1, 1..64.
	Parallel int `toml:"parallel"`
	// MaxRun refuses runs the model predicts longer than this (e.g. macOS
	// listener mode, which falls back to the 2 h idle). Default 10m, 1s..24h.
	MaxRun time.Duration `toml:"max_run"`
	// Settle is how long the connection idles before the fault, so that
	// keepalive probes are cycling. Default: max(idle, interval) × 2 + 500ms
	// per settings entry and OS when 0, from the values the server is
	// predicted to apply (keepalive.Applied); allowed 0..1h.
	Settle time.Duration `toml:"settle"`
	// Margin extends the observation of faults that must NOT be detected
	// (pause) beyond the model window. Default 5s, 0..1h.
	Margin time.Duration `toml:"margin"`

	// Server is the [server] table: which agents hold the keepalive socket
	// and the keepalive mode. Default: every agent, mode "listener" (also
	// when written as ""); server.select.os, when given, must match at
	// least one of linux, windows, darwin.
	Server Side `toml:"server"`
	// Client is the [client] table: which agents are silenced. Default:
	// every agent (never the run's server agent itself). Only select is
	// used: a non-empty client.mode is an error.
	Client Side `toml:"client"`

	// Settings are the [[settings]] tables, each a keepalive setting to
	// measure. At least one is required.
	Settings []SettingsEntry `toml:"settings"`
	// Faults are the [[faults]] tables, each a way to silence the client.
	// At least one is required; every settings entry is run with every
	// fault.
	Faults []FaultEntry `toml:"faults"`

	path string
	src  []byte
}

// Side selects agents for a role by their serf tags. Each value is a
// regular expression that must match the whole tag value (kalab anchors it:
// serf's own FilterTags does not).
type Side struct {
	// Select maps a serf tag (os, arch, os_version, …) to a regular
	// expression (Go RE2 syntax) its value must match in full. Default
	// empty: every agent qualifies. An expression that does not compile is
	// an error naming the key.
	Select map[string]string `toml:"select"`
	// Mode is the server's keepalive mode: "listener" (default),
	// "listener-go-default" or "per-connection". Not valid for the client.
	Mode string `toml:"mode"`
}

// SettingsEntry is one [[settings]] table.
type SettingsEntry struct {
	// Idle and Interval are the keepalive idle time and probe interval, as
	// Go duration strings. No default: both are required (0 is refused).
	// Each is checked against every OS server.select.os can match, with
	// the Windows build unknown and so taken as 1709 or later: whole
	// seconds everywhere, 1s..32767s on linux, 1s..1193h2m47s (4294967 s)
	// on windows and darwin. With no os selector all three apply, so
	// 1s..32767s.
	Idle     time.Duration `toml:"idle"`
	Interval time.Duration `toml:"interval"`
	// Count is the number of unanswered probes before the kill. No
	// default: 0 is refused. Allowed 1..127 on linux, 1..255 on windows,
	// 1..2147483647 on darwin, checked like Idle for every OS the server
	// selection can match (with no os selector: 1..127).
	Count int `toml:"count"`
	// Mode overrides server.mode for this entry.
	Mode string `toml:"mode"`
}

// Keepalive returns the entry as keepalive.Settings.
func (s SettingsEntry) Keepalive() keepalive.Settings {
	return keepalive.Settings{Idle: s.Idle, Interval: s.Interval, Count: s.Count}
}

// FaultEntry is one [[faults]] table.
type FaultEntry struct {
	// Kind: drop, pause, vm-pause, kill.
	Kind string `toml:"kind"`
	// Scope for drop: "flow" (default: only this connection) or "host" (the
	// whole client host, ICMP included, except serf's port).
	Scope string `toml:"scope"`
}

// String names the fault as plans and run names show it: the kind, with
// "/host" for a host-scope drop (flow is the default).
func (f FaultEntry) String() string {
	if f.Scope == results.ScopeHost {
		return f.Kind + "/" + f.Scope
	}
	return f.Kind
}

// Load reads and validates path. Errors name the file, line, key and the
// allowed values.
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read experiment: %w", err)
	}
	return Parse(path, src)
}

// Parse decodes src strictly (unknown keys are errors) and validates it.
func Parse(path string, src []byte) (*Config, error) {
	c := &Config{path: path, src: src}
	md, err := toml.NewDecoder(bytes.NewReader(src)).Decode(c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d:%d: %s", path, pe.Position.Line, pe.Position.Col, pe.Message)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var errs []error
	for _, k := range md.Undecoded() {
		line := c.keyLine(k, -1)
		errs = append(errs, fmt.Errorf("%s:%d: unknown key %q (see configs/README.md for the keys)", path, line, k.String()))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.applyDefaults(md)
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// applyDefaults fills keys the file leaves out; a key written as 0 stays 0
// and is then refused by validate, so "repetitions = 0" is an error, not 1.
func (c *Config) applyDefaults(md toml.MetaData) {
	if !md.IsDefined("repetitions") {
		c.Repetitions = 1
	}
	if !md.IsDefined("parallel") {
		c.Parallel = 1
	}
	if !md.IsDefined("max_run") {
		c.MaxRun = 10 * time.Minute
	}
	if !md.IsDefined("margin") {
		c.Margin = 5 * time.Second
	}
	if c.Server.Mode == "" {
		c.Server.Mode = string(keepalive.ModeListener)
	}
	for i := range c.Faults {
		if c.Faults[i].Kind == results.KindDrop && c.Faults[i].Scope == "" {
			c.Faults[i].Scope = "flow"
		}
	}
}

// fieldErr formats "file:line: key = value: allowed ...".
func (c *Config) fieldErr(key []string, index int, value any, allowed string) error {
	return fmt.Errorf("%s:%d: %s = %v: %s", c.path, c.keyLine(key, index), keyName(key, index), value, allowed)
}

func keyName(key []string, index int) string {
	if index < 0 || len(key) < 2 {
		return strings.Join(key, ".")
	}
	return fmt.Sprintf("%s[%d].%s", key[0], index, strings.Join(key[1:], "."))
}

// supportedOS are the OSes kalab has keepalive code for.
var supportedOS = []string{"linux", "windows", "darwin"}

// SelectedOSes returns the supported OSes a side's os selector can match
// (all three when it has none).
func (s Side) SelectedOSes() ([]string, error) {
	expr, ok := s.Select["os"]
	if !ok {
		return supportedOS, nil
	}
	re, err := Anchored(expr)
	if err != nil {
		return nil, err
	}
	var oses []string
	for _, os := range supportedOS {
		if re.MatchString(os) {
			oses = append(oses, os)
		}
	}
	return oses, nil
}

// Anchored compiles a tag selector so it must match the whole value.
func Anchored(expr string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + expr + ")$")
}

func (c *Config) validate() error {
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	if strings.TrimSpace(c.Name) == "" {
		add(fmt.Errorf("%s: name is required", c.path))
	}
	if c.Repetitions < 1 || c.Repetitions > 100 {
		add(c.fieldErr([]string{"repetitions"}, -1, c.Repetitions, "allowed 1..100"))
	}
	if c.Parallel < 1 || c.Parallel > 64 {
		add(c.fieldErr([]string{"parallel"}, -1, c.Parallel, "allowed 1..64"))
	}
	if c.MaxRun < time.Second || c.MaxRun > 24*time.Hour {
		add(c.fieldErr([]string{"max_run"}, -1, c.MaxRun, "allowed 1s..24h"))
	}
	if c.Settle < 0 || c.Settle > time.Hour {
		add(c.fieldErr([]string{"settle"}, -1, c.Settle, "allowed 0s..1h (0 = automatic)"))
	}
	if c.Margin < 0 || c.Margin > time.Hour {
		add(c.fieldErr([]string{"margin"}, -1, c.Margin, "allowed 0s..1h"))
	}
	if _, err := keepalive.ParseMode(c.Server.Mode); err != nil {
		add(c.fieldErr([]string{"server", "mode"}, -1, fmt.Sprintf("%q", c.Server.Mode), "allowed \"listener\", \"listener-go-default\", \"per-connection\""))
	}
	if c.Client.Mode != "" {
		add(c.fieldErr([]string{"client", "mode"}, -1, fmt.Sprintf("%q", c.Client.Mode), "only the server has a keepalive mode"))
	}
	for side, s := range map[string]Side{"server": c.Server, "client": c.Client} {
		for tag, expr := range s.Select {
			if _, err := Anchored(expr); err != nil {
				add(c.fieldErr([]string{side, "select", tag}, -1, fmt.Sprintf("%q", expr), "not a regular expression: "+err.Error()))
			}
		}
	}
	oses, err := c.Server.SelectedOSes()
	if err == nil && len(oses) == 0 {
		add(c.fieldErr([]string{"server", "select", "os"}, -1, fmt.Sprintf("%q", c.Server.Select["os"]), "matches none of linux, windows, darwin"))
	}
	if len(c.Settings) == 0 {
		add(fmt.Errorf("%s: at least one [[settings]] table is required", c.path))
	}
	for i, s := range c.Settings {
		if s.Mode != "" {
			if _, err := keepalive.ParseMode(s.Mode); err != nil {
				add(c.fieldErr([]string{"settings", "mode"}, i, fmt.Sprintf("%q", s.Mode), "allowed \"listener\", \"listener-go-default\", \"per-connection\""))
			}
		}
		for _, os := range oses {
			err := s.Keepalive().Validate(keepalive.Platform{OS: os})
			var fe *keepalive.FieldError
			for _, e := range unjoin(err) {
				if errors.As(e, &fe) {
					add(c.fieldErr([]string{"settings", fe.Field}, i, fe.Value, fmt.Sprintf("allowed %s on %s (server.select.os can match it)", fe.Allowed, fe.OS)))
				} else {
					add(fmt.Errorf("%s: settings[%d]: %w", c.path, i, e))
				}
			}
		}
	}
	if len(c.Faults) == 0 {
		add(fmt.Errorf("%s: at least one [[faults]] table is required", c.path))
	}
	for i, f := range c.Faults {
		switch f.Kind {
		case results.KindDrop:
			if f.Scope != "flow" && f.Scope != "host" {
				add(c.fieldErr([]string{"faults", "scope"}, i, fmt.Sprintf("%q", f.Scope), "allowed \"flow\" or \"host\""))
			}
		case results.KindPause, results.KindVMPause, results.KindKill:
			if f.Scope != "" {
				add(c.fieldErr([]string{"faults", "scope"}, i, fmt.Sprintf("%q", f.Scope), "only drop has a scope"))
			}
		default:
			add(c.fieldErr([]string{"faults", "kind"}, i, fmt.Sprintf("%q", f.Kind), "allowed \"drop\", \"pause\", \"vm-pause\", \"kill\""))
		}
	}
	return errors.Join(errs...)
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

var headerRE = regexp.MustCompile(`^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?`)

// keyLine finds the line of key in the source: it tracks [table] and
// [[array]] headers (index picks the index-th array element; -1 = first
// match) and returns the line assigning the last key component, or the
// header line, or 1. BurntSushi/toml keeps key positions private, so kalab
// locates keys itself for its messages.
func (c *Config) keyLine(key []string, index int) int {
	lines := strings.Split(string(c.src), "\n")
	table := ""
	occ := map[string]int{}
	headerLine := 0
	want := strings.Join(key[:len(key)-1], ".")
	last := key[len(key)-1]
	assign := regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(last) + `"?\s*=`)
	inline := regexp.MustCompile(`[{,]\s*"?` + regexp.QuoteMeta(last) + `"?\s*=`)
	for n, l := range lines {
		if m := headerRE.FindStringSubmatch(l); m != nil {
			table = m[2]
			if m[1] == "[[" {
				occ[table]++
			}
			if table == want && (index < 0 || occ[table] == index+1) {
				headerLine = n + 1
			}
			continue
		}
		inTable := table == want && (index < 0 || occ[table] == index+1)
		// a key under a table one level up (select = { os = ... }) or dotted.
		parent := len(key) >= 2 && table == strings.Join(key[:len(key)-2], ".")
		switch {
		case inTable && assign.MatchString(l):
			return n + 1
		case want == "" && table == "" && assign.MatchString(l):
			return n + 1
		case parent && inline.MatchString(l):
			return n + 1
		}
	}
	if headerLine > 0 {
		return headerLine
	}
	return 1
}
