package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseCapEff(t *testing.T) {
	for _, tc := range []struct {
		status string
		want   uint64
		err    bool
	}{
		{"Name:\tagent\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\n", 0x1ffffffffff, false},
		{"CapEff:\t0000000000003000\n", 1<<capNetAdmin | 1<<capNetRaw, false},
		{"CapEff:\tzz\n", 0, true},
		{"Name:\tagent\n", 0, true},
	} {
		got, err := parseCapEff(tc.status)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseCapEff(%q) = %x, %v", tc.status, got, err)
		}
	}
}

func TestPrivilegesCheck(t *testing.T) {
	all := uint64(1<<capNetAdmin | 1<<capNetRaw)
	for _, tc := range []struct {
		name   string
		euid   int
		capEff uint64
		capErr error
		want   State
		detail string
	}{
		{"root", 0, all, nil, OK, "CAP_NET_ADMIN, CAP_NET_RAW effective"},
		{"root without NET_ADMIN (container)", 0, 1 << capNetRaw, nil, Warn, "CAP_NET_RAW effective"},
		{"user", 1000, 0, nil, Warn, "not root (euid 1000)"},
		{"user with file caps", 1000, all, nil, Warn, "CAP_NET_ADMIN"},
		{"root, caps unknown", 0, 0, errors.New("no CapEff"), OK, "capabilities unknown"},
	} {
		c := privilegesCheck(tc.euid, tc.capEff, tc.capErr)
		if c.State != tc.want || !strings.Contains(c.Detail, tc.detail) {
			t.Errorf("%s: %+v", tc.name, c)
		}
		if tc.euid != 0 && c.Fix == "" {
			t.Errorf("%s: no fix", tc.name)
		}
	}
}

func TestClockCheck(t *testing.T) {
	for _, tc := range []struct {
		name      string
		timesyncd bool
		state     int
		status    int32
		err       error
		want      State
	}{
		{"timesyncd flag", true, unix.TIME_ERROR, unix.STA_UNSYNC, nil, OK},
		{"kernel synced (chrony)", false, unix.TIME_OK, 0x2001, nil, OK},
		{"kernel unsynced", false, unix.TIME_ERROR, unix.STA_UNSYNC, nil, Warn},
		{"state error alone", false, unix.TIME_ERROR, 0, nil, Warn},
		{"adjtimex refused", false, 0, 0, unix.EPERM, Info},
	} {
		c := clockCheck(tc.timesyncd, tc.state, tc.status, 100, 2000, tc.err)
		if c.State != tc.want || c.Name != "clock" {
			t.Errorf("%s: %+v", tc.name, c)
		}
		if tc.want == Warn && !strings.Contains(c.Fix, "timedatectl set-ntp true") {
			t.Errorf("%s: fix %q", tc.name, c.Fix)
		}
	}
}

func TestPingGroupNote(t *testing.T) {
	for _, tc := range []struct {
		content string
		gid     int
		want    string
	}{
		{"1\t0\n", 0, "= 1 0: gid 0 is outside it"},
		{"0\t2147483647\n", 1000, "gid 1000 is inside it"},
		{"garbage", 0, ""},
	} {
		if got := pingGroupNote(tc.content, tc.gid); !strings.Contains(got, tc.want) || (tc.want == "" && got != "") {
			t.Errorf("pingGroupNote(%q, %d) = %q, want %q", tc.content, tc.gid, got, tc.want)
		}
	}
}

// The real Linux checks on this host: every check and fault kind is
// reported, the exit code matches them, and as root the raw ICMP socket
// and nftables answer.
func TestRunLinux(t *testing.T) {
	cfg := writeConfig(t, "bind = \"127.0.0.1:0\"\nkey_file = \"{key}\"\ndata_dir = \"{dir}/data\"\ncoordinator_key = \"{pub}\"\n")
	r := Run(context.Background(), Options{ConfigPath: cfg, ICMPTimeout: 2 * time.Second})
	var b strings.Builder
	r.WriteText(&b)
	t.Log("\n" + b.String())
	by := map[string]Check{}
	for _, c := range r.Checks {
		by[c.Name] = c
	}
	for _, name := range []string{"privileges", "config", "key file", "serf port", "advertise", "firewall", "icmp", "clock"} {
		if _, ok := by[name]; !ok {
			t.Errorf("no %q check", name)
		}
	}
	for _, name := range []string{"config", "key file", "serf port", "advertise"} {
		if by[name].State != OK {
			t.Errorf("%s: %+v", name, by[name])
		}
	}
	kinds := map[string]FaultKind{}
	for _, k := range r.Faults {
		kinds[k.Kind] = k
	}
	for _, k := range []string{"drop", "drop-host", "pause", "kill", "vm-pause"} {
		if _, ok := kinds[k]; !ok {
			t.Errorf("fault kind %s missing", k)
		}
	}
	if r.Exit != exitCode(r.Checks, r.Faults) || r.Exit == ExitCannotRun {
		t.Errorf("exit %d for %+v", r.Exit, r)
	}
	if os.Geteuid() == 0 {
		if by["icmp"].State != OK {
			t.Errorf("root but no ICMP socket works: %+v", by["icmp"])
		}
		if by["privileges"].State == Warn && !strings.Contains(by["privileges"].Detail, "CAP_") {
			t.Errorf("privileges: %+v", by["privileges"])
		}
	}
}

// A serf port taken by another process is a warning (probably an agent);
// an advertised address that is not on this host is a failure: exit 2.
func TestRunPortInUseAndForeignAdvertise(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Skipf("UDP %d taken too: %v", port, err)
	}
	defer pc.Close()

	bind := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, "bind = \""+bind+"\"\nkey_file = \"{key}\"\ndata_dir = \"{dir}/data\"\ncoordinator_key = \"{pub}\"\n")
	r := Run(context.Background(), Options{ConfigPath: cfg, ICMPTimeout: 500 * time.Millisecond})
	for _, c := range r.Checks {
		if c.Name == "serf port" && (c.State != Warn || !strings.Contains(c.Detail, "in use")) {
			t.Errorf("serf port: %+v", c)
		}
	}
	if r.Exit == ExitCannotRun {
		t.Errorf("an occupied port is not fatal: %+v", r.Checks)
	}

	// 192.0.2.10 (TEST-NET-1) is on no interface here: listening there
	// fails locally, nothing is sent.
	cfg = writeConfig(t, "bind = \"0.0.0.0:0\"\nadvertise = \"192.0.2.10:7946\"\nkey_file = \"{key}\"\ndata_dir = \"{dir}/data\"\ncoordinator_key = \"{pub}\"\n")
	r = Run(context.Background(), Options{ConfigPath: cfg, ICMPTimeout: 500 * time.Millisecond})
	if r.Exit != ExitCannotRun {
		t.Errorf("foreign advertise: exit %d, want %d: %+v", r.Exit, ExitCannotRun, r.Checks)
	}
}

func TestIsAddrInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = net.Listen("tcp", ln.Addr().String())
	if !isAddrInUse(err) {
		t.Errorf("second listen: %v, not recognised as in use", err)
	}
	if isAddrInUse(errors.New("other")) {
		t.Error("any error is in use")
	}
}
