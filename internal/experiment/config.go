// Package experiment reads an experiment's TOML file strictly, expands it
// into the matrix of runs, drives them on the cluster (the executor) and
// writes results and the report (Run). Every key is documented on Config
// and in configs/README.md with its default and range.
package experiment

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/tomlshape"
)

// Config is one experiment file.
type Config struct {
	// Name labels results and reports and is the default output
	// directory out/<name>, so it is restricted to [A-Za-z0-9._-], 1..64
	// characters, and may not be "." or "..". Required.
	Name string `toml:"name"`
	// Description is free text for the report. Default "", any value.
	Description string `toml:"description"`
	// Repetitions of every (settings, fault) cell. Default 1, 1..100.
	Repetitions int `toml:"repetitions"`
	// Parallel is how many runs may execute at once (runs never share a
	// client process). Default 1, 1..64.
	Parallel int `toml:"parallel"`
	// MaxRun refuses runs the model predicts longer than this (e.g. macOS
	// listener mode, which falls back to the 2 h idle). Default 10m,
	// 1s..5h59m (MaxRunLimit): agents refuse roles and faults that live
	// longer than 6 h, and a run's roles live up to max_run + 1m.
	MaxRun time.Duration `toml:"max_run"`
	// Settle is how long the connection idles before the fault, so that
	// keepalive probes are cycling. Default: max(idle, interval) × 2 + 500ms
	// per settings entry and OS when 0, from the values the server is
	// predicted to apply (keepalive.Applied); allowed 0..1h.
	Settle time.Duration `toml:"settle"`
	// Margin extends the observation of faults that must NOT be detected
	// (pause) beyond the model window. Default 5s, 0..1h.
	Margin time.Duration `toml:"margin"`
	// Scenario is what the server's connection does after the fault, for
	// every settings entry without its own: "idle" (default; keepalive
	// decides), "unacked" (the server writes right after the fault, so the
	// retransmission timer decides) or "user-timeout" (idle, with keepalive
	// and user_timeout both set) or "heartbeat" (keepalive off: the
	// application's heartbeat decides; the entries then give heartbeat and
	// misses instead of idle, interval and count).
	Scenario string `toml:"scenario"`
	// UserTimeout is the OS's cap on unacknowledged time the server puts on
	// the accepted socket (TCP_USER_TIMEOUT on Linux; TCP_MAXRT and
	// TCP_RXT_CONNDROPTIME, whole seconds, on Windows and macOS), for every
	// settings entry without its own. Default 0 (unset); allowed 1ms..1h
	// (whole seconds when server.select.os can match windows or darwin),
	// only with the unacked (optional) and user-timeout (required)
	// scenarios.
	UserTimeout time.Duration `toml:"user_timeout"`

	// Server is the [server] table: which agents hold the keepalive socket
	// and the keepalive mode. Default: every agent, mode "listener" (also
	// when written as ""); server.select.os, when given, must match at
	// least one of linux, windows, darwin.
	Server Side `toml:"server"`
	// Client is the [client] table: which agents are silenced. Default:
	// every agent (never the run's server agent itself). Only select is
	// used: a non-empty client.mode is an error; client.select.os, when
	// given, must match at least one of linux, windows, darwin.
	Client Side `toml:"client"`

	// Target is the [target] table: a real service as the server instead
	// of kalab's own server role (then no [[settings]]: the service sets
	// its keepalive). Default none.
	Target *Target `toml:"target"`

	// Settings are the [[settings]] tables, each a keepalive setting to
	// measure. 1..64 of them are required (none with a [target]).
	Settings []SettingsEntry `toml:"settings"`
	// Faults are the [[faults]] tables, each a way to silence the client.
	// 1..16 of them are required; every settings entry is run with every
	// fault.
	Faults []FaultEntry `toml:"faults"`

	path string
	src  []byte
	// holds marks the [[faults]] indexes that write a hold, so that
	// hold = "0s" is refused rather than taken for no hold.
	holds map[int]bool
}

// Side selects agents for a role by their serf tags. Each value is a
// regular expression that must match the whole tag value (kalab anchors it:
// serf's own FilterTags does not).
type Side struct {
	// Select maps a serf tag an agent carries (os, arch, os_version,
	// kalab_version, caps, role: the cluster.Tag* names) to a regular
	// expression (Go RE2 syntax) its value must match in full. Default
	// empty: every agent qualifies. Another tag, an empty expression or
	// one that does not compile is an error naming the key.
	Select map[string]string `toml:"select"`
	// Mode is the server's keepalive mode: "listener" (default),
	// "listener-go-default" or "per-connection". Not valid for the client.
	Mode string `toml:"mode"`
}

// SettingsEntry is one [[settings]] table.
type SettingsEntry struct {
	// Idle and Interval are the keepalive idle time and probe interval, as
	// Go duration strings. No default: both are required (0 is refused),
	// except in the heartbeat scenario, where keepalive is off and they
	// (and count and mode) must be absent.
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
	// Scenario overrides the top-level scenario for this entry.
	Scenario string `toml:"scenario"`
	// UserTimeout overrides the top-level user_timeout for this entry.
	UserTimeout time.Duration `toml:"user_timeout"`
	// Heartbeat is the application heartbeat's period in the heartbeat
	// scenario: the server writes one every Heartbeat and the client
	// answers it. Required there (1ms..1h), refused in the others.
	Heartbeat time.Duration `toml:"heartbeat"`
	// Misses is how many periods without an answer make the server declare
	// the client dead (the detection comes Misses × Heartbeat after the
	// last answer). Required with Heartbeat (1..1000), refused without.
	Misses int `toml:"misses"`
}

// HeartbeatSettings returns the entry's heartbeat (zero outside the
// heartbeat scenario).
func (s SettingsEntry) HeartbeatSettings() keepalive.Heartbeat {
	return keepalive.Heartbeat{Period: s.Heartbeat, Misses: s.Misses}
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
	// Direction for drop (flow or host scope): "both" (default), "to-server"
	// (only the client's packets to the server are lost: the client still
	// hears the server's keepalive probes, its answers never arrive) or
	// "to-client" (only the server's packets to the client are lost: its
	// probes never reach the client). Any other value, or a direction on
	// another kind, is an error. Serf's port stays open both ways.
	Direction string `toml:"direction"`
	// Hold makes a short outage: the fault heals this long after it was
	// applied, on the client agent's own timer (wire.FaultReq.HoldMS), so
	// a slow or lost command never stretches the outage. Optional (default none: the fault lasts the whole
	// observation); drop, pause and vm-pause only (a kill has nothing to
	// heal); allowed > 0 up to max_run. With a hold the plan expects
	// "survives" (the server detects nothing and, after the heal, an echo
	// crosses the same connection) when the hold ends before the model's
	// earliest detection after the fault minus SurviveMargin, or for a
	// pause; "detected-in-window" when it ends after the model's latest
	// detection plus the late tolerance; a hold inside that window is
	// refused.
	Hold time.Duration `toml:"hold,omitzero"`
}

// String names the fault as plans and run names show it: the kind, with
// "/host" for a host-scope drop (flow is the default) and "→server" or
// "→client" for a one-way drop (both ways is the default), e.g.
// "drop→server", "drop/host→client", and " hold 2s" for a fault with a
// hold: "drop hold 2s".
func (f FaultEntry) String() string {
	s := f.Kind
	if f.Scope == results.ScopeHost {
		s += "/" + f.Scope
	}
	s += results.DirectionSuffix(f.Direction)
	if f.Hold > 0 {
		s += " hold " + f.Hold.String()
	}
	return s
}

// MaxFileSize is the largest experiment file Load and Parse accept (1 MiB);
// a larger one is refused before it is parsed. An experiment is a few
// dozen lines.
const MaxFileSize = 1 << 20

// MaxRunLimit is the largest max_run. Agents refuse any role or fault TTL
// over 6 h (fault.MaxTTL); the executor asks for a role TTL of settle +
// observe + 1m, and the plan keeps settle + observe + 2s within max_run,
// so every TTL stays under the agents' cap.
const MaxRunLimit = 6*time.Hour - time.Minute

// Bounds of the file, checked before and after parsing.
const (
	maxNameLen  = 64
	maxSettings = 64
	maxFaults   = 16
	// maxKeys, maxDepth and maxKeyParts bound the TOML's shape before the
	// parser sees it: BurntSushi/toml is slow (quadratic in places) on
	// deep nesting and long dotted keys, and a real experiment has a few
	// hundred keys at most, nested 2 deep, with 3-part keys
	// (server.select.os).
	maxKeys     = 25000
	maxDepth    = 4
	maxKeyParts = 4
)

// Load reads and validates path. Errors name the file, line, key, the
// allowed values and the fix, and there is only ever one: the first.
func Load(path string) (*Config, error) {
	readErr := func(err error) error {
		return fmt.Errorf("%s:1: read experiment: %w: allowed a readable TOML file of at most 1 MiB; fix: check the path given to -c", path, err)
	}
	if fi, err := os.Stat(path); err != nil {
		return nil, readErr(err)
	} else if !fi.Mode().IsRegular() {
		return nil, readErr(errors.New("not a regular file"))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, readErr(err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, readErr(err)
	}
	if len(src) > MaxFileSize {
		size := int64(len(src))
		if st, err := f.Stat(); err == nil && st.Size() > size {
			size = st.Size()
		}
		return nil, sizeError(path, size, src)
	}
	return Parse(path, src)
}

// Parse decodes src strictly (unknown keys are errors) and validates it.
// It returns at the first problem, as one error on one line:
// "file:line: key = value: allowed …; fix: …".
func Parse(path string, src []byte) (*Config, error) {
	if len(src) > MaxFileSize {
		return nil, sizeError(path, int64(len(src)), src)
	}
	if err := shapeError(path, src); err != nil {
		return nil, err
	}
	c := &Config{path: path, src: src, holds: map[int]bool{}}
	// First into a plain map: BurntSushi/toml matches keys to fields
	// case-insensitively and unifies a table in map order, so two keys
	// differing in case ("faults", "fAults"), or two bad values, would
	// make the outcome random. Names and types are checked here, in a
	// fixed order, before the file is decoded into the Config.
	var raw map[string]any
	md, err := toml.NewDecoder(bytes.NewReader(src)).Decode(&raw)
	if err != nil {
		return nil, c.decodeError(err)
	}
	for _, k := range md.Keys() {
		if !knownKey(k) {
			return nil, c.undecodedError(k)
		}
	}
	if err := c.checkTypes(raw); err != nil {
		return nil, err
	}
	c.noteHolds(raw)
	md, err = toml.NewDecoder(bytes.NewReader(src)).Decode(c)
	if err != nil {
		return nil, c.decodeError(err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		return nil, c.undecodedError(u[0])
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
	if c.Scenario == "" {
		c.Scenario = string(keepalive.ScenarioIdle)
	}
	for i := range c.Settings {
		if c.Settings[i].Scenario == "" {
			c.Settings[i].Scenario = c.Scenario
		}
		// The top-level user timeout goes to the entries whose scenario
		// takes one (an idle entry has none).
		if c.Settings[i].UserTimeout == 0 && c.Settings[i].Scenario != string(keepalive.ScenarioIdle) {
			c.Settings[i].UserTimeout = c.UserTimeout
		}
	}
	for i := range c.Faults {
		if c.Faults[i].Kind == results.KindDrop && c.Faults[i].Scope == "" {
			c.Faults[i].Scope = results.ScopeFlow
		}
		if c.Faults[i].Kind == results.KindDrop && c.Faults[i].Direction == "" {
			c.Faults[i].Direction = results.DirectionBoth
		}
	}
}

// keyDoc is what one key accepts and a line that would be accepted.
type keyDoc struct{ key, allowed, example string }

const modesAllowed = `"listener", "listener-go-default" or "per-connection"`

// scenariosAllowed are the scenarios an experiment can run
// (keepalive.Scenarios).
const scenariosAllowed = `"idle", "unacked", "user-timeout" or "heartbeat"`

// heartbeatAllowed and missesAllowed are what heartbeat and misses take.
const (
	heartbeatAllowed = "a duration 1ms..1h, with scenario heartbeat (required there)"
	missesAllowed    = "an integer 1..1000, with scenario heartbeat (required there)"
)

// userTimeoutAllowed is what user_timeout takes.
const userTimeoutAllowed = "a duration 1ms..1h (whole seconds for windows and darwin), with scenario unacked (optional) or user-timeout (required)"

// directionsAllowed are the drop directions, results.Directions.
const directionsAllowed = `"both", "to-server" or "to-client"`

// keyDocs lists every key in the order configs/README.md shows them; a
// select entry is documented as server.select.* / client.select.*.
var keyDocs = append([]keyDoc{
	{"name", "[A-Za-z0-9._-], 1..64 characters, not . or ..", `name = "quick"`},
	{"description", "any string", `description = "1s/1s/3 against drop"`},
	{"repetitions", "an integer 1..100", "repetitions = 1"},
	{"parallel", "an integer 1..64", "parallel = 1"},
	{"max_run", "a duration 1s.." + MaxRunLimit.String() + " (agents refuse roles over 6h; a run's roles live max_run + 1m)", `max_run = "10m"`},
	{"settle", "a duration 0s..1h (0 = automatic)", `settle = "0s"`},
	{"margin", "a duration 0s..1h", `margin = "5s"`},
	{"scenario", scenariosAllowed, `scenario = "idle"`},
	{"user_timeout", userTimeoutAllowed, `user_timeout = "5s"`},
	{"server", "a [server] table with select and mode", "[server]"},
	{"server.select", "a table of tag = regular expression, tags " + strings.Join(selectTags, ", "), `select = { os = "linux" }`},
	{"server.select.*", "a non-empty regular expression (Go RE2) matched against the whole tag value", `os = "linux"`},
	{"server.mode", modesAllowed, `mode = "listener"`},
	{"client", "a [client] table with select", "[client]"},
	{"client.select", "a table of tag = regular expression, tags " + strings.Join(selectTags, ", "), `select = { os = "linux" }`},
	{"client.select.*", "a non-empty regular expression (Go RE2) matched against the whole tag value", `os = "linux"`},
	{"client.mode", "nothing: only the server has a keepalive mode", "[server] mode = \"listener\""},
	{"settings", "1..64 [[settings]] tables with idle, interval, count, mode, scenario and user_timeout (or heartbeat and misses)", "[[settings]] idle = \"1s\" interval = \"1s\" count = 3"},
	{"settings.idle", "a duration in whole seconds, 1s..32767s on linux", `idle = "1s"`},
	{"settings.interval", "a duration in whole seconds, 1s..32767s on linux", `interval = "1s"`},
	{"settings.count", "an integer, 1..127 on linux, 1..255 on windows", "count = 3"},
	{"settings.mode", modesAllowed, `mode = "per-connection"`},
	{"settings.scenario", scenariosAllowed, `scenario = "unacked"`},
	{"settings.user_timeout", userTimeoutAllowed, `user_timeout = "5s"`},
	{"settings.heartbeat", heartbeatAllowed, `heartbeat = "200ms"`},
	{"settings.misses", missesAllowed, "misses = 3"},
	{"faults", "1..16 [[faults]] tables with kind, scope, direction and hold", `[[faults]] kind = "drop"`},
	{"faults.kind", `"drop", "pause", "vm-pause" or "kill"`, `kind = "drop"`},
	{"faults.scope", `"flow" or "host" (drop only)`, `scope = "flow"`},
	{"faults.direction", directionsAllowed + " (drop only)", `direction = "both"`},
	{"faults.hold", "a duration > 0 up to max_run (drop, pause and vm-pause only)", `hold = "2s"`},
}, targetDocs...)

// selectTags are the serf tags every agent carries (cluster.Tag*), the
// only keys select may use.
var selectTags = []string{cluster.TagOS, cluster.TagArch, cluster.TagVersion, cluster.TagKalab, cluster.TagCaps, cluster.TagRole, cluster.TagName}

// docFor finds a key's documentation; key is dotted without indexes
// ("settings.count", "server.select.os").
func docFor(key string) (keyDoc, bool) {
	for _, side := range []string{"server", "client"} {
		if tag, ok := strings.CutPrefix(key, side+".select."); ok && !strings.Contains(tag, ".") {
			key = side + ".select.*"
		}
	}
	for _, d := range keyDocs {
		if d.key == key {
			return d, true
		}
	}
	return keyDoc{}, false
}

// childKeys lists the keys directly inside table ("" = top level), tables
// shown as [t] or [[t]].
func childKeys(table string) []string {
	var out []string
	for _, d := range keyDocs {
		parent, name := "", d.key
		if i := strings.LastIndex(d.key, "."); i >= 0 {
			parent, name = d.key[:i], d.key[i+1:]
		}
		if parent != table || name == "*" || d.key == "client.mode" {
			continue
		}
		switch d.key {
		case "server", "client":
			name = "[" + name + "]"
		case "settings", "faults":
			name = "[[" + name + "]]"
		}
		out = append(out, name)
	}
	return out
}

// errorAt formats the one error Parse returns.
func (c *Config) errorAt(line int, what, allowed, fix string) error {
	return fmt.Errorf("%s:%d: %s: allowed %s; fix: %s", c.path, line, tomlshape.OneLine(what, 200), allowed, tomlshape.OneLine(fix, 200))
}

// fieldErr formats "file:line: key = value: allowed ...; fix: ...".
func (c *Config) fieldErr(key []string, index int, value any, allowed, fix string) error {
	return c.errorAt(c.keyLine(key, index), fmt.Sprintf("%s = %v", keyName(key, index), value), allowed, fix)
}

func keyName(key []string, index int) string {
	if index < 0 || len(key) < 2 {
		return strings.Join(key, ".")
	}
	return fmt.Sprintf("%s[%d].%s", key[0], index, strings.Join(key[1:], "."))
}

// quote shows a string value as TOML would, cut to 60 bytes.
func quote(s string) string {
	q := strconv.Quote(s)
	if len(q) > 60 {
		q = strings.ToValidUTF8(q[:58], "") + "…\""
	}
	return q
}

// sizeError refuses a file over MaxFileSize, pointing at its longest line.
func sizeError(path string, size int64, src []byte) error {
	n, line := longestLine(src)
	return fmt.Errorf("%s:%d: the file is %d bytes, its longest line %d is %d bytes (%s): allowed at most %d bytes (1 MiB); fix: an experiment is a few dozen lines: keep only the keys configs/README.md lists",
		path, n, size, n, len(line), tomlshape.OneLine(snippet(line), 60), MaxFileSize)
}

func longestLine(src []byte) (n int, line []byte) {
	for i, l := range bytes.Split(src, []byte("\n")) {
		if len(l) > len(line) || i == 0 {
			n, line = i+1, l
		}
	}
	return n, line
}

func snippet(line []byte) string {
	s := strings.TrimSpace(string(line))
	if len(s) > 40 {
		s = strings.ToValidUTF8(s[:40], "") + "…"
	}
	return s
}

// shapeError refuses, before parsing, TOML nested deeper than maxDepth,
// keys of more than maxKeyParts parts or more than maxKeys keys.
func shapeError(path string, src []byte) error {
	p := tomlshape.Check(src, tomlshape.Limits{Depth: maxDepth, KeyParts: maxKeyParts, Keys: maxKeys})
	if p.Problem == "" {
		return nil
	}
	lines := bytes.SplitN(src, []byte("\n"), p.Line+1)
	text := ""
	if p.Line-1 < len(lines) {
		text = snippet(lines[p.Line-1])
	}
	return fmt.Errorf("%s:%d: %s (%s): allowed %s; fix: write the experiment's keys plainly, as configs/README.md shows (e.g. [server] select = { os = \"linux\" })",
		path, p.Line, p.Problem, tomlshape.OneLine(text, 60), p.Allowed)
}

// quotedKeyRE finds the key in TOML errors without a last key ("Key
// 'settings' was already created …").
var quotedKeyRE = regexp.MustCompile(`^Key '([^']*)'`)

// decodeError turns a TOML syntax or type error into the one error, with
// what the key allows when the key is known.
func (c *Config) decodeError(err error) error {
	line, key, msg := tomlshape.ErrorAt(err)
	if m := quotedKeyRE.FindStringSubmatch(msg); key == "" && m != nil {
		key = m[1]
	}
	line = max(line, 1)
	allowed := "TOML: key = value lines under [table] headers (configs/README.md)"
	fix := `write key = value with strings in double quotes, e.g. name = "quick"`
	if d, ok := docFor(key); ok {
		allowed, fix = d.allowed, d.example
	}
	msg = strings.TrimSuffix(msg, ".")
	if strings.Contains(msg, "already been defined") {
		fix = "keep only one " + lastPart(key)
	}
	what := msg
	if key != "" {
		what = c.displayKey(key, line) + ": " + msg
	}
	return c.errorAt(line, what, allowed, fix)
}

// displayKey adds the [[settings]]/[[faults]] index to a dotted key seen
// at line.
func (c *Config) displayKey(key string, line int) string {
	parts := strings.Split(key, ".")
	if parts[0] != "settings" && parts[0] != "faults" || len(parts) < 2 {
		return key
	}
	idx := -1
	for n, l := range bytes.Split(c.src, []byte("\n")) {
		if n+1 > line {
			break
		}
		if m := headerRE.FindSubmatch(l); m != nil && string(m[1]) == "[[" && string(m[2]) == parts[0] {
			idx++
		}
	}
	return keyName(parts, idx)
}

func lastPart(key string) string {
	if i := strings.LastIndex(key, "."); i >= 0 {
		return key[i+1:]
	}
	return key
}

// undecodedError reports the first key the Config has no place for: an
// unknown key (with the closest known one), or a known key of the wrong
// type.
func (c *Config) undecodedError(k toml.Key) error {
	line := c.keyLine(k, -1)
	name := k.String()
	if d, ok := docFor(name); ok {
		return c.errorAt(line, fmt.Sprintf("%s has the wrong type", name), d.allowed, d.example)
	}
	table := strings.Join(k[:len(k)-1], ".")
	keys := childKeys(table)
	where := "top-level keys"
	if table != "" {
		where = "keys of " + table
		if len(keys) == 0 {
			keys = childKeys("")
			where = "top-level keys"
		}
	}
	fix := "remove it (configs/README.md lists every key)"
	if near := closest(k[len(k)-1], keys); near != "" {
		fix = "rename it to " + near
	}
	return c.errorAt(line, fmt.Sprintf("unknown key %q", name), where+": "+strings.Join(keys, ", "), fix)
}

// knownKey reports whether k is a key of an experiment, spelled exactly
// (select's tags are checked by validate, with the tags agents carry).
func knownKey(k toml.Key) bool {
	if len(k) == 3 && (k[0] == "server" || k[0] == "client") && k[1] == "select" {
		return true
	}
	_, ok := docFor(strings.Join(k, "."))
	return ok && !strings.HasSuffix(strings.Join(k, "."), ".*")
}

// checkTypes checks the types of the decoded values (and that durations
// parse), in the order of keyDocs and array index, so that decoding into
// the Config cannot fail.
func (c *Config) checkTypes(raw map[string]any) error {
	bad := func(key []string, index int, v any) error {
		d, _ := docFor(strings.Join(key, "."))
		return c.errorAt(c.keyLine(key, index), fmt.Sprintf("%s is %s", keyName(key, index), tomlshape.Kind(v)), d.allowed, d.example)
	}
	var check func(key []string, index int, v any) error
	check = func(key []string, index int, v any) error {
		name := strings.Join(key, ".")
		if len(key) == 3 && key[1] == "select" {
			name = key[0] + ".select.*"
		}
		switch name {
		case "repetitions", "parallel", "settings.count", "settings.misses", "target.port", "target.lab.count":
			if _, ok := v.(int64); !ok {
				return bad(key, index, v)
			}
		case "max_run", "settle", "margin", "settings.idle", "settings.interval", "faults.hold", "user_timeout", "settings.user_timeout", "settings.heartbeat", "target.lab.idle", "target.lab.interval", "target.bisect.min", "target.bisect.max", "target.bisect.resolution":
			switch v := v.(type) {
			case int64:
			case string:
				if _, err := time.ParseDuration(v); err != nil {
					d, _ := docFor(name)
					return c.errorAt(c.keyLine(key, index), fmt.Sprintf("%s = %s is not a duration", keyName(key, index), quote(v)), d.allowed+` (Go durations: "90s", "1m30s", "1500ms")`, d.example)
				}
			default:
				return bad(key, index, v)
			}
		case "server", "client", "server.select", "client.select", "target", "target.lab", "target.bisect":
			m, ok := v.(map[string]any)
			if !ok {
				return bad(key, index, v)
			}
			for _, d := range keyDocs {
				if sub, _ := strings.CutPrefix(d.key, name+"."); sub != d.key && !strings.Contains(sub, ".") && sub != "*" {
					if sv, ok := m[sub]; ok {
						if err := check(append(key[:len(key):len(key)], sub), index, sv); err != nil {
							return err
						}
					}
				}
			}
			if strings.HasSuffix(name, ".select") {
				tags := make([]string, 0, len(m))
				for tag := range m {
					tags = append(tags, tag)
				}
				slices.Sort(tags)
				for _, tag := range tags {
					if err := check(append(key[:len(key):len(key)], tag), index, m[tag]); err != nil {
						return err
					}
				}
			}
		case "settings", "faults":
			var elems []map[string]any
			switch v := v.(type) {
			case []map[string]any:
				elems = v
			case []any:
				for i, e := range v {
					m, ok := e.(map[string]any)
					if !ok {
						d, _ := docFor(name)
						return c.errorAt(c.keyLine(key, -1), fmt.Sprintf("%s[%d] is %s", name, i, tomlshape.Kind(e)), d.allowed, d.example)
					}
					elems = append(elems, m)
				}
			default:
				return bad(key, index, v)
			}
			for i, e := range elems {
				for _, d := range keyDocs {
					if sub, _ := strings.CutPrefix(d.key, name+"."); sub != d.key {
						if sv, ok := e[sub]; ok {
							if err := check([]string{name, sub}, i, sv); err != nil {
								return err
							}
						}
					}
				}
			}
		default: // strings: name, description, modes, kind, scope, direction, select expressions
			if _, ok := v.(string); !ok {
				return bad(key, index, v)
			}
		}
		return nil
	}
	for _, d := range keyDocs {
		if strings.Contains(d.key, ".") {
			continue
		}
		if v, ok := raw[d.key]; ok {
			if err := check([]string{d.key}, -1, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// closest returns the candidate within edit distance 2 of s (ignoring
// case and brackets), or "".
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, cand := range candidates {
		if d := editDistance(strings.ToLower(s), strings.Trim(cand, "[]")); d < bestD {
			best, bestD = strings.Trim(cand, "[]"), d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
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

// nameRE is what a name may be: it becomes the directory out/<name>.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// validName reports whether name is a safe experiment name.
func validName(name string) bool {
	return nameRE.MatchString(name) && strings.Trim(name, ".") != ""
}

// suggestName makes a valid name out of s (or the file's base name).
func suggestName(s, path string) string {
	clean := func(s string) string {
		s = strings.Map(func(r rune) rune {
			if r < 128 && (r == '.' || r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return r
			}
			return '-'
		}, s)
		s = strings.Trim(s, ".-")
		if len(s) > maxNameLen {
			s = strings.Trim(s[:maxNameLen], ".-")
		}
		return s
	}
	if n := clean(s); validName(n) {
		return n
	}
	if n := clean(strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))); validName(n) {
		return n
	}
	return "experiment"
}

// clampDur is v moved into lo..hi, for a fix.
func clampDur(v, lo, hi time.Duration) time.Duration { return min(max(v, lo), hi) }

// durFix formats key = "duration" for a fix.
func durFix(key string, d time.Duration) string { return fmt.Sprintf("%s = %q", key, d.String()) }

// validate checks the decoded config and returns the first problem.
func (c *Config) validate() error {
	if !validName(c.Name) {
		if c.Name == "" {
			return c.errorAt(c.keyLine([]string{"name"}, -1), "name is required (missing or empty)", "[A-Za-z0-9._-], 1..64 characters, not . or ..",
				fmt.Sprintf("name = %q", suggestName("", c.path)))
		}
		return c.fieldErr([]string{"name"}, -1, quote(c.Name), "[A-Za-z0-9._-], 1..64 characters, not . or .. (it names the output directory out/<name>)",
			fmt.Sprintf("name = %q", suggestName(c.Name, c.path)))
	}
	if c.Repetitions < 1 || c.Repetitions > 100 {
		return c.fieldErr([]string{"repetitions"}, -1, c.Repetitions, "1..100", fmt.Sprintf("repetitions = %d", min(max(c.Repetitions, 1), 100)))
	}
	if c.Parallel < 1 || c.Parallel > 64 {
		return c.fieldErr([]string{"parallel"}, -1, c.Parallel, "1..64", fmt.Sprintf("parallel = %d", min(max(c.Parallel, 1), 64)))
	}
	if c.MaxRun < time.Second || c.MaxRun > MaxRunLimit {
		return c.fieldErr([]string{"max_run"}, -1, c.MaxRun, "1s.."+MaxRunLimit.String()+" (agents refuse roles and faults over 6h, and a run's roles live max_run + 1m)",
			durFix("max_run", clampDur(c.MaxRun, time.Second, MaxRunLimit)))
	}
	if c.Settle < 0 || c.Settle > time.Hour {
		return c.fieldErr([]string{"settle"}, -1, c.Settle, "0s..1h (0 = automatic)", durFix("settle", clampDur(c.Settle, 0, time.Hour)))
	}
	if c.Margin < 0 || c.Margin > time.Hour {
		return c.fieldErr([]string{"margin"}, -1, c.Margin, "0s..1h", durFix("margin", clampDur(c.Margin, 0, time.Hour)))
	}
	if _, err := keepalive.ParseMode(c.Server.Mode); err != nil {
		return c.fieldErr([]string{"server", "mode"}, -1, quote(c.Server.Mode), modesAllowed, `mode = "`+closestMode(c.Server.Mode)+`"`)
	}
	if err := c.validateSelect("server", c.Server); err != nil {
		return err
	}
	if c.Client.Mode != "" {
		return c.fieldErr([]string{"client", "mode"}, -1, quote(c.Client.Mode), "no mode in [client]: only the server has a keepalive mode",
			"remove it from [client] (set mode under [server])")
	}
	if err := c.validateSelect("client", c.Client); err != nil {
		return err
	}
	oses, _ := c.Server.SelectedOSes() // validateSelect compiled it
	if err := c.validateScenario([]string{"scenario"}, []string{"user_timeout"}, -1, c.Scenario, c.UserTimeout, oses, false); err != nil {
		return err
	}
	if c.UserTimeout > 0 && !slices.ContainsFunc(c.Settings, func(s SettingsEntry) bool { return s.Scenario != string(keepalive.ScenarioIdle) }) {
		return c.fieldErr([]string{"user_timeout"}, -1, c.UserTimeout, "a user_timeout only with scenario unacked or user-timeout (every settings entry here is idle)", `scenario = "user-timeout"`)
	}
	if c.Target != nil {
		if err := c.validateTarget(); err != nil {
			return err
		}
	} else if len(c.Settings) == 0 || len(c.Settings) > maxSettings {
		return c.tableCountErr("settings", len(c.Settings), maxSettings, "[[settings]] idle = \"1s\" interval = \"1s\" count = 3")
	}
	for i, s := range c.Settings {
		if err := c.validateScenario([]string{"settings", "scenario"}, []string{"settings", "user_timeout"}, i, s.Scenario, s.UserTimeout, oses, true); err != nil {
			return err
		}
		if err := c.validateSettings(i, s, oses); err != nil {
			return err
		}
	}
	if len(c.Faults) == 0 || len(c.Faults) > maxFaults {
		return c.tableCountErr("faults", len(c.Faults), maxFaults, `[[faults]] kind = "drop"`)
	}
	for i, f := range c.Faults {
		switch f.Kind {
		case results.KindDrop:
			if f.Scope != results.ScopeFlow && f.Scope != results.ScopeHost {
				return c.fieldErr([]string{"faults", "scope"}, i, quote(f.Scope), `"flow" or "host"`, `scope = "flow"`)
			}
			if !slices.Contains(results.Directions, f.Direction) {
				fix := `direction = "both"`
				if near := closest(f.Direction, results.Directions); near != "" {
					fix = fmt.Sprintf("direction = %q", near)
				}
				return c.fieldErr([]string{"faults", "direction"}, i, quote(f.Direction),
					directionsAllowed+` (both: drop both ways; to-server: the client's answers are lost; to-client: the server's probes are lost)`, fix)
			}
		case results.KindPause, results.KindVMPause, results.KindKill:
			if f.Scope != "" {
				return c.fieldErr([]string{"faults", "scope"}, i, quote(f.Scope), "no scope: only drop has a scope", "remove scope from this [[faults]] table")
			}
			if f.Direction != "" {
				return c.fieldErr([]string{"faults", "direction"}, i, quote(f.Direction), "no direction: only drop has a direction",
					"remove direction from this [[faults]] table (or use kind = \"drop\")")
			}
		default:
			fix := `kind = "drop"`
			if near := closest(f.Kind, results.Kinds); near != "" {
				fix = fmt.Sprintf("kind = %q", near)
			}
			return c.fieldErr([]string{"faults", "kind"}, i, quote(f.Kind), `"drop", "pause", "vm-pause" or "kill"`, fix)
		}
		if err := c.validateHold(i, f); err != nil {
			return err
		}
		if f.Hold > 0 {
			for si, s := range c.Settings {
				if s.Scenario != string(keepalive.ScenarioIdle) {
					return c.fieldErr([]string{"faults", "hold"}, i, f.Hold,
						fmt.Sprintf("a hold only with scenario idle (settings[%d] runs %s)", si, s.Scenario),
						"remove hold, or put the held faults in an experiment of idle settings")
				}
			}
		}
	}
	return nil
}

// validateScenario checks a scenario and its user timeout, at the top level
// (index -1) or in settings[index]; pair checks that they go together
// (settings entries, after the top-level values were filled in).
func (c *Config) validateScenario(skey, ukey []string, index int, scenario string, uto time.Duration, oses []string, pair bool) error {
	sc, err := keepalive.ParseScenario(scenario)
	if err != nil {
		fix := `scenario = "idle"`
		names := make([]string, len(keepalive.Scenarios))
		for i, s := range keepalive.Scenarios {
			names[i] = string(s)
		}
		if near := closest(scenario, names); near != "" {
			fix = fmt.Sprintf("scenario = %q", near)
		}
		return c.fieldErr(skey, index, quote(scenario), scenariosAllowed, fix)
	}
	if uto < 0 || uto > time.Hour || (uto > 0 && uto < time.Millisecond) {
		return c.fieldErr(ukey, index, uto, userTimeoutAllowed, durFix("user_timeout", clampDur(uto, time.Second, time.Hour)))
	}
	if uto > 0 && uto%time.Second != 0 {
		for _, os := range oses {
			if os != "linux" {
				return c.fieldErr(ukey, index, uto, fmt.Sprintf("whole seconds on %s (%s; server.select.os can match it)", os, keepalive.UserTimeoutOption(os)),
					durFix("user_timeout", max(time.Second, uto.Round(time.Second))))
			}
		}
	}
	switch {
	case !pair:
	case sc == keepalive.ScenarioIdle && uto > 0:
		return c.fieldErr(ukey, index, uto, "no user_timeout with scenario idle (use scenario user-timeout or unacked)", `scenario = "user-timeout"`)
	case sc == keepalive.ScenarioHeartbeat && uto > 0:
		return c.fieldErr(ukey, index, uto, "no user_timeout with scenario heartbeat (keepalive and the OS's caps are not in play)", "remove user_timeout from this entry")
	case sc == keepalive.ScenarioUserTimeout && uto == 0:
		return c.fieldErr(skey, index, quote(scenario), "user-timeout with a user_timeout (required): the cap set beside keepalive", `user_timeout = "3s"`)
	}
	return nil
}

// noteHolds records which [[faults]] tables write a hold (checkTypes has
// checked the shapes).
func (c *Config) noteHolds(raw map[string]any) {
	var elems []map[string]any
	switch v := raw["faults"].(type) {
	case []map[string]any:
		elems = v
	case []any:
		for _, e := range v {
			m, _ := e.(map[string]any)
			elems = append(elems, m)
		}
	}
	for i, e := range elems {
		if _, ok := e["hold"]; ok {
			c.holds[i] = true
		}
	}
}

// validateHold checks faults[i].hold: only on faults that heal, > 0 and
// at most max_run.
func (c *Config) validateHold(i int, f FaultEntry) error {
	if !c.holds[i] {
		return nil
	}
	key := []string{"faults", "hold"}
	if f.Kind == results.KindKill {
		return c.fieldErr(key, i, f.Hold, "no hold on a kill: a killed client has nothing to heal (drop, pause and vm-pause take a hold)",
			"remove hold from this [[faults]] table (or use kind = \"drop\")")
	}
	if f.Hold <= 0 || f.Hold > c.MaxRun {
		return c.fieldErr(key, i, f.Hold, "a duration > 0 up to max_run ("+c.MaxRun.String()+")",
			durFix("hold", clampDur(f.Hold, time.Second, c.MaxRun)))
	}
	return nil
}

// closestMode suggests a keepalive mode for a wrong one.
func closestMode(s string) string {
	modes := []string{string(keepalive.ModeListener), string(keepalive.ModeListenerGoDefault), string(keepalive.ModePerConn)}
	if near := closest(s, modes); near != "" {
		return near
	}
	return string(keepalive.ModeListener)
}

// tableCountErr refuses no tables or too many.
func (c *Config) tableCountErr(table string, n, limit int, example string) error {
	what := fmt.Sprintf("%d [[%s]] tables", n, table)
	fix := "add one: " + example
	line := 1
	if n > 0 {
		fix = fmt.Sprintf("split the experiment into files of at most %d [[%s]] tables", limit, table)
		line = c.keyLine([]string{table, "x"}, limit) // the first table over the limit
	}
	return c.errorAt(line, what, fmt.Sprintf("1..%d [[%s]] tables", limit, table), fix)
}

// validateSelect checks a side's select: known tags, non-empty expressions
// that compile, and an os expression that matches a supported OS.
func (c *Config) validateSelect(side string, s Side) error {
	tags := make([]string, 0, len(s.Select))
	for tag := range s.Select {
		tags = append(tags, tag)
	}
	slices.Sort(tags)
	for _, tag := range tags {
		expr := s.Select[tag]
		key := []string{side, "select", tag}
		if !slices.Contains(selectTags, tag) {
			fix := "remove " + strconv.Quote(tag) + " from " + side + ".select"
			if near := closest(tag, selectTags); near != "" {
				fix = "rename it to " + near
			}
			return c.fieldErr(key, -1, quote(expr), "the tags agents carry: "+strings.Join(selectTags, ", "), fix)
		}
		if expr == "" {
			return c.fieldErr(key, -1, quote(expr), "a non-empty regular expression (an empty one matches no agent)",
				fmt.Sprintf("remove %s to select every agent, or write %s = \".+\"", tag, tag))
		}
		if _, err := Anchored(expr); err != nil {
			return c.fieldErr(key, -1, quote(expr), "a regular expression (Go RE2 syntax), matched against the whole value: "+tomlshape.OneLine(err.Error(), 100),
				fmt.Sprintf("%s = %q (regexp.QuoteMeta escapes a literal value)", tag, regexp.QuoteMeta(expr)))
		}
	}
	if oses, _ := s.SelectedOSes(); len(oses) == 0 {
		return c.fieldErr([]string{side, "select", "os"}, -1, quote(s.Select["os"]),
			"an expression matching at least one of "+strings.Join(supportedOS, ", ")+" (it matches none)", `os = "linux" (or "linux|windows|darwin")`)
	}
	return nil
}

// validateSettings checks one [[settings]] entry against every OS the
// server selection can match.
func (c *Config) validateSettings(i int, s SettingsEntry, oses []string) error {
	if s.Scenario == string(keepalive.ScenarioHeartbeat) {
		return c.validateHeartbeat(i, s)
	}
	for _, k := range []struct {
		key   string
		value any
		set   bool
	}{{"heartbeat", s.Heartbeat, s.Heartbeat != 0}, {"misses", s.Misses, s.Misses != 0}} {
		if k.set {
			return c.fieldErr([]string{"settings", k.key}, i, k.value, fmt.Sprintf("no %s with scenario %s (it belongs to scenario heartbeat)", k.key, s.Scenario),
				`scenario = "heartbeat" (and no idle, interval, count)`)
		}
	}
	if s.Mode != "" {
		if _, err := keepalive.ParseMode(s.Mode); err != nil {
			return c.fieldErr([]string{"settings", "mode"}, i, quote(s.Mode), modesAllowed+` (or no mode: server.mode)`, `mode = "`+closestMode(s.Mode)+`"`)
		}
	}
	for _, os := range oses {
		plat := keepalive.Platform{OS: os}
		err := s.Keepalive().Validate(plat)
		if err == nil {
			continue
		}
		var fe *keepalive.FieldError
		if !errors.As(err, &fe) {
			return c.errorAt(c.keyLine([]string{"settings", "idle"}, i), fmt.Sprintf("settings[%d] on %s: %v", i, os, err), "settings this OS can apply", "change the settings or server.select.os")
		}
		return c.fieldErr([]string{"settings", fe.Field}, i, fe.Value,
			fmt.Sprintf("%s on %s (server.select.os can match it)", fe.Allowed, fe.OS), settingsFix(fe.Field, s, plat))
	}
	return nil
}

// validateHeartbeat checks a heartbeat-scenario entry: heartbeat and misses
// in range, and no keepalive key (keepalive is off on its connection).
func (c *Config) validateHeartbeat(i int, s SettingsEntry) error {
	for _, k := range []struct {
		key string
		set bool
	}{{"idle", s.Idle != 0}, {"interval", s.Interval != 0}, {"count", s.Count != 0}, {"mode", s.Mode != ""}} {
		if k.set {
			return c.errorAt(c.keyLine([]string{"settings", k.key}, i),
				fmt.Sprintf("settings[%d].%s with scenario heartbeat: keepalive is off in that scenario", i, k.key),
				"heartbeat and misses only", "remove "+k.key+" from this entry (compare with keepalive in another [[settings]] entry)")
		}
	}
	if s.Heartbeat < keepalive.HeartbeatMinPeriod || s.Heartbeat > keepalive.HeartbeatMaxPeriod {
		return c.fieldErr([]string{"settings", "heartbeat"}, i, s.Heartbeat, heartbeatAllowed,
			durFix("heartbeat", clampDur(max(s.Heartbeat, 200*time.Millisecond), keepalive.HeartbeatMinPeriod, keepalive.HeartbeatMaxPeriod)))
	}
	if s.Misses < 1 || s.Misses > keepalive.HeartbeatMaxMisses {
		return c.fieldErr([]string{"settings", "misses"}, i, s.Misses, missesAllowed, fmt.Sprintf("misses = %d", min(max(s.Misses, 3), keepalive.HeartbeatMaxMisses)))
	}
	return nil
}

// settingsFix suggests the nearest value plat accepts for field.
func settingsFix(field string, s SettingsEntry, plat keepalive.Platform) string {
	l, err := keepalive.LimitsFor(plat)
	if err != nil {
		return "narrow server.select.os"
	}
	dur := func(v, lo, hi time.Duration) string {
		v = clampDur(v, lo, hi)
		if l.Unit > 0 && v%l.Unit != 0 {
			v = (v/l.Unit + 1) * l.Unit
			if v > hi {
				v -= l.Unit
			}
		}
		return durFix(field, v)
	}
	switch field {
	case "idle":
		return dur(s.Idle, l.MinIdle, l.MaxIdle)
	case "interval":
		return dur(s.Interval, l.MinInterval, l.MaxInterval)
	}
	if !l.CountSettable {
		return fmt.Sprintf("count = %d", l.FixedCount)
	}
	return fmt.Sprintf("count = %d", min(max(s.Count, l.MinCount), l.MaxCount))
}

// headerRE matches a [table] or [[array]] header line.
var headerRE = regexp.MustCompile(`^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?`)

// keyLine finds the line of key in the source: it tracks [table] and
// [[array]] headers (index picks the index-th array element; -1 = any)
// and returns the line assigning the key (plain, dotted from an enclosing
// table, or inside an inline table), or the header line of its table, or
// 1. BurntSushi/toml keeps key positions private, so kalab locates keys
// itself for its messages.
func (c *Config) keyLine(key []string, index int) int {
	return findKeyLine(c.src, key, index)
}

func findKeyLine(src []byte, key []string, index int) int {
	var table []string
	occ := map[string]int{}
	headerLine := 0
	parentKey := strings.Join(key[:len(key)-1], ".")
	for n, l := range strings.Split(string(src), "\n") {
		if m := headerRE.FindStringSubmatch(l); m != nil {
			table = strings.Split(m[2], ".")
			tk := m[2]
			if m[1] == "[[" {
				occ[tk]++
			}
			if tk == parentKey && (index < 0 || occ[tk] == index+1) {
				headerLine = n + 1
			}
			if tk == strings.Join(key, ".") && (index < 0 || occ[tk] == index+1) {
				return n + 1 // the key is this table
			}
			continue
		}
		if len(table) >= len(key) || !slices.Equal(table, key[:len(table)]) {
			continue
		}
		if index >= 0 && len(table) > 0 && occ[table[0]] != index+1 {
			continue
		}
		rest := key[len(table):]
		if after, ok := cutDotted(l, rest); ok && strings.HasPrefix(after, "=") {
			return n + 1
		}
		if len(rest) >= 2 {
			if after, ok := cutDotted(l, rest[:len(rest)-1]); ok && strings.HasPrefix(after, "=") && inlineAssigns(after, rest[len(rest)-1]) {
				return n + 1
			}
		}
	}
	if headerLine > 0 {
		return headerLine
	}
	return 1
}

// cutDotted matches the dotted key parts (each optionally quoted, spaces
// around the dots) at the start of line and returns the rest, trimmed.
func cutDotted(line string, parts []string) (string, bool) {
	s := strings.TrimLeft(line, " \t")
	for i, p := range parts {
		q := ""
		if s != "" && (s[0] == '"' || s[0] == '\'') {
			q, s = s[:1], s[1:]
		}
		if !strings.HasPrefix(s, p) {
			return "", false
		}
		s = s[len(p):]
		if q != "" {
			if !strings.HasPrefix(s, q) {
				return "", false
			}
			s = s[1:]
		}
		s = strings.TrimLeft(s, " \t")
		if i < len(parts)-1 {
			if !strings.HasPrefix(s, ".") {
				return "", false
			}
			s = strings.TrimLeft(s[1:], " \t")
		}
	}
	return s, true
}

// inlineAssigns reports whether s holds "{ … key =" or ", key =".
func inlineAssigns(s, key string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '{' && s[i] != ',' {
			continue
		}
		if after, ok := cutDotted(s[i+1:], []string{key}); ok && strings.HasPrefix(after, "=") {
			return true
		}
	}
	return false
}
