// Package doctor is `agent doctor`: it checks what this host can do as a
// kalab agent and what is missing — privileges, the config and key file,
// the serf port, the advertised address, ICMP sockets, clock sync, the
// firewall openings to make, and every fault kind (from
// fault.Capabilities: nftables, WFP or pf, process control, hypervisor
// hook) — and turns that into an exit code:
//
//	0  the agent can run and every required fault kind is ready
//	1  the agent can run, but some required fault kinds are not ready
//	2  the agent cannot run (or cannot serve experiments) at all
//
// Required fault kinds are drop, drop-host, pause and kill, and vm-pause
// when the config sets a [hypervisor] hook (without one, vm-pause is
// reported as optional). Warnings (no ICMP socket, clock not synchronized)
// weaken results but never change the exit code.
//
// OS-specific facts live in doctor_<os>.go; everything that decides or
// formats is here, pure and table-tested.
package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/agentd"
	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/fault"
	"github.com/kalab-dev/kalab/internal/probe"
	"github.com/kalab-dev/kalab/internal/version"
)

// Exit codes of `agent doctor` (see the package comment).
const (
	ExitReady     = 0
	ExitNotReady  = 1
	ExitCannotRun = 2
)

// State of a host check.
type State string

const (
	OK   State = "ok"   // the check passed
	Info State = "info" // nothing to judge: a fact or a step to take by hand
	Warn State = "warn" // results are weaker, the agent still runs
	Fail State = "fail" // the agent cannot run or serve experiments: exit 2
)

// Check is one host check.
type Check struct {
	// Name says what was checked ("config", "key file", "icmp", …).
	Name string `json:"name"`
	// State is the verdict; Detail what was found; Fix the command or
	// change that would make a warn or fail pass (empty when none).
	State  State  `json:"state"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// FaultKind is whether this host can apply one fault kind.
type FaultKind struct {
	// Kind is the fault kind (fault.Cap*); Ready whether this host can
	// apply it now, Why when it cannot.
	Kind  string `json:"kind"`
	Ready bool   `json:"ready"`
	// Required kinds decide the exit code; vm-pause is required only with
	// a [hypervisor] hook in the config.
	Required bool   `json:"required"`
	Why      string `json:"why"`
}

// Report is what `agent doctor` prints.
type Report struct {
	// OS, Arch and Version describe the host (Version: kernel release,
	// Windows build or macOS version).
	OS      string `json:"os"`
	Arch    string `json:"arch"`
	Version string `json:"version"`
	// Checks are the host checks in the order printed; Faults what each
	// fault kind needs here.
	Checks []Check     `json:"checks"`
	Faults []FaultKind `json:"faults"`
	// Exit is the exit code the report implies (ExitReady, ExitNotReady or
	// ExitCannotRun).
	Exit int `json:"exit"`
}

// Options of Run.
type Options struct {
	// ConfigPath is agent.toml; empty checks the defaults of `agent run`
	// (bind 0.0.0.0:7946, no hypervisor hook).
	ConfigPath string
	// ICMPTimeout bounds each ICMP socket test against 127.0.0.1; 0 means
	// 1s.
	ICMPTimeout time.Duration
}

// Run checks this host. It changes nothing: ports are bound and closed,
// ICMP goes to 127.0.0.1 only.
func Run(ctx context.Context, opt Options) Report {
	r := Report{OS: runtime.GOOS, Arch: runtime.GOARCH, Version: version.String()}
	cfg, cfgChecks := loadConfig(opt.ConfigPath)
	r.Checks = append(r.Checks, privileges())
	r.Checks = append(r.Checks, cfgChecks...)

	bind := cfg.Bind
	if bind == "" {
		bind = net.JoinHostPort("0.0.0.0", strconv.Itoa(cluster.DefaultPort))
	}
	tcpErr, udpErr := tryBind(bind)
	r.Checks = append(r.Checks, portCheck(bind, tcpErr, udpErr, isAddrInUse))
	if ip, ok := experimentIP(cfg); ok {
		r.Checks = append(r.Checks, advertiseCheck(ip, tryListen(ip)))
	} else if opt.ConfigPath == "" {
		r.Checks = append(r.Checks, Check{Name: "advertise", State: Info,
			Detail: "no address known: `agent run` needs --advertise <this host's IP>:7946 (or advertise in agent.toml) when it binds 0.0.0.0; experiments are served on that IP"})
	}
	r.Checks = append(r.Checks, firewallCheck(runtime.GOOS, portOf(bind), agentPath()))

	timeout := opt.ICMPTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	results := map[bool]error{}
	for _, priv := range probe.PrivilegeOrder(runtime.GOOS) {
		results[priv] = icmpTry(ctx, priv, timeout)
	}
	r.Checks = append(r.Checks, icmpCheck(runtime.GOOS, results, icmpNote()))
	r.Checks = append(r.Checks, clockSync())

	r.Faults = faultKinds(fault.Capabilities(cfg.Hypervisor, false), cfg.Hypervisor, hookLookup)
	r.Exit = exitCode(r.Checks, r.Faults)
	return r
}

// loadConfig reads agent.toml, if given, and checks it as `agent run`
// would: strict keys, a concrete address to serve on, a readable key.
func loadConfig(path string) (agentd.Config, []Check) {
	if path == "" {
		return agentd.Config{}, []Check{{Name: "config", State: Info,
			Detail: "none given (--config agent.toml): checked the defaults of `agent run` (bind 0.0.0.0:7946, no [hypervisor] hook)"}}
	}
	cfg, err := agentd.ReadConfig(path)
	if err != nil {
		return agentd.Config{}, []Check{{Name: "config", State: Fail, Detail: err.Error(), Fix: fixOf(err)}}
	}
	err = cfg.Validate()
	var fe *agentd.FieldError
	if errors.As(err, &fe) && fe.Key == "key_file" {
		return cfg, []Check{{Name: "config", State: OK, Detail: describeConfig(path, cfg)},
			{Name: "key file", State: Fail, Detail: err.Error(), Fix: fixOf(err)}}
	}
	if err != nil {
		return cfg, []Check{{Name: "config", State: Fail, Detail: err.Error(), Fix: fixOf(err)}}
	}
	return cfg, []Check{{Name: "config", State: OK, Detail: describeConfig(path, cfg)},
		{Name: "key file", State: OK, Detail: cfg.KeyFile + " holds a valid gossip key"}}
}

// fixOf is the fix a config error carries, or the general advice.
func fixOf(err error) string {
	var fe *agentd.FieldError
	if errors.As(err, &fe) && fe.Fix != "" {
		return fe.Fix
	}
	return "fix the file: every key is described in docs/install.md"
}

func describeConfig(path string, cfg agentd.Config) string {
	parts := []string{path}
	for _, kv := range [][2]string{{"name", cfg.Name}, {"bind", cfg.Bind}, {"advertise", cfg.Advertise}, {"join", strings.Join(cfg.Join, ",")}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+kv[1])
		}
	}
	return strings.Join(parts, ", ")
}

// experimentIP is the IP the agent serves experiments on.
func experimentIP(cfg agentd.Config) (netip.Addr, bool) {
	ap, err := cfg.ServeAddr()
	return ap.Addr(), err == nil
}

func portOf(bind string) int {
	_, p, err := net.SplitHostPort(bind)
	if err != nil {
		return cluster.DefaultPort
	}
	n, err := strconv.Atoi(p)
	if err != nil || n == 0 {
		return cluster.DefaultPort
	}
	return n
}

// tryBind binds serf's TCP and UDP address and closes both at once.
func tryBind(bind string) (tcpErr, udpErr error) {
	if ln, err := net.Listen("tcp", bind); err != nil {
		tcpErr = err
	} else {
		ln.Close()
	}
	if pc, err := net.ListenPacket("udp", bind); err != nil {
		udpErr = err
	} else {
		pc.Close()
	}
	return tcpErr, udpErr
}

// portCheck judges the serf port: serf needs both TCP (push/pull, large
// queries) and UDP (gossip, probes) on the same address. In use is a
// warning: most likely an agent (the service) already runs here.
func portCheck(bind string, tcpErr, udpErr error, inUse func(error) bool) Check {
	c := Check{Name: "serf port"}
	switch {
	case tcpErr == nil && udpErr == nil:
		c.State, c.Detail = OK, fmt.Sprintf("TCP and UDP %s can be bound", bind)
	case (tcpErr == nil || inUse(tcpErr)) && (udpErr == nil || inUse(udpErr)):
		c.State, c.Detail = Warn, fmt.Sprintf("%s is already in use: is an agent already running here?", bind)
		c.Fix = "agent service status; stop the other process or choose another bind port"
	default:
		c.State = Fail
		c.Detail = fmt.Sprintf("cannot bind %s: %v", bind, errors.Join(tcpErr, udpErr))
		c.Fix = "bind must be an address of this host (or 0.0.0.0) with a free port; ports below 1024 need root"
	}
	return c
}

// tryListen binds a TCP port on ip, as the keepalive server role does for
// each run.
func tryListen(ip netip.Addr) error {
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		return err
	}
	return ln.Close()
}

func advertiseCheck(ip netip.Addr, err error) Check {
	if err != nil {
		return Check{Name: "advertise", State: Fail,
			Detail: fmt.Sprintf("cannot listen on %s, where experiments are served: %v", ip, err),
			Fix:    "advertise must be an address of this host that the other agents reach (not a NAT's public address)"}
	}
	return Check{Name: "advertise", State: OK, Detail: fmt.Sprintf("experiments can listen on %s", ip)}
}

// firewallCommands are the commands that open this host to the other
// agents, per OS. Serf needs TCP and UDP on its port; the keepalive server
// role listens on an ephemeral TCP port of the advertised IP for each run,
// and the server pings the client host; so where the firewall allows per
// program (Windows, macOS) the agent program is allowed as a whole.
func firewallCommands(goos string, port int, exe string) []string {
	p := strconv.Itoa(port)
	switch goos {
	case "windows":
		if exe == "" {
			exe = `C:\kalab\agent.exe`
		}
		return []string{
			`netsh advfirewall firewall add rule name="kalab agent" dir=in action=allow program="` + exe + `" enable=yes`,
			`netsh advfirewall firewall add rule name="kalab serf" dir=in action=allow protocol=TCP localport=` + p,
			`netsh advfirewall firewall add rule name="kalab serf udp" dir=in action=allow protocol=UDP localport=` + p,
			`netsh advfirewall firewall add rule name="kalab icmp echo" dir=in action=allow protocol=icmpv4:8,any`,
		}
	case "darwin":
		if exe == "" {
			exe = "/usr/local/bin/agent"
		}
		return []string{
			"sudo /usr/libexec/ApplicationFirewall/socketfilterfw --add " + exe,
			"sudo /usr/libexec/ApplicationFirewall/socketfilterfw --unblockapp " + exe,
			"sudo /usr/libexec/ApplicationFirewall/socketfilterfw --setstealthmode off   # stealth mode drops ICMP echo",
		}
	case "linux":
		return []string{
			"ufw:       sudo ufw allow " + p + "/tcp && sudo ufw allow " + p + "/udp && sudo ufw allow from <other agents' subnet>",
			"firewalld: sudo firewall-cmd --permanent --add-port=" + p + "/tcp --add-port=" + p + "/udp && sudo firewall-cmd --permanent --add-source=<subnet> --zone=trusted && sudo firewall-cmd --reload",
			"nftables:  sudo nft insert rule inet filter input 'meta l4proto { tcp, udp } th dport " + p + " accept' && sudo nft insert rule inet filter input ip saddr <subnet> accept",
		}
	default:
		return nil
	}
}

func firewallCheck(goos string, port int, exe string) Check {
	cmds := firewallCommands(goos, port, exe)
	c := Check{Name: "firewall", State: Info,
		Detail: fmt.Sprintf("not inspected: other agents must reach TCP+UDP %d (serf), an ephemeral TCP port of the advertised IP (the keepalive server) and ICMP echo", port)}
	if len(cmds) > 0 {
		c.Fix = "open them, e.g.:\n" + strings.Join(cmds, "\n")
	}
	return c
}

// agentPath is this binary, for per-program firewall rules; "" if unknown.
func agentPath() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	return exe
}

// icmpMode names a socket kind for the doctor's report.
func icmpMode(privileged bool) string {
	if privileged {
		return probe.ModeName(true) + " (raw)"
	}
	return probe.ModeName(false) + " (datagram)"
}

// icmpTry pings 127.0.0.1 with one socket kind and says whether a reply
// came back within timeout.
func icmpTry(ctx context.Context, privileged bool, timeout time.Duration) error {
	p := probe.NewPinger(netip.AddrFrom4([4]byte{127, 0, 0, 1}), privileged, 50*time.Millisecond)
	p.Count = 2
	p.Timeout = timeout
	if err := p.RunWithContext(ctx); err != nil {
		return err
	}
	if p.Statistics().PacketsRecv == 0 {
		return fmt.Errorf("no echo reply from 127.0.0.1 within %v", timeout)
	}
	return nil
}

// icmpCheck says which socket the agent's ICMP monitor will use (the first
// that works in probe.PrivilegeOrder) and why the others fail. note is an OS fact
// that explains a failure (Linux: ping_group_range).
func icmpCheck(goos string, results map[bool]error, note string) Check {
	c := Check{Name: "icmp"}
	var parts []string
	use := ""
	for _, priv := range probe.PrivilegeOrder(goos) {
		err, tried := results[priv]
		switch {
		case !tried:
			continue
		case err == nil:
			parts = append(parts, icmpMode(priv)+": works")
			if use == "" {
				use = icmpMode(priv)
			}
		default:
			parts = append(parts, fmt.Sprintf("%s: %v", icmpMode(priv), err))
		}
	}
	if goos == "windows" {
		parts = append(parts, "unprivileged: not available on Windows")
	}
	if note != "" {
		parts = append(parts, note)
	}
	if use != "" {
		c.State = OK
		c.Detail = "the ping-loss anchor will use the " + use + " socket (" + strings.Join(parts, "; ") + ")"
		return c
	}
	c.State = Warn
	c.Detail = "no ICMP socket works: runs will lack the ping-loss anchor (keepalive is still measured) (" + strings.Join(parts, "; ") + ")"
	switch goos {
	case "linux":
		c.Fix = "run the agent as root, or allow datagram ICMP: sudo sysctl -w net.ipv4.ping_group_range=\"0 2147483647\""
	case "windows":
		c.Fix = "run the agent elevated (as the service does)"
	case "darwin":
		c.Fix = "datagram ICMP normally works unprivileged on macOS: check for a security tool blocking ICMP"
	}
	return c
}

// hookLookup finds a hypervisor command; a variable for tests.
var hookLookup = exec.LookPath

// faultKinds turns fault.Capabilities into the report's fault kinds and
// checks that a configured hypervisor hook's commands exist.
func faultKinds(caps []fault.Capability, h fault.Hypervisor, lookPath func(string) (string, error)) []FaultKind {
	out := make([]FaultKind, 0, len(caps))
	for _, c := range caps {
		k := FaultKind{Kind: c.Kind, Ready: c.OK, Required: true, Why: c.Why}
		if c.Kind == fault.CapVMPause {
			k.Required = h.Configured()
			if k.Ready && h.Configured() {
				for _, argv := range [][]string{h.Pause, h.Resume} {
					if _, err := lookPath(argv[0]); err != nil {
						k.Ready, k.Why = false, fmt.Sprintf("hypervisor hook command %q not found: %v", argv[0], err)
						break
					}
				}
			}
		}
		out = append(out, k)
	}
	return out
}

// exitCode: 2 if any check failed (the agent cannot run), else 1 if a
// required fault kind is not ready, else 0.
func exitCode(checks []Check, faults []FaultKind) int {
	for _, c := range checks {
		if c.State == Fail {
			return ExitCannotRun
		}
	}
	for _, f := range faults {
		if f.Required && !f.Ready {
			return ExitNotReady
		}
	}
	return ExitReady
}

// verdict is the last line of the text report.
func (r Report) verdict() string {
	switch r.Exit {
	case ExitCannotRun:
		var failed []string
		for _, c := range r.Checks {
			if c.State == Fail {
				failed = append(failed, c.Name)
			}
		}
		return fmt.Sprintf("exit %d: the agent cannot run here: fix %s", r.Exit, strings.Join(failed, ", "))
	case ExitNotReady:
		var missing []string
		for _, f := range r.Faults {
			if f.Required && !f.Ready {
				missing = append(missing, f.Kind)
			}
		}
		return fmt.Sprintf("exit %d: the agent can run, but these fault kinds are not ready: %s", r.Exit, strings.Join(missing, ", "))
	default:
		return fmt.Sprintf("exit %d: ready for every required fault kind", r.Exit)
	}
}

// WriteText prints the report for a person.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "kalab agent doctor: %s/%s, agent %s\n\nhost\n", r.OS, r.Arch, r.Version)
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.State, c.Name, c.Detail)
		if c.Fix != "" {
			for i, l := range strings.Split(c.Fix, "\n") {
				lead := "fix:"
				if i > 0 {
					lead = "   "
				}
				fmt.Fprintf(tw, "  \t\t  %s %s\n", lead, l)
			}
		}
	}
	fmt.Fprintf(tw, "\nfault kinds\n")
	for _, f := range r.Faults {
		st := "ready"
		switch {
		case !f.Ready && f.Required:
			st = "not ready"
		case !f.Ready:
			st = "optional" // vm-pause without a hook: nothing to be ready for
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", st, f.Kind, f.Why)
	}
	fmt.Fprintf(tw, "\n%s\n", r.verdict())
	return tw.Flush()
}

// ExitError carries a non-zero doctor exit code to the main, which exits
// with it without printing more (the report said it all).
type ExitError struct {
	// Code is the exit status.
	Code int
}

func (e *ExitError) Error() string { return "doctor: exit " + strconv.Itoa(e.Code) }

// ExitCode is what the process should exit with.
func (e *ExitError) ExitCode() int { return e.Code }

// Command is `agent doctor`.
func Command() *cobra.Command {
	var opt Options
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check what this host can do as a kalab agent and what is missing",
		Long: "Check privileges, the config and key, the serf port, the advertised address, ICMP sockets, clock sync,\n" +
			"the firewall openings to make and every fault kind on this host.\n\n" +
			"Exit code: 0 the agent can run and every required fault kind (drop, drop-host, pause, kill, and vm-pause\n" +
			"when [hypervisor] is configured) is ready; 1 the agent can run but some are not ready; 2 the agent\n" +
			"cannot run (bad config or key, serf port or advertised address unusable).",
		Args: cobra.NoArgs,
		// A non-ready host is a verdict, not a usage error, and the report
		// already says it.
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			r := Run(ctx, opt)
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(r); err != nil {
					return fmt.Errorf("doctor: write JSON: %w", err)
				}
			} else if err := r.WriteText(out); err != nil {
				return fmt.Errorf("doctor: write report: %w", err)
			}
			if r.Exit != ExitReady {
				return &ExitError{Code: r.Exit}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&opt.ConfigPath, "config", "c", "", "the agent's config file (agent.toml) to check with")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
