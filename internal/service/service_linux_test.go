package service

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func systemdRunning() bool {
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// detect agrees with the host: systemd booted or not.
func TestDetectSystemd(t *testing.T) {
	err := detectManager()
	if systemdRunning() {
		if err != nil {
			t.Fatalf("systemd runs here but detect says: %v", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), "systemd is not running") || !strings.Contains(err.Error(), "PID 1 is") {
		t.Fatalf("no systemd here, detect says: %v", err)
	}
}

// The acceptance path in CI (no systemd as PID 1): the real agent binary
// explains, names the foreground command and exits non-zero for every
// subcommand.
func TestAgentBinaryExplainsWithoutSystemd(t *testing.T) {
	if systemdRunning() {
		t.Skip("systemd runs on this host: TestSystemdInstallStatusUninstall covers the real path")
	}
	if testing.Short() {
		t.Skip("builds the agent binary")
	}
	bin := buildAgent(t)
	cfg := writeConfig(t, goodConfig)
	for _, args := range [][]string{
		{"install", "--config", cfg}, {"uninstall"}, {"start"}, {"stop"}, {"status"},
	} {
		cmd := exec.Command(bin, append([]string{"service"}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Errorf("agent service %s: %v, want a non-zero exit", args[0], err)
		}
		msg := stderr.String()
		for _, want := range []string{"systemd is not running", "agent run --config"} {
			if !strings.Contains(msg, want) {
				t.Errorf("agent service %s: stderr lacks %q:\n%s", args[0], want, msg)
			}
		}
	}
}

// Under a running systemd, as root: install a uniquely named unit for this
// test binary, see it installed and stopped, uninstall it.
func TestSystemdInstallStatusUninstall(t *testing.T) {
	if !systemdRunning() {
		t.Skip("systemd is not running as PID 1 here (no /run/systemd/system): the explanation tests cover this host")
	}
	if os.Geteuid() != 0 {
		t.Skip("installing a systemd unit needs root")
	}
	name := fmt.Sprintf("kalab-agent-test-%d", os.Getpid())
	cfg := writeConfig(t, goodConfig)
	exe, err := executable()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := install(&out, name, exe, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = control(&bytes.Buffer{}, name, "uninstall") })
	unit, err := os.ReadFile("/etc/systemd/system/" + name + ".service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "service run --config "+cfg) {
		t.Errorf("unit does not run `service run --config %s`:\n%s", cfg, unit)
	}
	out.Reset()
	if err := control(&out, name, "status"); err != nil || !strings.Contains(out.String(), "installed, stopped") {
		t.Fatalf("status after install: %q, %v", out.String(), err)
	}
	if err := control(&out, name, "uninstall"); err != nil {
		t.Fatal(err)
	}
	if err := control(&out, name, "status"); err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Fatalf("status after uninstall: %v", err)
	}
}

// buildAgent builds ./agent into a temp dir (the build cache makes this a
// link step when `go build ./...` ran before, as in CI).
func buildAgent(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool on PATH to build the agent: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "agent")
	cmd := exec.Command(goTool, "build", "-o", bin, "github.com/kalab-dev/kalab/agent")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./agent: %v\n%s", err, out)
	}
	return bin
}
