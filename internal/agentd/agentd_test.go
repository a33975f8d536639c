package agentd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/fault"
	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/role"
	"github.com/kalab-dev/kalab/internal/wire"
)

// The test binary is also the client role's child.
func TestMain(m *testing.M) {
	role.MaybeRunClient()

	os.Exit(m.Run())
}

// startAgent starts the agent agent-t and a coordinator node coord on
// loopback and joins them; setup, when set, prepares the coordinator
// before it starts (HandlePush). call sends coord's signed commands to the
// agent.
func startAgent(t *testing.T, setup func(*cluster.Node)) (a *Agent, coord *cluster.Node, call func(id, cmd string, body, out any) error) {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	key := cluster.NewKey()
	os.WriteFile(keyFile, []byte(cluster.EncodeKey(key)), 0o600)
	priv, pub := filepath.Join(dir, "coordinator.key"), filepath.Join(dir, "coordinator.pub")
	if err := cluster.WriteSigningKeys(priv, pub); err != nil {
		t.Fatal(err)
	}
	signKey, err := cluster.ReadSigningKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	a, err = New(Config{Name: "agent-t", Bind: "127.0.0.1:0", Advertise: "127.0.0.1:0", KeyFile: keyFile, CoordinatorKey: pub, DataDir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	coord, err = cluster.New(cluster.Config{Name: "coord", Bind: "127.0.0.1:0", Key: key, SignKey: signKey})
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(coord)
	}
	if err := coord.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { coord.Leave(); coord.Shutdown() })
	if err := coord.Join([]string{a.node.Members()[0].Addr}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	call = func(id, cmd string, body, out any) error {
		return coord.Call(ctx, "agent-t", id, cmd, body, out, cluster.CallOptions{})
	}
	return a, coord, call
}

// TestAgentCommands drives one agent on loopback through the coordinator's
// side of the protocol: a retried prepare (new id, same run) does not start
// a second server, the client child connects, a kill is seen as EOF, bad
// commands are refused with reasons, cleanup forgets the run.
func TestAgentCommands(t *testing.T) {
	_, _, call := startAgent(t, nil)
	var st wire.StatusResp
	if err := call("s1", wire.CmdStatus, wire.StatusReq{}, &st); err != nil || st.Name != "agent-t" || st.OS == "" {
		t.Fatalf("status: %+v %v", st, err)
	}
	if st.Self != nil {
		t.Fatalf("status without self: %+v, want no usage read", st.Self)
	}
	if err := call("s2", wire.CmdStatus, wire.StatusReq{Self: true}, &st); err != nil || st.Self == nil || st.Self.Goroutines < 2 || st.Self.OpenFDs < 3 || st.Self.PeakRSSBytes <= 0 || st.Self.CPUNS <= 0 {
		t.Fatalf("status with self: %+v %v, want the agent's goroutines, descriptors, peak RSS and CPU", st.Self, err)
	}

	const nonce = "00112233445566ff"
	prep := wire.PrepareServerReq{Run: "r1", Keepalive: wire.Keepalive{IdleMS: 1000, IntervalMS: 1000, Count: 3}, Mode: "listener", ClientAddr: "127.0.0.1", TTLMS: 60000, Nonce: nonce}
	var s1, s2 wire.PrepareServerResp
	if err := call("r1/prepare-server", wire.CmdPrepareServer, prep, &s1); err != nil {
		t.Fatal(err)
	}
	if err := call("r1/prepare-server-retry", wire.CmdPrepareServer, prep, &s2); err != nil {
		t.Fatal(err)
	}
	if s1.Addr == "" || s1.Addr != s2.Addr {
		t.Fatalf("a second prepare for the run gave %q, the first %q: want the same server", s2.Addr, s1.Addr)
	}
	// Targets the client cannot be tricked into: an address the named
	// server agent does not have, a node that is not an agent, another
	// service on the right host (its greeting lacks the run's nonce).
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	go func() {
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-OpenSSH_9.2p1\r\n"))
			c.Close()
		}
	}()
	var re *cluster.RemoteError
	for i, bad := range []struct{ node, addr, want string }{
		{"agent-t", "198.18.0.99:22", "not the address of agent"},
		{"coord", s1.Addr, "not a live agent"},
		{"agent-t", other.Addr().String(), "not this run's kalab server"},
	} {
		err := call(fmt.Sprintf("bad/prepare-client-%d", i), wire.CmdPrepareClient, wire.PrepareClientReq{Run: fmt.Sprintf("bad%d", i), ServerAddr: bad.addr, ServerNode: bad.node, Nonce: nonce, TTLMS: 60000}, nil)
		if !errors.As(err, &re) || !strings.Contains(re.Msg, bad.want) {
			t.Errorf("prepare-client toward %s (%s): %v, want %q", bad.addr, bad.node, err, bad.want)
		}
	}
	var pc wire.PrepareClientResp
	if err := call("r1/prepare-client", wire.CmdPrepareClient, wire.PrepareClientReq{Run: "r1", ServerAddr: s1.Addr, ServerNode: "agent-t", Nonce: nonce, TTLMS: 60000}, &pc); err != nil {
		t.Fatal(err)
	}
	if pc.Remote != s1.Addr || pc.PID == 0 {
		t.Fatalf("client %+v, server %s", pc, s1.Addr)
	}
	var col wire.CollectResp
	if err := call("r1/collect-0", wire.CmdCollect, wire.CollectReq{Run: "r1"}, &col); err != nil || col.Done {
		t.Fatalf("collect before the fault: %+v %v", col, err)
	}
	if col.Options.Count == nil || *col.Options.Count != 3 || col.Options.IdleMS == nil || *col.Options.IdleMS != 1000 {
		t.Fatalf("effective options %+v: want 1s/1s/3 read back", col.Options)
	}

	err = call("r1/fault-host", wire.CmdFault, wire.FaultReq{Run: "r1", Kind: "drop", Scope: "host", TTLMS: 1000}, nil)
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "loopback") {
		t.Fatalf("host drop toward 127.0.0.1: %v", err)
	}
	err = call("r1/fault-bad", wire.CmdFault, wire.FaultReq{Run: "r1", Kind: "unplug", TTLMS: 1000}, nil)
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "not available") {
		t.Fatalf("unknown fault kind: %v", err)
	}
	err = call("r1/fault-direction", wire.CmdFault, wire.FaultReq{Run: "r1", Kind: "drop", Direction: "sideways", TTLMS: 1000}, nil)
	if !errors.As(err, &re) || !strings.Contains(re.Msg, `direction "sideways": allowed "both" (the default), "to-server" or "to-client"`) {
		t.Fatalf("unknown drop direction: %v", err)
	}
	err = call("r1/fault-kill-direction", wire.CmdFault, wire.FaultReq{Run: "r1", Kind: "kill", Direction: "to-server", TTLMS: 1000}, nil)
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "only a drop has a direction") {
		t.Fatalf("direction on a kill: %v", err)
	}
	err = call("r1/fault-ttl", wire.CmdFault, wire.FaultReq{Run: "r1", Kind: "kill", TTLMS: 0}, nil)
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "ttl") {
		t.Fatalf("zero ttl: %v", err)
	}
	for _, bad := range []struct {
		req  wire.FaultReq
		want string
	}{
		{wire.FaultReq{Run: "r1", Kind: "kill", TTLMS: 10000, HoldMS: 500}, "a kill cannot be held"},
		{wire.FaultReq{Run: "r1", Kind: "pause", TTLMS: 1000, HoldMS: 1000}, "up to the fault's ttl"},
		{wire.FaultReq{Run: "r1", Kind: "pause", TTLMS: 1000, HoldMS: -1}, "fault hold -1ms"},
	} {
		err := call("r1/fault-hold-"+bad.want, wire.CmdFault, bad.req, nil)
		if !errors.As(err, &re) || !strings.Contains(re.Msg, bad.want) {
			t.Fatalf("fault %+v: %v, want %q", bad.req, err, bad.want)
		}
	}
	var fr wire.FaultResp
	if err := call("r1/fault", wire.CmdFault, wire.FaultReq{Run: "r1", Kind: "kill", TTLMS: 10000}, &fr); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for i := 1; !col.Done && time.Now().Before(deadline); i++ {
		time.Sleep(50 * time.Millisecond)
		if err := call(fmt.Sprintf("r1/collect-%d", i), wire.CmdCollect, wire.CollectReq{Run: "r1"}, &col); err != nil {
			t.Fatal(err)
		}
	}
	if !col.Done || col.ErrnoName != "EOF" || col.DetectNS == nil || *col.DetectNS < fr.AtNS-int64(time.Second) {
		t.Fatalf("after kill: %+v", col)
	}
	if err := call("r1/cleanup", wire.CmdCleanup, wire.CleanupReq{Run: "r1"}, nil); err != nil {
		t.Fatal(err)
	}
	err = call("r1/collect-after", wire.CmdCollect, wire.CollectReq{Run: "r1"}, &col)
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "unknown") {
		t.Fatalf("collect after cleanup: %v", err)
	}

	// A held pause ends on the agent's own timer: the heal command sent
	// well after the hold finds it healed and returns that instant.
	prep.Run = "r2"
	if err := call("r2/prepare-server", wire.CmdPrepareServer, prep, &s1); err != nil {
		t.Fatal(err)
	}
	if err := call("r2/prepare-client", wire.CmdPrepareClient, wire.PrepareClientReq{Run: "r2", ServerAddr: s1.Addr, ServerNode: "agent-t", Nonce: nonce, TTLMS: 60000}, &pc); err != nil {
		t.Fatal(err)
	}
	if err := call("r2/fault", wire.CmdFault, wire.FaultReq{Run: "r2", Kind: "pause", TTLMS: 10000, HoldMS: 300}, &fr); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	sent := time.Now()
	var hr wire.HealResp
	if err := call("r2/heal", wire.CmdHeal, wire.HealReq{Run: "r2"}, &hr); err != nil {
		t.Fatal(err)
	}
	if !hr.ByHold || hr.ByDeadman || hr.AtNS < fr.AtNS+int64(300*time.Millisecond) || hr.AtNS >= sent.UnixNano() {
		t.Fatalf("heal after a 300 ms hold (fault at %d, heal sent at %d): %+v, want healed by the hold before the heal was sent", fr.AtNS, sent.UnixNano(), hr)
	}
	if err := call("r2/cleanup", wire.CmdCleanup, wire.CleanupReq{Run: "r2"}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Name: "a", Bind: "0.0.0.0:7946", KeyFile: "k"}, "--advertise"},
		{Config{Name: "a", Bind: "127.0.0.1:7946"}, "--key-file"},
		{Config{Name: "a", Bind: "nonsense", KeyFile: "k"}, "advertise/bind"},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "agent.toml")
		os.WriteFile(p, []byte(s), 0o600)
		return p
	}
	key := filepath.Join(dir, "k")
	if err := cluster.WriteKeyFile(key); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "coordinator.pub")
	if err := cluster.WriteSigningKeys(filepath.Join(dir, "coordinator.key"), pub); err != nil {
		t.Fatal(err)
	}
	// data_dir and coordinator_key are required.
	files := "data_dir = " + strconv.Quote(filepath.Join(dir, "data")) + "\ncoordinator_key = " + strconv.Quote(pub) + "\n"
	c, err := LoadConfig(write("name = \"h1\"\nbind = \"0.0.0.0:7946\"\nadvertise = \"192.0.2.1:7946\"\nkey_file = " + strconv.Quote(key) + "\n" + files + "[hypervisor]\nvm = \"v\"\npause = [\"virsh\", \"suspend\", \"{vm}\"]\nresume = [\"virsh\", \"resume\", \"{vm}\"]\n"))
	if err != nil || c.Name != "h1" || !c.Hypervisor.Configured() {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := LoadConfig(write("name = \"h1\"\nshell = \"rm -rf /\"\n")); err == nil || !strings.Contains(err.Error(), "unknown keys shell") {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := LoadConfig(write("advertise = \"192.0.2.1:7946\"\nkey_file = " + strconv.Quote(key) + "\n" + files + "[hypervisor]\nvm = \"v\"\n")); err == nil || !strings.Contains(err.Error(), "together") {
		t.Fatalf("half a hook: %v", err)
	}
}

// TestCapsTag: the caps tag lists exactly the fault kinds the OS probe
// found usable, plus "privileged" — checked with faked probes for each OS.
func TestCapsTag(t *testing.T) {
	defer func(c func(fault.Hypervisor, bool) []fault.Capability, p func() bool) {
		capabilities, isPrivileged = c, p
	}(capabilities, isPrivileged)
	tests := []struct {
		name string
		caps []fault.Capability
		priv bool
		want string
	}{
		{"windows elevated", []fault.Capability{{Kind: "drop", OK: true}, {Kind: "drop-host", OK: true}, {Kind: "pause", OK: true}, {Kind: "kill", OK: true}, {Kind: "vm-pause"}}, true, "drop,drop-host,pause,kill,privileged"},
		{"windows not elevated", []fault.Capability{{Kind: "drop", Why: "needs an elevated agent"}, {Kind: "drop-host"}, {Kind: "pause", OK: true}, {Kind: "kill", OK: true}, {Kind: "vm-pause"}}, false, "pause,kill"},
		{"macOS root with a hook", []fault.Capability{{Kind: "drop", OK: true}, {Kind: "drop-host", OK: true}, {Kind: "pause", OK: true}, {Kind: "kill", OK: true}, {Kind: "vm-pause", OK: true}}, true, "drop,drop-host,pause,kill,vm-pause,privileged"},
	}
	for _, tt := range tests {
		capabilities = func(fault.Hypervisor, bool) []fault.Capability { return tt.caps }
		isPrivileged = func() bool { return tt.priv }
		a := &Agent{}
		if got := a.caps(); got != tt.want {
			t.Errorf("%s: caps %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestDirectionsAgree: every drop direction an experiment can ask for
// (results.Directions, sent as wire.FaultReq.Direction) is one the fault
// package applies under the same name.
func TestDirectionsAgree(t *testing.T) {
	for _, d := range results.Directions {
		got, err := fault.ParseDirection(d)
		if err != nil || string(got) != d {
			t.Errorf("direction %q: fault.ParseDirection = %q, %v", d, got, err)
		}
	}
}
