package agentd

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/BurntSushi/toml"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/fault"
	"github.com/kalab-dev/kalab/internal/tomlshape"
)

// Config is the agent's local configuration: agent.toml (keys in the toml
// tags) and the flags of `agent run`, which win over the file. It is the
// only place hypervisor commands can come from: the cluster can ask for
// "vm-pause", never say how. docs/install.md shows a complete file.
type Config struct {
	// Name is the agent's node name, unique in the cluster; experiments
	// select and report agents by it. Default: the host name. Two agents
	// with one name make serf refuse the second.
	Name string `toml:"name"`
	// Bind is the host:port serf listens on (TCP and UDP). Default
	// 0.0.0.0:7946. Fails at start if the port is taken.
	Bind string `toml:"bind"`
	// Advertise is the host:port other members reach this agent at, and its
	// IP is where the agent serves experiment connections. Required when
	// Bind is 0.0.0.0 (the agent will not guess which interface).
	Advertise string `toml:"advertise"`
	// Join lists host:port of members to join at start (any one that
	// answers is enough). Empty: wait to be joined.
	Join []string `toml:"join"`
	// KeyFile is the gossip encryption key (`coordinator keygen -o`),
	// base64 of 16, 24 or 32 bytes. Required: agents never talk in clear.
	// A secret: it must be a regular file owned by root or the agent's
	// user, and neither readable nor writable by group or others (Unix
	// mode 0600; on Windows no ACE granting read or write to anyone but
	// SYSTEM, Administrators and the owner).
	KeyFile string `toml:"key_file"`
	// DataDir holds the agent's state (pid file, fault journal, fault
	// state such as the macOS pf token); created with mode 0700 when
	// missing. Required: kalab keeps no state in the system temp dir.
	DataDir string `toml:"data_dir"`
	// CoordinatorKey is the coordinator's Ed25519 public key file
	// (coordinator.pub, written by `coordinator keygen` beside the gossip
	// key: base64 of the 32-byte public key on one line; read by
	// ReadCoordinatorKey). The agent obeys only commands signed with the
	// matching private key. Required; like agent.toml it must not be
	// writable by group or others (Unix mode 0644 or stricter).
	CoordinatorKey string `toml:"coordinator_key"`
	// MaxRuns is how many runs the agent holds state for at once; more are
	// refused. Default 64 (DefaultMaxRuns) when 0 or absent; allowed
	// 1..MaxMaxRuns.
	MaxRuns int `toml:"max_runs"`
	// Targets are the services outside the cluster (ip:port) this agent's
	// client may connect to for bisection, when no agent runs on their
	// host (a managed database, a load balancer). The coordinator can name
	// only these: a cluster command never makes the agent connect anywhere
	// else. Default none.
	Targets []string `toml:"targets"`
	// Hypervisor is the optional [hypervisor] table: how this host pauses
	// and resumes the client's VM for the vm-pause fault. vm, pause and
	// resume must be given together; "{vm}" in an argument is replaced by
	// vm. Without it, vm-pause is not offered by this agent.
	Hypervisor fault.Hypervisor `toml:"hypervisor"`

	// LabEmulateVM makes vm-pause a host drop + SIGSTOP of the client (the
	// netns lab has no VMs); runs are labelled "emulated". Flag only.
	LabEmulateVM bool `toml:"-"`
	// Logger receives the agent's and serf's logs. Default slog.Default().
	Logger *slog.Logger `toml:"-"`

	// path and src are the agent.toml ReadConfig read, so that Validate's
	// errors name the key's line; empty for a config made from flags.
	path string
	src  []byte
}

// MaxConfigSize bounds agent.toml (64 KiB): a larger file is refused
// before it is parsed. A real one is a dozen lines.
const MaxConfigSize = 64 << 10

// MaxMaxRuns is the largest max_runs.
const MaxMaxRuns = 1024

// maxKeyFileSize bounds the key files Validate reads: a key is one line of
// base64.
const maxKeyFileSize = 4 << 10

// configKeys are the keys agent.toml accepts, for error messages.
const configKeys = "name, bind, advertise, join, key_file, data_dir, coordinator_key, max_runs, [hypervisor] vm/pause/resume"

// keyAllowed says what each agent.toml key accepts and shows a line that
// would be accepted, for error messages.
var keyAllowed = map[string][2]string{
	"name":            {"a node name, unique in the cluster (a string)", `name = "linux-1"`},
	"bind":            {"host:port, a string", `bind = "0.0.0.0:7946"`},
	"advertise":       {"this host's IP:port, a string", `advertise = "192.0.2.10:7946"`},
	"join":            {"a list of host:port strings", `join = ["192.0.2.20:7946"]`},
	"key_file":        {"the path of the gossip key file `coordinator keygen -o kalab.key` wrote (a string)", `key_file = "` + examplePath("kalab.key") + `"`},
	"data_dir":        {"the path of a directory for the agent's state (a string)", `data_dir = "` + exampleDataDir() + `"`},
	"coordinator_key": {"the path of coordinator.pub from `coordinator keygen` (a string)", `coordinator_key = "` + examplePath("coordinator.pub") + `"`},
	"max_runs":        {fmt.Sprintf("an integer 1..%d (0 or absent: %d)", MaxMaxRuns, DefaultMaxRuns), "max_runs = 64"},
	"targets":         {"a list of ip:port strings: services outside the cluster this agent's client may bisect", `targets = ["192.0.2.30:5432"]`},
	"hypervisor":      {"a [hypervisor] table with vm, pause and resume", "[hypervisor]"},
	"hypervisor.vm":   {"the VM's name for the hypervisor (a string)", `vm = "client-vm"`},
	"hypervisor.pause": {"a command as a list of strings, {vm} replaced by vm",
		`pause = ["virsh", "suspend", "{vm}"]`},
	"hypervisor.resume": {"a command as a list of strings, {vm} replaced by vm",
		`resume = ["virsh", "resume", "{vm}"]`},
}

// examplePath is where docs/install.md puts kalab's files on this OS.
func examplePath(file string) string {
	switch runtime.GOOS {
	case "windows":
		return `C:\\kalab\\` + file
	case "darwin":
		return "/usr/local/etc/kalab/" + file
	}
	return "/etc/kalab/" + file
}

func exampleDataDir() string {
	switch runtime.GOOS {
	case "windows":
		return `C:\\kalab\\data`
	case "darwin":
		return "/usr/local/var/kalab"
	}
	return "/var/lib/kalab"
}

// LoadConfig reads agent.toml strictly (unknown keys are errors) and
// validates it. Errors are one *FieldError naming the file, the key's
// line, what is allowed and the fix.
//
//	name = "win-1"
//	bind = "0.0.0.0:7946"
//	advertise = "192.0.2.20:7946"
//	join = ["192.0.2.10:7946"]
//	key_file = "C:\\kalab\\kalab.key"
//	coordinator_key = "C:\\kalab\\coordinator.pub"
//	data_dir = "C:\\kalab\\data"
//	[hypervisor]          # optional: how this host pauses the client's VM
//	vm = "client-vm"
//	pause = ["virsh", "suspend", "{vm}"]
//	resume = ["virsh", "resume", "{vm}"]
func LoadConfig(path string) (Config, error) {
	c, err := ReadConfig(path)
	if err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// ReadConfig reads agent.toml strictly (unknown keys are errors) without
// validating it, for callers that complete it first (flags) or check more
// (the service wants absolute paths). The file itself must not be
// writable by group or others (it says which commands the agent runs as
// root) and is at most MaxConfigSize bytes.
func ReadConfig(path string) (Config, error) {
	if err := checkFile(path, "", path, false); err != nil {
		return Config{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return Config{}, &FieldError{File: path, Line: 1, Err: fmt.Errorf("agent config: %w", err), Allowed: "a readable agent.toml", Fix: "give the path of the agent's config file"}
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return Config{}, &FieldError{File: path, Line: 1, Err: fmt.Errorf("agent config: %w", err), Allowed: "a readable agent.toml", Fix: "give the path of the agent's config file"}
	}
	return parseConfig(path, src)
}

// parseConfig decodes agent.toml's bytes strictly: size, shape, syntax,
// types and unknown keys, one error at most.
func parseConfig(path string, src []byte) (Config, error) {
	if len(src) > MaxConfigSize {
		return Config{}, &FieldError{File: path, Line: 1, Err: fmt.Errorf("agent config is over %d bytes", MaxConfigSize),
			Allowed: fmt.Sprintf("at most %d bytes (64 KiB)", MaxConfigSize), Fix: "an agent.toml is a dozen lines: keep only the keys docs/install.md lists"}
	}
	if p := tomlshape.Check(src, tomlshape.Limits{Depth: 3, KeyParts: 4, Keys: 1000}); p.Problem != "" {
		line, problem, allowed := p.Line, p.Problem, p.Allowed
		key := lineKey(src, line)
		if key != "" {
			problem = key + ": " + problem
		}
		return Config{}, &FieldError{File: path, Line: line, Key: key, Err: errors.New(problem),
			Allowed: allowed, Fix: "write the keys plainly, as docs/install.md shows"}
	}
	c := Config{path: path, src: src}
	// First into a plain map: BurntSushi/toml matches keys to fields
	// case-insensitively and unifies a table in map order, so "Name" and
	// "name" together would make the result random. Names (exactly as
	// spelled) and types are checked in a fixed order first.
	var raw map[string]any
	md, err := toml.NewDecoder(bytes.NewReader(src)).Decode(&raw)
	if err != nil {
		return Config{}, c.decodeError(err)
	}
	var unknown []string
	for _, k := range md.Keys() {
		if _, ok := keyAllowed[k.String()]; !ok {
			unknown = append(unknown, k.String())
		}
	}
	if len(unknown) > 0 {
		key := unknown[0]
		more, fix := "", "remove "+tomlshape.OneLine(key, 120)+" or correct its spelling (docs/install.md lists every key)"
		if len(unknown) > 1 {
			more = fmt.Sprintf(" and %d more", len(unknown)-1)
		}
		if _, ok := keyAllowed[strings.ToLower(key)]; ok {
			fix = "write it " + strings.ToLower(key) + " (keys are lower case)"
		}
		return Config{}, &FieldError{File: path, Line: c.keyLine(key), Key: key, Err: fmt.Errorf("unknown keys %s%s", tomlshape.OneLine(key, 120), more),
			Allowed: "the keys " + configKeys, Fix: fix}
	}
	if err := c.checkTypes(raw); err != nil {
		return Config{}, err
	}
	if _, err := toml.NewDecoder(bytes.NewReader(src)).Decode(&c); err != nil {
		return Config{}, c.decodeError(err)
	}
	return c, nil
}

// decodeError turns a TOML syntax or type error into a *FieldError.
func (c Config) decodeError(err error) error {
	line, key, msg := tomlshape.ErrorAt(err)
	allowed, fix := "TOML: key = value lines, [hypervisor] table", `write key = value with strings in double quotes, e.g. name = "linux-1"`
	if a, ok := keyAllowed[key]; ok {
		allowed, fix = a[0], a[1]
	}
	what := msg
	if key != "" {
		what = key + ": " + msg
	}
	return &FieldError{File: c.path, Line: max(line, 1), Key: key, Err: errors.New(tomlshape.OneLine(strings.TrimSuffix(what, "."), 120)), Allowed: allowed, Fix: fix}
}

// configTypes are the TOML types of agent.toml's keys, in the order they
// are checked.
var configTypes = []struct{ key, typ string }{
	{"name", "string"}, {"bind", "string"}, {"advertise", "string"}, {"join", "strings"}, {"key_file", "string"},
	{"data_dir", "string"}, {"coordinator_key", "string"}, {"max_runs", "integer"}, {"targets", "strings"}, {"hypervisor", "table"},
	{"hypervisor.vm", "string"}, {"hypervisor.pause", "strings"}, {"hypervisor.resume", "strings"},
}

// checkTypes checks the decoded values' types, so that decoding into the
// Config cannot fail.
func (c Config) checkTypes(raw map[string]any) error {
	for _, ct := range configTypes {
		var v any = raw
		for _, part := range strings.Split(ct.key, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			v = m[part]
		}
		if v == nil {
			continue
		}
		ok := false
		switch ct.typ {
		case "string":
			_, ok = v.(string)
		case "integer":
			_, ok = v.(int64)
		case "table":
			_, ok = v.(map[string]any)
		case "strings":
			if l, isList := v.([]any); isList {
				ok = true
				for _, e := range l {
					if _, isString := e.(string); !isString {
						ok = false
					}
				}
			}
		}
		if !ok {
			a := keyAllowed[ct.key]
			return &FieldError{File: c.path, Line: c.keyLine(ct.key), Key: ct.key, Err: fmt.Errorf("%s is %s", ct.key, tomlshape.Kind(v)), Allowed: a[0], Fix: a[1]}
		}
	}
	return nil
}

// withDefaults fills the name and bind address.
func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name, _ = os.Hostname()
	}
	if c.Bind == "" {
		c.Bind = net.JoinHostPort("0.0.0.0", strconv.Itoa(cluster.DefaultPort))
	}
	return c
}

// Validate checks what the agent needs before it may start: a concrete
// address to serve experiments on, a readable gossip key and coordinator
// public key that only trusted users can change (the gossip key that only
// they can read), a data_dir, max_runs in range and a complete
// [hypervisor] table if any of it is given. `agent run`, `agent doctor`
// and `agent service install` all use it. The error is one *FieldError.
func (c Config) Validate() error {
	if _, err := c.ServeAddr(); err != nil {
		return err
	}
	if c.KeyFile == "" {
		return c.fieldErr("key_file", errors.New("key_file (--key-file) is required"),
			"the path of the gossip key file `coordinator keygen -o kalab.key` wrote", "copy kalab.key to this host (mode 0600) and set "+keyAllowed["key_file"][1])
	}
	if err := checkFile(c.KeyFile, "key_file", c.path, true); err != nil {
		return c.located(err)
	}
	b, err := readSmall(c.KeyFile)
	if err == nil {
		_, err = cluster.DecodeKey(b)
	}
	if err != nil {
		return c.fieldErr("key_file", fmt.Errorf("key_file: %w", err), "base64 of a 16, 24 or 32-byte key on one line, as `coordinator keygen` writes it",
			"copy kalab.key from the machine that ran `coordinator keygen` again, and point key_file at it")
	}
	if c.DataDir == "" {
		return c.fieldErr("data_dir", errors.New("data_dir (--data-dir) is required: kalab keeps no state in the system temp dir"),
			"the path of a directory for the agent's state, created with mode 0700 if missing", keyAllowed["data_dir"][1])
	}
	if fi, err := os.Stat(c.DataDir); err == nil && !fi.IsDir() {
		return c.fieldErr("data_dir", fmt.Errorf("data_dir %q is not a directory", c.DataDir),
			"a directory (created with mode 0700 if missing)", "point data_dir at a directory, e.g. "+keyAllowed["data_dir"][1])
	}
	if c.CoordinatorKey == "" {
		return c.fieldErr("coordinator_key", errors.New("coordinator_key (--coordinator-key) is required: the agent obeys only commands the coordinator signed"),
			"the path of coordinator.pub, which `coordinator keygen` wrote", "copy coordinator.pub to this host and set "+keyAllowed["coordinator_key"][1])
	}
	if err := checkFile(c.CoordinatorKey, "coordinator_key", c.path, false); err != nil {
		return c.located(err)
	}
	if _, err := ReadCoordinatorKey(c.CoordinatorKey); err != nil {
		return c.fieldErr("coordinator_key", fmt.Errorf("coordinator_key: %w", err), "base64 of the coordinator's 32-byte Ed25519 public key on one line (coordinator.pub)",
			"copy coordinator.pub (not coordinator.key) from the machine that ran `coordinator keygen`")
	}
	if c.MaxRuns < 0 || c.MaxRuns > MaxMaxRuns {
		return c.fieldErr("max_runs", fmt.Errorf("max_runs = %d", c.MaxRuns), keyAllowed["max_runs"][0], fmt.Sprintf("max_runs = %d", min(max(c.MaxRuns, 1), MaxMaxRuns)))
	}
	for _, t := range c.Targets {
		if ap, err := netip.ParseAddrPort(t); err != nil || ap.Port() == 0 || ap.Addr().IsUnspecified() {
			return c.fieldErr("targets", fmt.Errorf("targets: %q is not an ip:port", t), keyAllowed["targets"][0], keyAllowed["targets"][1])
		}
	}
	h := c.Hypervisor
	if (h.VM != "" || len(h.Pause) > 0 || len(h.Resume) > 0) && !h.Configured() {
		missing := []string{}
		for _, k := range []struct {
			name string
			set  bool
		}{{"vm", h.VM != ""}, {"pause", len(h.Pause) > 0}, {"resume", len(h.Resume) > 0}} {
			if !k.set {
				missing = append(missing, k.name)
			}
		}
		return c.fieldErr("hypervisor", fmt.Errorf("[hypervisor] needs vm, pause and resume together (%s missing)", strings.Join(missing, ", ")),
			"all three of vm, pause and resume, or no [hypervisor] table", "add "+strings.Join(missing, " and ")+`, e.g. vm = "client-vm", pause = ["virsh", "suspend", "{vm}"], resume = ["virsh", "resume", "{vm}"]`)
	}
	for _, cmd := range []struct {
		key  string
		argv []string
	}{{"hypervisor.pause", h.Pause}, {"hypervisor.resume", h.Resume}} {
		for _, a := range cmd.argv {
			if a == "" || strings.ContainsRune(a, 0) {
				return c.fieldErr(cmd.key, fmt.Errorf("%s has an empty argument or a NUL byte", cmd.key), keyAllowed[cmd.key][0]+", none empty", keyAllowed[cmd.key][1])
			}
		}
	}
	return nil
}

// ReadCoordinatorKey reads the coordinator's public key file
// (coordinator.pub from `coordinator keygen`: base64 of the 32-byte Ed25519
// public key on one line). It reads at most 4 KiB and says so when it is
// given the private key instead.
func ReadCoordinatorKey(path string) (ed25519.PublicKey, error) {
	b, err := readSmall(path)
	if err != nil {
		return nil, err
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("coordinator public key %s: not base64 (coordinator keygen writes base64 of 32 bytes on one line)", path)
	}
	switch len(k) {
	case ed25519.PublicKeySize:
		return ed25519.PublicKey(k), nil
	case ed25519.PrivateKeySize:
		return nil, fmt.Errorf("coordinator public key %s: %d bytes: this looks like the private key coordinator.key; agents need coordinator.pub", path, len(k))
	}
	return nil, fmt.Errorf("coordinator public key %s: %d bytes, want %d (coordinator keygen writes it)", path, len(k), ed25519.PublicKeySize)
}

// readSmall reads a key file: a regular file of at most maxKeyFileSize
// bytes (not a device or a pipe, which could block or never end).
func readSmall(path string) ([]byte, error) {
	// Stat first: opening a named pipe would block.
	if fi, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read key file %s: not a regular file", path)
	}
	// Non-blocking: some "regular" files (/proc/kmsg) block a read.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	if len(b) > maxKeyFileSize {
		return nil, fmt.Errorf("key file %s is over %d bytes: not a key", path, maxKeyFileSize)
	}
	return b, nil
}

// checkFile refuses a file whose permissions let others change it (or,
// for a secret, read it): the agent runs as root and trusts what these
// files say. key is the config key naming it ("" for agent.toml itself).
func checkFile(path, key, config string, secret bool) error {
	fi, err := os.Stat(path)
	if err != nil {
		what := "agent config"
		if key != "" {
			what = key + ": read key file"
		}
		return &FieldError{File: config, Key: key, Err: fmt.Errorf("%s: %w", what, err), Allowed: "an existing file", Fix: "check the path " + strconv.Quote(path)}
	}
	what := path
	if key != "" {
		what = key + " " + path
	}
	if !fi.Mode().IsRegular() {
		kind := "a special file"
		switch {
		case fi.IsDir():
			kind = "a directory"
		case fi.Mode()&fs.ModeDevice != 0:
			kind = "a device"
		case fi.Mode()&fs.ModeNamedPipe != 0:
			kind = "a named pipe"
		}
		return &FieldError{File: config, Key: key, Err: fmt.Errorf("%s is %s, not a regular file", what, kind), Allowed: "a regular file", Fix: "point it at the file itself"}
	}
	v, err := filePermProblem(path, fi, secret)
	if err != nil {
		return &FieldError{File: config, Key: key, Err: fmt.Errorf("%s: read permissions: %w", path, err), Allowed: v.allowed, Fix: "check the file"}
	}
	if v.problem == "" {
		return nil
	}
	return &FieldError{File: config, Key: key, Err: fmt.Errorf("%s: %s", what, v.problem), Allowed: v.allowed, Fix: v.fix}
}

// permVerdict is what filePermProblem found: problem is "" when the
// permissions are fine; allowed says what is, fix is a command.
type permVerdict struct{ problem, allowed, fix string }

// fieldErr builds the error for key, at its line when the config came
// from a file.
func (c Config) fieldErr(key string, err error, allowed, fix string) error {
	return c.located(&FieldError{Key: key, Err: err, Allowed: allowed, Fix: fix})
}

// located fills File and Line of a *FieldError from the file the config
// was read from (the key's line, or 1 when the file does not set it).
func (c Config) located(err error) error {
	var fe *FieldError
	if !errors.As(err, &fe) || c.path == "" {
		return err
	}
	fe.File = c.path
	if fe.Key != "" {
		fe.Line = c.keyLine(fe.Key)
	} else {
		fe.Line = 1
	}
	return fe
}

// keyLine finds the line assigning key ("hypervisor.pause" for a key of
// the table) in the config's source: at the top (plain or dotted), in its
// [table], or else the table's header; 1 when the file does not set it.
func (c Config) keyLine(key string) int {
	table, name := "", key
	if t, n, ok := strings.Cut(key, "."); ok {
		table, name = t, n
	}
	cur, header := "", 0
	for n, l := range strings.Split(string(c.src), "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") {
			if end := strings.Index(t, "]"); end > 0 {
				cur = strings.Trim(strings.TrimSpace(strings.Trim(t[:end], "[")), `"'`)
				if header == 0 && (cur == key || cur == table && table != "") {
					header = n + 1
				}
			}
			continue
		}
		k, _, ok := strings.Cut(t, "=")
		if !ok {
			continue
		}
		k = strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '"' || r == '\'' {
				return -1
			}
			return r
		}, k)
		if cur == table && k == name || cur == "" && k == key {
			return n + 1
		}
	}
	if header > 0 {
		return header
	}
	return 1
}

// lineKey is the key assigned on line n of src, for errors found before
// parsing.
func lineKey(src []byte, n int) string {
	lines := bytes.SplitN(src, []byte("\n"), n+1)
	if n-1 >= len(lines) {
		return ""
	}
	k, _, _ := strings.Cut(string(lines[n-1]), "=")
	return tomlshape.OneLine(strings.TrimSpace(k), 120)
}

// FieldError is a validation error of one agent.toml key (or of the file
// itself), printed "file:line: what is wrong: allowed …; fix: …".
type FieldError struct {
	// File is the agent.toml the key was read from; "" when the value came
	// from a flag.
	File string
	// Line is the key's line in File, 1 when the file does not set it;
	// 0 without a file.
	Line int
	// Key is the agent.toml key at fault (key_file, advertise, hypervisor,
	// …); "" for the file as a whole.
	Key string
	// Err says what is wrong.
	Err error
	// Allowed says what the key accepts.
	Allowed string
	// Fix says how to correct it: a value to write or a command to run.
	Fix string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		fmt.Fprintf(&b, "%s:%d: ", e.File, max(e.Line, 1))
	}
	b.WriteString(e.Err.Error())
	if e.Allowed != "" {
		b.WriteString(": allowed " + e.Allowed)
	}
	if e.Fix != "" {
		b.WriteString("; fix: " + e.Fix)
	}
	return b.String()
}

func (e *FieldError) Unwrap() error { return e.Err }

// ServeAddr is the IP the agent serves experiments on (advertise's, or
// bind's when it is concrete) and its serf port.
func (c Config) ServeAddr() (netip.AddrPort, error) {
	key := "advertise"
	if c.Advertise == "" {
		key = "bind"
	}
	c = c.withDefaults()
	adv := c.Advertise
	if adv == "" {
		adv = c.Bind
	}
	host, ps, err := net.SplitHostPort(adv)
	if err != nil {
		return netip.AddrPort{}, c.fieldErr(key, fmt.Errorf("advertise/bind %q: %w", adv, err), "host:port, e.g. 192.0.2.10:7946", keyAllowed["advertise"][1])
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.IsUnspecified() {
		return netip.AddrPort{}, c.fieldErr(key, fmt.Errorf("need a concrete address to serve experiments on: set advertise (--advertise) to this host's IP and port (got %q)", host),
			"an IP address of this host with a port", keyAllowed["advertise"][1])
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return netip.AddrPort{}, c.fieldErr(key, fmt.Errorf("advertise/bind %q: port: %w", adv, err), "a port 0..65535", keyAllowed["advertise"][1])
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), nil
}

// shellQuote quotes a path for a shell command when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
