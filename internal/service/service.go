// Package service installs and controls the kalab agent as an OS service
// through kardianos/service: a systemd unit on Linux, a launchd daemon on
// macOS, a Windows service (service control manager). agent/main.go only
// adds Command() to its CLI tree.
//
// The service manager runs `agent service run --config <absolute path>`,
// not `agent run --config`: a Windows service must answer the service
// control manager within 30 s of its start (StartServiceCtrlDispatcher, or
// the start fails with error 1053) and must stop the agent — healing its
// faults — when told to, which kardianos/service's Run does and `agent run`
// cannot. One path on every OS keeps what Windows runs the same code the
// Linux tests run; on Linux and macOS it behaves like `agent run --config`
// (SIGTERM stops the agent gracefully).
//
// Only systemd is used on Linux: kardianos/service would fall back to
// SysV init scripts, upstart or OpenRC, which kalab neither tests nor
// documents, so a Linux host without a running systemd (containers, CI)
// gets an explanation and the foreground command instead (ErrNoManager).
package service

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/logging"
	"github.com/kalab-dev/kalab/internal/privilege"

	ks "github.com/kardianos/service"
	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/agentd"
)

// Name is the service's name: the systemd unit kalab-agent.service, the
// launchd label and plist /Library/LaunchDaemons/kalab-agent.plist, the
// Windows service name.
const Name = "kalab-agent"

const (
	displayName = "kalab agent"
	description = "kalab TCP keepalive lab agent: joins the serf cluster and plays the keepalive server or client role on command"
)

// goos names this OS for the pure, table-tested helpers that take one.
const goos = runtime.GOOS

// ErrNoManager is wrapped by every subcommand's error when this host has no
// service manager kalab can install into (see NoManagerError).
var ErrNoManager = errors.New("no service manager")

// NoManagerError explains why `agent service …` cannot work on this host
// and how to run the agent in the foreground instead.
type NoManagerError struct {
	Action  string // the subcommand: install, start, …
	Missing string // what is missing, from detectManager
	Config  string // the --config given, for the foreground command; may be empty
}

func (e *NoManagerError) Error() string {
	cfg := e.Config
	if cfg == "" {
		cfg = "/path/to/agent.toml"
	}
	return fmt.Sprintf("service %s: %s.\n"+
		"Run the agent in the foreground instead, as root (Administrator on Windows):\n"+
		"    agent run --config %s\n"+
		"and keep it alive with what supervises processes here (the container's init, tmux, nohup).",
		e.Action, e.Missing, cfg)
}

func (e *NoManagerError) Unwrap() error { return ErrNoManager }

// detect reports nil when this host's service manager can be used, or what
// is missing. A variable so tests can play a host without one.
var detect = detectManager

// Command is `agent service` with install, uninstall, start, stop, status
// and the hidden run (what the service manager executes).
func Command() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Install and control the agent as an OS service (systemd, launchd, Windows service)",
		Long: "Install and control the agent as an OS service: a systemd unit on Linux, a launchd daemon on macOS,\n" +
			"a Windows service. The service runs `agent service run --config FILE` with the absolute path that\n" +
			"`agent service install --config FILE` recorded. Needs root (Administrator on Windows).",
		Args:         cobra.NoArgs,
		SilenceUsage: true, // failures here are about the host, not the command line
	}
	var installCfg string
	install := &cobra.Command{
		Use:   "install -c agent.toml",
		Short: "Install the service (it starts at boot; start it now with `agent service start`)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exe, err := executable()
			if err != nil {
				return err
			}
			return install(cmd.OutOrStdout(), Name, exe, installCfg)
		},
	}
	install.Flags().StringVarP(&installCfg, "config", "c", "", "the agent's config file (required; validated and recorded as an absolute path)")
	cmd.AddCommand(install)

	for _, c := range []struct{ use, short string }{
		{"uninstall", "Stop and remove the service"},
		{"start", "Start the installed service"},
		{"stop", "Stop the service (the agent heals its faults and leaves the cluster)"},
		{"status", "Print whether the service is installed and running"},
	} {
		action := c.use
		cmd.AddCommand(&cobra.Command{
			Use: action, Short: c.short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return control(cmd.OutOrStdout(), Name, action) },
		})
	}

	var runCfg string
	run := &cobra.Command{
		Use:    "run -c agent.toml",
		Short:  "Run the agent under the service manager (what the installed service executes)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE:   func(*cobra.Command, []string) error { return runService(Name, runCfg) },
	}
	run.Flags().StringVarP(&runCfg, "config", "c", "", "the agent's config file (required)")
	cmd.AddCommand(run)
	return cmd
}

// executable is this binary's path with symlinks resolved, so the service
// points at the file itself and not at a link that may move.
func executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find this binary's path for the service: %w", err)
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return exe, nil
}

// arguments is what the service manager passes to the agent binary.
func arguments(absConfig string) []string {
	return []string{"service", "run", "--config", absConfig}
}

// options are the per-manager settings kardianos/service understands (a
// goos parameter so every OS's choice is table-tested on any OS).
func options(goos string) ks.KeyValue {
	switch goos {
	case "darwin":
		return ks.KeyValue{
			"RunAtLoad": true, // launchd's default is false: start at boot like the others
			"KeepAlive": true, // restart when it exits
			"LogOutput": true, // stdout/stderr to /var/log/kalab-agent.{out,err}.log
		}
	case "windows":
		return ks.KeyValue{
			"StartType": "automatic",
			// Delayed: the advertised address (a DHCP lease, a VM's
			// adapter) is often not there yet at the very start of boot.
			"DelayedAutoStart":       true,
			"OnFailure":              "restart",
			"OnFailureDelayDuration": "2s", // back (and swept) within seconds
			"OnFailureResetPeriod":   600,  // seconds without failure before the count resets
		}
	default: // linux: systemd
		return ks.KeyValue{"Restart": "always", "SystemdScript": systemdUnit}
	}
}

// systemdUnit is kardianos/service's systemd template (v1.3.0,
// service_systemd_linux.go) with RestartSec=2 instead of 120: a crashed
// agent is back, and has swept what it left, within seconds.
const systemdUnit = `[Unit]
Description={{Description}}
ConditionFileIsExecutable={{Path | cmdEscape}}
{{range Dependencies}}{{.}}
{{end}}
[Service]
StartLimitInterval=5
StartLimitBurst=10
ExecStart={{Path | cmdEscape}}{{range Arguments}} {{. | cmd}}{{end}}
{{if ChRoot}}RootDirectory={{ChRoot | cmd}}
{{end}}{{if WorkingDirectory}}WorkingDirectory={{WorkingDirectory | cmdEscape}}
{{end}}{{if UserName}}User={{UserName}}
{{end}}{{if ReloadSignal}}ExecReload=/bin/kill -{{ReloadSignal}} "$MAINPID"
{{end}}{{if PIDFile}}PIDFile={{PIDFile | cmd}}
{{end}}{{if OutputFileSupport}}StandardOutput=file:{{LogDirectory}}/{{Name}}.out
StandardError=file:{{LogDirectory}}/{{Name}}.err
{{end}}{{if LimitNOFILE}}LimitNOFILE={{LimitNOFILE}}
{{end}}{{if Restart}}Restart={{Restart}}
{{end}}{{if SuccessExitStatus}}SuccessExitStatus={{SuccessExitStatus}}
{{end}}RestartSec=2
EnvironmentFile=-/etc/sysconfig/{{Name}}

{{range EnvVars}}{{.}}
{{end}}[Install]
WantedBy=multi-user.target
`

// dependencies are systemd [Unit] lines: serve experiments only once the
// network (the advertised address) is up. Ignored by launchd and Windows.
func dependencies(goos string) []string {
	if goos != "linux" {
		return nil
	}
	return []string{"After=network-online.target", "Wants=network-online.target"}
}

// serviceConfig is the service definition for kardianos/service.
func serviceConfig(goos, name, exe, absConfig string) *ks.Config {
	return &ks.Config{
		Name:         name,
		DisplayName:  displayName,
		Description:  description,
		Executable:   exe,
		Arguments:    arguments(absConfig),
		Dependencies: dependencies(goos),
		Option:       options(goos),
	}
}

// resolveConfig makes the config path absolute, loads it strictly and
// checks what running as a service adds to `agent run`: the manager starts
// the agent in / (C:\Windows\System32 on Windows), so the file's own paths
// must be absolute, and a mistake must show now, not as a service that
// keeps restarting.
func resolveConfig(path string) (string, agentd.Config, error) {
	if path == "" {
		return "", agentd.Config{}, errors.New("--config is required: the service runs the agent with that agent.toml (see docs/install.md)")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", agentd.Config{}, fmt.Errorf("agent config %s: absolute path: %w", path, err)
	}
	cfg, err := agentd.ReadConfig(abs)
	if err != nil {
		return "", agentd.Config{}, err
	}
	for _, f := range []struct{ key, val string }{{"key_file", cfg.KeyFile}, {"data_dir", cfg.DataDir}} {
		if f.val != "" && !filepath.IsAbs(f.val) {
			return "", agentd.Config{}, fmt.Errorf("agent config %s: %s = %q is relative: the service does not start in the config's directory, so give an absolute path", abs, f.key, f.val)
		}
	}
	if err := cfg.Validate(); err != nil {
		return "", agentd.Config{}, err // names the file, line and key
	}
	return abs, cfg, nil
}

// newService binds a definition to this host's service manager.
func newService(p ks.Interface, c *ks.Config) (ks.Service, error) {
	s, err := ks.New(p, c)
	if err != nil {
		return nil, fmt.Errorf("service %s on %s: %w", c.Name, ks.Platform(), err)
	}
	return s, nil
}

// preflight: a usable service manager first (the explanation must come
// whatever else is wrong), then privileges where the action changes state.
func preflight(action, configPath string) error {
	if err := detect(); err != nil {
		return &NoManagerError{Action: action, Missing: err.Error(), Config: configPath}
	}
	// launchctl shows system daemons only to root: an unprivileged status
	// on macOS would report a running agent as stopped.
	if (action != "status" || goos == "darwin") && !privilege.Elevated() {
		return fmt.Errorf("service %s: needs %s", action, elevationHint)
	}
	return nil
}

// install validates the config and installs the service for exe.
func install(w io.Writer, name, exe, configPath string) error {
	hint := configPath
	if a, err := filepath.Abs(configPath); err == nil && configPath != "" {
		hint = a
	}
	if err := preflight("install", hint); err != nil {
		return err
	}
	abs, cfg, err := resolveConfig(configPath)
	if err != nil {
		return fmt.Errorf("service install: %w", err)
	}
	c := serviceConfig(goos, name, exe, abs)
	s, err := newService(&program{}, c)
	if err != nil {
		return fmt.Errorf("service install: %w", err)
	}
	if _, err := s.Status(); err == nil {
		return fmt.Errorf("service install: %s is already installed (%s): run `agent service uninstall` first to install it with %s", name, s.Platform(), abs)
	}
	if err := s.Install(); err != nil {
		return fmt.Errorf("service install: %s on %s: %w", name, s.Platform(), err)
	}
	fmt.Fprintf(w, "installed %s (%s): %s %s\n", name, s.Platform(), exe, strings.Join(c.Arguments, " "))
	fmt.Fprintf(w, "it starts at boot; start it now with: agent service start\n")
	fmt.Fprintf(w, "logs: %s\n", logsHint(goos, name, cfg.DataDir, abs))
	return nil
}

// control runs uninstall, start, stop or status.
func control(w io.Writer, name, action string) error {
	if err := preflight(action, ""); err != nil {
		return err
	}
	// Only the name matters to control an installed service.
	s, err := newService(&program{}, &ks.Config{Name: name, DisplayName: displayName, Option: options(goos)})
	if err != nil {
		return fmt.Errorf("service %s: %w", action, err)
	}
	switch action {
	case "status":
		st, err := s.Status()
		if errors.Is(err, ks.ErrNotInstalled) {
			return fmt.Errorf("service status: %s is not installed on %s (agent service install --config FILE)", name, s.Platform())
		}
		if err != nil {
			return fmt.Errorf("service status: %s on %s: %w (logs: %s)", name, s.Platform(), err, logsHint(goos, name, "", ""))
		}
		fmt.Fprintf(w, "%s (%s): %s\n", name, s.Platform(), statusName(st))
		return nil
	case "uninstall":
		// systemd's disable and Windows' DeleteService leave a running
		// agent running; stop it first so its faults heal now.
		if st, err := s.Status(); err == nil && st == ks.StatusRunning {
			if err := s.Stop(); err != nil {
				return fmt.Errorf("service uninstall: stop %s first: %w", name, err)
			}
		}
		if err := s.Uninstall(); err != nil {
			return fmt.Errorf("service uninstall: %s on %s: %w", name, s.Platform(), err)
		}
		fmt.Fprintf(w, "uninstalled %s (%s)\n", name, s.Platform())
		return nil
	case "start":
		if err := s.Start(); err != nil {
			return fmt.Errorf("service start: %s on %s: %w (is it installed? logs: %s)", name, s.Platform(), err, logsHint(goos, name, "", ""))
		}
	case "stop":
		if err := s.Stop(); err != nil {
			return fmt.Errorf("service stop: %s on %s: %w", name, s.Platform(), err)
		}
	default:
		return fmt.Errorf("service: unknown action %q", action)
	}
	fmt.Fprintf(w, "%s: %s (%s)\n", action, name, s.Platform())
	return nil
}

func statusName(s ks.Status) string {
	switch s {
	case ks.StatusRunning:
		return "running"
	case ks.StatusStopped:
		return "installed, stopped"
	default:
		return "unknown"
	}
}

// logsHint says where the service's logs go on goos.
func logsHint(goos, name, dataDir, configPath string) string {
	switch goos {
	case "darwin":
		return "/var/log/" + name + ".err.log"
	case "windows":
		if p := logFile(goos, false, dataDir, configPath); p != "" {
			return p
		}
		return `agent.log in the config's data_dir (or next to agent.toml)`
	default:
		return "journalctl -u " + name
	}
}

// logFile is where `service run` writes its log, "" for stderr. A Windows
// service has no console and its stderr goes nowhere, so it logs to a file
// in data_dir (or next to agent.toml); systemd's journal and launchd's
// StandardErrorPath take stderr elsewhere.
func logFile(goos string, interactive bool, dataDir, configPath string) string {
	if goos != "windows" || interactive {
		return ""
	}
	dir := dataDir
	if dir == "" && configPath != "" {
		dir = filepath.Dir(configPath)
	}
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "agent.log")
}

// program is the agent's lifecycle under kardianos/service. Start must
// return soon: the Windows service control manager gives a starting
// service about 30 s before it gives up on it (kardianos reports
// START_PENDING without progress), while agentd.Start's join can take
// 10 s per unreachable peer (memberlist's TCP timeout) — at boot the
// other hosts may well be down. So Start waits up to startWait: a start
// that failed by then is reported to the manager; a start still joining
// is reported as running, and if it fails after all the process exits
// non-zero so the manager restarts it (Windows recovery, systemd
// Restart=always, launchd KeepAlive). Stop heals faults and leaves.
type program struct {
	cfg agentd.Config

	done     chan struct{} // closed when agentd.Start returned
	agent    *agentd.Agent // set before done is closed, if the start worked
	startErr error         // set before done is closed
}

// startWait is how long Start waits for the agent's start (see program).
const startWait = 20 * time.Second

func (p *program) Start(ks.Service) error {
	a, err := agentd.New(p.cfg)
	if err != nil {
		return err
	}
	p.done = make(chan struct{})
	go func() {
		defer close(p.done)
		if err := a.Start(); err != nil {
			a.Stop()
			p.startErr = err
			return
		}
		p.agent = a
	}()
	select {
	case <-p.done:
		return p.startErr
	case <-time.After(startWait):
		p.cfg.Logger.Warn("agent still starting (joining the cluster); reporting the service as running", "after", startWait)
		go func() {
			<-p.done
			if p.startErr != nil {
				p.cfg.Logger.Error("agent start failed; exiting so the service manager restarts it", "err", p.startErr)
				os.Exit(1)
			}
		}()
		return nil
	}
}

func (p *program) Stop(ks.Service) error {
	if p.done == nil {
		return nil
	}
	<-p.done // a start in progress finishes first, so its agent is stopped too
	if p.agent != nil {
		p.cfg.Logger.Info("agent stopping (service stop)")
		p.agent.Stop()
		p.agent = nil
	}
	return nil
}

// runWait replaces kardianos/service's wait for SIGTERM/SIGINT on Linux
// and macOS when set (tests); nil keeps the signal wait.
var runWait func()

// runService is `agent service run`: what the service manager executes.
func runService(name, configPath string) error {
	if configPath == "" {
		return errors.New("service run: --config is required")
	}
	cfg, err := agentd.LoadConfig(configPath)
	if err != nil {
		return fmt.Errorf("service run: %w", err)
	}
	lg, _ := logging.New(os.Stderr, logging.FormatAuto, false) // auto never fails
	if path := logFile(goos, ks.Interactive(), cfg.DataDir, configPath); path != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fmt.Errorf("service run: log directory: %w", err)
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("service run: open the log file: %w", err)
		}
		defer f.Close()
		lg = slog.New(slog.NewJSONHandler(f, nil))
	}
	cfg.Logger = lg
	c := serviceConfig(goos, name, "", configPath)
	if runWait != nil {
		c.Option["RunWait"] = runWait
	}
	s, err := newService(&program{cfg: cfg}, c)
	if err != nil {
		return fmt.Errorf("service run: %w", err)
	}
	if err := s.Run(); err != nil {
		lg.Error("agent service failed", "err", err)
		return fmt.Errorf("service run: %w", err)
	}
	return nil
}
