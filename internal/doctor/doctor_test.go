package doctor

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/kalab-dev/kalab/internal/probe"
	"github.com/kalab-dev/kalab/internal/testkit"

	"github.com/kalab-dev/kalab/internal/agentd"
	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/fault"
)

var errInUse = errors.New("address already in use")

func fakeInUse(err error) bool { return errors.Is(err, errInUse) }

func TestPortCheck(t *testing.T) {
	other := errors.New("cannot assign requested address")
	for _, tc := range []struct {
		name     string
		tcp, udp error
		want     State
	}{
		{"both free", nil, nil, OK},
		{"both in use", errInUse, errInUse, Warn},
		{"tcp in use", errInUse, nil, Warn},
		{"udp in use", nil, errInUse, Warn},
		{"address not here", other, other, Fail},
		{"udp refused", nil, other, Fail},
		{"one in use one refused", errInUse, other, Fail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := portCheck("0.0.0.0:7946", tc.tcp, tc.udp, fakeInUse)
			if c.State != tc.want || c.Name != "serf port" || !strings.Contains(c.Detail, "0.0.0.0:7946") {
				t.Errorf("got %+v, want state %s", c, tc.want)
			}
			if tc.want != OK && c.Fix == "" {
				t.Errorf("%s without a fix", tc.want)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	ready := []FaultKind{{Kind: "drop", Ready: true, Required: true}, {Kind: "vm-pause", Required: false}}
	notReady := []FaultKind{{Kind: "drop", Required: true}, {Kind: "kill", Ready: true, Required: true}}
	okChecks := []Check{{State: OK}, {State: Info}, {State: Warn}}
	failChecks := []Check{{State: OK}, {State: Fail}}
	for _, tc := range []struct {
		name   string
		checks []Check
		faults []FaultKind
		want   int
	}{
		{"all ready, warnings do not count", okChecks, ready, ExitReady},
		{"optional vm-pause missing", okChecks, ready, ExitReady},
		{"required kind missing", okChecks, notReady, ExitNotReady},
		{"cannot run beats fault kinds", failChecks, notReady, ExitCannotRun},
		{"cannot run", failChecks, ready, ExitCannotRun},
	} {
		if got := exitCode(tc.checks, tc.faults); got != tc.want {
			t.Errorf("%s: exit %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestFaultKinds(t *testing.T) {
	found := func(string) (string, error) { return "/usr/bin/x", nil }
	missing := func(name string) (string, error) { return "", errors.New("executable file not found in $PATH") }
	hook := fault.Hypervisor{VM: "client-vm", Pause: []string{"virsh", "suspend", "{vm}"}, Resume: []string{"virsh", "resume", "{vm}"}}
	caps := func(h fault.Hypervisor) []fault.Capability {
		vm := fault.Capability{Kind: fault.CapVMPause, Why: "no [hypervisor]"}
		if h.Configured() {
			vm.OK, vm.Why = true, "hypervisor hook for VM "+h.VM
		}
		return []fault.Capability{{Kind: fault.CapDrop, Why: "needs root"}, {Kind: fault.CapKill, OK: true}, vm}
	}
	for _, tc := range []struct {
		name             string
		h                fault.Hypervisor
		look             func(string) (string, error)
		vmReady, vmReq   bool
		vmWhyContains    string
		dropReq, dropRdy bool
	}{
		{"no hook: vm-pause optional", fault.Hypervisor{}, found, false, false, "no [hypervisor]", true, false},
		{"hook found", hook, found, true, true, "client-vm", true, false},
		{"hook command missing", hook, missing, false, true, `"virsh" not found`, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ks := faultKinds(caps(tc.h), tc.h, tc.look)
			by := map[string]FaultKind{}
			for _, k := range ks {
				by[k.Kind] = k
			}
			vm := by[fault.CapVMPause]
			if vm.Ready != tc.vmReady || vm.Required != tc.vmReq || !strings.Contains(vm.Why, tc.vmWhyContains) {
				t.Errorf("vm-pause %+v", vm)
			}
			if d := by[fault.CapDrop]; d.Required != tc.dropReq || d.Ready != tc.dropRdy {
				t.Errorf("drop %+v", d)
			}
		})
	}
}

func TestICMPCheck(t *testing.T) {
	denied := errors.New("socket: permission denied")
	for _, tc := range []struct {
		name    string
		goos    string
		results map[bool]error
		want    State
		uses    string // substring of Detail
		fix     string // substring of Fix
	}{
		{"linux root: raw", "linux", map[bool]error{false: denied, true: nil}, OK, "use the privileged (raw) socket", ""},
		{"linux in ping group: datagram first", "linux", map[bool]error{false: nil, true: nil}, OK, "use the unprivileged (datagram) socket", ""},
		{"linux neither", "linux", map[bool]error{false: denied, true: denied}, Warn, "no ICMP socket works", "ping_group_range"},
		{"darwin unprivileged", "darwin", map[bool]error{false: nil, true: denied}, OK, "unprivileged (datagram)", ""},
		{"windows raw only", "windows", map[bool]error{true: nil}, OK, "not available on Windows", ""},
		{"windows refused", "windows", map[bool]error{true: denied}, Warn, "no ICMP socket works", "elevated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := icmpCheck(tc.goos, tc.results, "")
			if c.State != tc.want || !strings.Contains(c.Detail, tc.uses) || !strings.Contains(c.Fix, tc.fix) {
				t.Errorf("got %+v", c)
			}
		})
	}
	if o := probe.PrivilegeOrder("windows"); len(o) != 1 || !o[0] {
		t.Errorf("windows order %v: want raw only", o)
	}
	if o := probe.PrivilegeOrder("linux"); len(o) != 2 || o[0] || !o[1] {
		t.Errorf("linux order %v: want datagram, then raw", o)
	}
}

func TestFirewallCommands(t *testing.T) {
	for _, tc := range []struct {
		goos string
		want []string
	}{
		{"windows", []string{"netsh advfirewall", `program="C:\kalab\agent.exe"`, "protocol=TCP localport=7950", "protocol=UDP localport=7950", "icmpv4:8"}},
		{"darwin", []string{"socketfilterfw --add /usr/local/bin/agent", "--unblockapp", "stealthmode"}},
		{"linux", []string{"ufw allow 7950/tcp", "ufw allow 7950/udp", "--add-port=7950/tcp", "--add-port=7950/udp", "th dport 7950 accept"}},
	} {
		all := strings.Join(firewallCommands(tc.goos, 7950, ""), "\n")
		for _, w := range tc.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: commands lack %q:\n%s", tc.goos, w, all)
			}
		}
	}
	if got := firewallCommands("plan9", 7946, ""); got != nil {
		t.Errorf("plan9: %q, want none", got)
	}
	if c := firewallCheck("windows", 7946, `D:\bin\agent.exe`); c.State != Info || !strings.Contains(c.Fix, `program="D:\bin\agent.exe"`) {
		t.Errorf("windows firewall check %+v", c)
	}
}

func TestExperimentIP(t *testing.T) {
	for _, tc := range []struct {
		adv, bind string
		want      string // "" for none
	}{
		{"192.0.2.10:7946", "0.0.0.0:7946", "192.0.2.10"},
		{"", "127.0.0.1:7946", "127.0.0.1"},
		{"", "0.0.0.0:7946", ""},
		{"", "", ""},
		{"[::ffff:192.0.2.1]:7946", "", "192.0.2.1"},
		{"host.example:7946", "", ""},
	} {
		ip, ok := experimentIP(agentd.Config{Advertise: tc.adv, Bind: tc.bind})
		if got := ""; ok {
			got = ip.String()
			if got != tc.want {
				t.Errorf("advertise %q bind %q: %s, want %q", tc.adv, tc.bind, got, tc.want)
			}
		} else if tc.want != "" {
			t.Errorf("advertise %q bind %q: none, want %s", tc.adv, tc.bind, tc.want)
		}
	}
	if p := portOf("0.0.0.0:7999"); p != 7999 {
		t.Errorf("portOf = %d", p)
	}
	if p := portOf("bad"); p != cluster.DefaultPort {
		t.Errorf("portOf(bad) = %d", p)
	}
}

func TestAdvertiseCheck(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.10")
	if c := advertiseCheck(ip, nil); c.State != OK {
		t.Errorf("%+v", c)
	}
	if c := advertiseCheck(ip, syscall.EADDRNOTAVAIL); c.State != Fail || c.Fix == "" || !strings.Contains(c.Detail, "192.0.2.10") {
		t.Errorf("%+v", c)
	}
}

func writeConfig(t *testing.T, body string) string { return testkit.WriteAgentConfig(t, body) }

func TestLoadConfig(t *testing.T) {
	good := "bind = \"127.0.0.1:0\"\nkey_file = \"{key}\"\ndata_dir = \"{dir}/data\"\ncoordinator_key = \"{pub}\"\n"
	for _, tc := range []struct {
		name   string
		body   string
		states []State // config, then key file
		detail string
	}{
		{"none", "", []State{Info}, "none given"},
		{"good", good, []State{OK, OK}, "bind 127.0.0.1:0"},
		{"unknown key", good + "colour = 1\n", []State{Fail}, "unknown keys colour"},
		{"no advertise", "bind = \"0.0.0.0:7946\"\nkey_file = \"{key}\"\ndata_dir = \"{dir}/data\"\ncoordinator_key = \"{pub}\"\n", []State{Fail}, "--advertise"},
		{"bad key", "bind = \"127.0.0.1:0\"\nkey_file = \"{dir}/agent.toml\"\ndata_dir = \"{dir}/data\"\ncoordinator_key = \"{pub}\"\n", []State{OK, Fail}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.body != "" {
				path = writeConfig(t, tc.body)
			}
			_, checks := loadConfig(path)
			if len(checks) != len(tc.states) {
				t.Fatalf("checks %+v, want states %v", checks, tc.states)
			}
			for i, st := range tc.states {
				if checks[i].State != st {
					t.Errorf("check %d %+v, want %s", i, checks[i], st)
				}
			}
			if !strings.Contains(checks[0].Detail, tc.detail) {
				t.Errorf("detail %q lacks %q", checks[0].Detail, tc.detail)
			}
		})
	}
}

func TestWriteText(t *testing.T) {
	r := Report{OS: "linux", Arch: "amd64", Version: "v1",
		Checks: []Check{{Name: "privileges", State: OK, Detail: "root"}, {Name: "serf port", State: Fail, Detail: "cannot bind", Fix: "line one\nline two"}},
		Faults: []FaultKind{{Kind: "drop", Required: true}, {Kind: "vm-pause", Why: "no hook"}}}
	for _, tc := range []struct {
		exit int
		want []string
	}{
		{ExitCannotRun, []string{"exit 2: the agent cannot run here: fix serf port", "fix: line one", "line two", "not ready  drop", "optional   vm-pause"}},
		{ExitNotReady, []string{"exit 1: the agent can run, but these fault kinds are not ready: drop"}},
		{ExitReady, []string{"exit 0: ready for every required fault kind"}},
	} {
		r.Exit = tc.exit
		var b bytes.Buffer
		if err := r.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("exit %d: report lacks %q:\n%s", tc.exit, w, b.String())
			}
		}
	}
}

// The command exits 2 through ExitError for a config the agent refuses,
// and --json prints the same report as JSON.
func TestCommandExitError(t *testing.T) {
	cfg := writeConfig(t, "bogus = 1\n")
	cmd := Command()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--config", cfg, "--json"})
	err := cmd.Execute()
	var ee *ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitCannotRun {
		t.Fatalf("err = %v, want exit %d", err, ExitCannotRun)
	}
	var r Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("JSON: %v\n%s", err, out.String())
	}
	if r.Exit != ExitCannotRun || len(r.Faults) == 0 || len(r.Checks) == 0 {
		t.Errorf("report %+v", r)
	}
}
