package service

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/testkit"
)

func writeConfig(t *testing.T, body string) string { return testkit.WriteAgentConfig(t, body) }

const goodConfig = `name = "t-1"
bind = "127.0.0.1:0"
advertise = "127.0.0.1:0"
key_file = "{key}"
coordinator_key = "{pub}"
data_dir = "{dir}/data"
`

func TestServiceConfigPerOS(t *testing.T) {
	abs := filepath.Join(t.TempDir(), "agent.toml")
	for _, tc := range []struct {
		goos     string
		options  []string
		deps     []string
		noOption string
	}{
		{"linux", []string{"Restart"}, []string{"After=network-online.target", "Wants=network-online.target"}, "RunAtLoad"},
		{"darwin", []string{"RunAtLoad", "KeepAlive", "LogOutput"}, nil, "Restart"},
		{"windows", []string{"StartType", "DelayedAutoStart", "OnFailure", "OnFailureDelayDuration", "OnFailureResetPeriod"}, nil, "RunAtLoad"},
	} {
		t.Run(tc.goos, func(t *testing.T) {
			c := serviceConfig(tc.goos, Name, "/opt/kalab/agent", abs)
			if c.Name != "kalab-agent" || c.Executable != "/opt/kalab/agent" {
				t.Errorf("name %q exe %q", c.Name, c.Executable)
			}
			if want := []string{"service", "run", "--config", abs}; !slices.Equal(c.Arguments, want) {
				t.Errorf("arguments %q, want %q", c.Arguments, want)
			}
			for _, k := range tc.options {
				if _, ok := c.Option[k]; !ok {
					t.Errorf("option %s missing: %v", k, c.Option)
				}
			}
			if _, ok := c.Option[tc.noOption]; ok {
				t.Errorf("option %s is not for %s: %v", tc.noOption, tc.goos, c.Option)
			}
			if !slices.Equal(c.Dependencies, tc.deps) {
				t.Errorf("dependencies %q, want %q", c.Dependencies, tc.deps)
			}
		})
	}
	// launchd must start the daemon at boot (its default is not to).
	if v := options("darwin")["RunAtLoad"]; v != true {
		t.Errorf("darwin RunAtLoad = %v", v)
	}
}

func TestResolveConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string // "" with path "" tests a missing --config
		want string // substring of the error; "" for success
	}{
		{"ok", goodConfig, ""},
		{"missing --config", "", "--config is required"},
		{"unknown key", goodConfig + "colour = \"red\"\n", "unknown keys colour"},
		{"relative key_file", strings.Replace(goodConfig, `key_file = "{key}"`, `key_file = "kalab.key"`, 1), `key_file = "kalab.key" is relative`},
		{"relative data_dir", strings.Replace(goodConfig, `data_dir = "{dir}/data"`, `data_dir = "data"`, 1), `data_dir = "data" is relative`},
		{"no key_file", strings.Replace(goodConfig, `key_file = "{key}"`, ``, 1), "key_file (--key-file) is required"},
		{"key file absent", strings.Replace(goodConfig, `key_file = "{key}"`, `key_file = "{dir}/nope.key"`, 1), "key_file: read key file"},
		{"no advertise with 0.0.0.0", strings.NewReplacer(`bind = "127.0.0.1:0"`, `bind = "0.0.0.0:7946"`, `advertise = "127.0.0.1:0"`, ``).Replace(goodConfig), "set advertise (--advertise)"},
		{"half a hypervisor hook", goodConfig + "[hypervisor]\nvm = \"x\"\n", "needs vm, pause and resume together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.body != "" {
				path = writeConfig(t, tc.body)
			}
			abs, cfg, err := resolveConfig(path)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if abs != path || cfg.Name != "t-1" {
				t.Errorf("abs %q (want %q), cfg %+v", abs, path, cfg)
			}
		})
	}
}

// A relative --config is recorded as the absolute path of that file.
func TestResolveConfigRelative(t *testing.T) {
	path := writeConfig(t, goodConfig)
	t.Chdir(filepath.Dir(path))
	abs, _, err := resolveConfig("agent.toml")
	if err != nil {
		t.Fatal(err)
	}
	// The temp dir may be reached through a symlink (macOS /var): compare
	// the files, not the strings.
	a, _ := os.Stat(abs)
	b, _ := os.Stat(path)
	if !filepath.IsAbs(abs) || a == nil || b == nil || !os.SameFile(a, b) {
		t.Errorf("recorded %q for agent.toml in %s", abs, filepath.Dir(path))
	}
}

func TestLogFile(t *testing.T) {
	cfgPath := filepath.Join("C:", "kalab", "agent.toml")
	for _, tc := range []struct {
		goos        string
		interactive bool
		dataDir     string
		want        string
	}{
		{"linux", false, "/var/lib/kalab", ""},  // journald takes stderr
		{"darwin", false, "/var/lib/kalab", ""}, // launchd's StandardErrorPath
		{"windows", true, `C:\kalab\data`, ""},  // a console: stderr
		{"windows", false, "data-dir", filepath.Join("data-dir", "agent.log")},
		{"windows", false, "", filepath.Join(filepath.Dir(cfgPath), "agent.log")},
	} {
		if got := logFile(tc.goos, tc.interactive, tc.dataDir, cfgPath); got != tc.want {
			t.Errorf("logFile(%s, interactive=%v, %q) = %q, want %q", tc.goos, tc.interactive, tc.dataDir, got, tc.want)
		}
	}
	for goos, want := range map[string]string{"linux": "journalctl -u kalab-agent", "darwin": "/var/log/kalab-agent.err.log", "windows": "agent.log"} {
		if got := logsHint(goos, Name, "", ""); !strings.Contains(got, want) {
			t.Errorf("logsHint(%s) = %q, want it to mention %q", goos, got, want)
		}
	}
}

// Without a service manager every subcommand fails with the explanation
// and the foreground command, whatever this host has: detect is swapped.
func TestNoManagerExplains(t *testing.T) {
	old := detect
	detect = func() error { return errors.New("systemd is not running on this host (test)") }
	t.Cleanup(func() { detect = old })

	cfg := writeConfig(t, goodConfig)
	for _, args := range [][]string{
		{"install", "--config", cfg}, {"install"}, {"uninstall"}, {"start"}, {"stop"}, {"status"},
	} {
		t.Run(strings.Join(args[:1], " "), func(t *testing.T) {
			cmd := Command()
			cmd.SetArgs(args)
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			err := cmd.Execute()
			if !errors.Is(err, ErrNoManager) {
				t.Fatalf("err = %v, want ErrNoManager", err)
			}
			msg := err.Error()
			for _, want := range []string{"service " + args[0] + ":", "systemd is not running", "Run the agent in the foreground instead", "agent run --config "} {
				if !strings.Contains(msg, want) {
					t.Errorf("explanation lacks %q:\n%s", want, msg)
				}
			}
			if len(args) == 3 && !strings.Contains(msg, "agent run --config "+cfg) {
				t.Errorf("explanation should give the foreground command with %s:\n%s", cfg, msg)
			}
		})
	}
}

// The hidden `service run` is what every service manager executes: it
// starts the agent from the config, waits (here for the test instead of a
// signal or the SCM) and stops it.
func TestServiceRunStartsAndStops(t *testing.T) {
	cfg := writeConfig(t, goodConfig)
	started, stop := make(chan struct{}), make(chan struct{})
	runWait = func() { close(started); <-stop }
	t.Cleanup(func() { runWait = nil })

	done := make(chan error, 1)
	go func() { done <- runService(Name, cfg) }()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("service run ended before the wait: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("service run did not start the agent in 30s")
	}
	// agentd.Start writes the pid file into data_dir once it runs.
	pid, err := os.ReadFile(filepath.Join(filepath.Dir(cfg), "data", "agent.pid"))
	if err != nil || strings.TrimSpace(string(pid)) != fmt.Sprint(os.Getpid()) {
		t.Errorf("agent.pid = %q, %v: want this process", pid, err)
	}
	close(stop)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("service run did not return after stop")
	}
}

func TestServiceRunBadConfig(t *testing.T) {
	if err := runService(Name, ""); err == nil || !strings.Contains(err.Error(), "--config is required") {
		t.Errorf("no config: %v", err)
	}
	cfg := writeConfig(t, goodConfig+"bogus = 1\n")
	if err := runService(Name, cfg); err == nil || !strings.Contains(err.Error(), "unknown keys bogus") {
		t.Errorf("bad config: %v", err)
	}
}
