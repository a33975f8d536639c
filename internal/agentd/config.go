package agentd

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/fault"
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
	KeyFile string `toml:"key_file"`
	// DataDir holds the agent's state (pid file, fault state such as the
	// macOS pf token). Default: none (state in memory only).
	DataDir string `toml:"data_dir"`
	// CoordinatorKey is the coordinator's Ed25519 public key file
	// (coordinator.pub, written by `coordinator keygen` beside the gossip
	// key: base64 of 32 bytes). The agent obeys only commands signed with
	// the matching private key. Required.
	CoordinatorKey string `toml:"coordinator_key"`
	// MaxRuns is how many runs the agent holds state for at once; more are
	// refused. Default 64 (DefaultMaxRuns).
	MaxRuns int `toml:"max_runs"`
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
}

// configKeys are the keys agent.toml accepts, for error messages.
const configKeys = "name, bind, advertise, join, key_file, data_dir, [hypervisor] vm/pause/resume"

// LoadConfig reads agent.toml strictly (unknown keys are errors) and
// validates it.
//
//	name = "win-1"
//	bind = "0.0.0.0:7946"
//	advertise = "192.0.2.20:7946"
//	join = ["192.0.2.10:7946"]
//	key_file = "C:\\kalab\\kalab.key"
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
		return Config{}, fmt.Errorf("agent config %s: %w", path, err)
	}
	return c, nil
}

// ReadConfig reads agent.toml strictly (unknown keys are errors) without
// validating it, for callers that complete it first (flags) or check more
// (the service wants absolute paths).
func ReadConfig(path string) (Config, error) {
	var c Config
	md, err := toml.DecodeFile(path, &c)
	if err != nil {
		return Config{}, fmt.Errorf("agent config %s: %w", path, err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		keys := make([]string, len(u))
		for i, k := range u {
			keys[i] = k.String()
		}
		return Config{}, fmt.Errorf("agent config %s: unknown keys %s (known: %s)", path, strings.Join(keys, ", "), configKeys)
	}
	return c, nil
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
// address to serve experiments on, a readable gossip key, and a complete
// [hypervisor] table if any of it is given. `agent run`, `agent doctor`
// and `agent service install` all use it.
func (c Config) Validate() error {
	if _, err := c.ServeAddr(); err != nil {
		return err
	}
	if c.KeyFile == "" {
		return &FieldError{Key: "key_file", Err: errors.New("key_file (--key-file) is required: copy the key `coordinator keygen -o kalab.key` wrote to this host")}
	}
	if _, err := cluster.ReadKeyFile(c.KeyFile); err != nil {
		return &FieldError{Key: "key_file", Err: fmt.Errorf("key_file: %w", err)}
	}
	h := c.Hypervisor
	if (h.VM != "" || len(h.Pause) > 0 || len(h.Resume) > 0) && !h.Configured() {
		return &FieldError{Key: "hypervisor", Err: errors.New("[hypervisor] needs vm, pause and resume together")}
	}
	return nil
}

// FieldError is a validation error of one agent.toml key.
type FieldError struct {
	// Key is the agent.toml key at fault (key_file, advertise, hypervisor).
	Key string
	// Err says what is wrong and how to fix it.
	Err error
}

func (e *FieldError) Error() string { return e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// ServeAddr is the IP the agent serves experiments on (advertise's, or
// bind's when it is concrete) and its serf port.
func (c Config) ServeAddr() (netip.AddrPort, error) {
	c = c.withDefaults()
	adv := c.Advertise
	if adv == "" {
		adv = c.Bind
	}
	host, ps, err := net.SplitHostPort(adv)
	if err != nil {
		return netip.AddrPort{}, &FieldError{Key: "advertise", Err: fmt.Errorf("advertise/bind %q: %w", adv, err)}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.IsUnspecified() {
		return netip.AddrPort{}, &FieldError{Key: "advertise", Err: fmt.Errorf("need a concrete address to serve experiments on: set advertise (--advertise) to this host's IP and port (got %q)", host)}
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return netip.AddrPort{}, &FieldError{Key: "advertise", Err: fmt.Errorf("advertise/bind %q: port: %w", adv, err)}
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), nil
}
