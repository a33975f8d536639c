package agentd

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/fault"
	"github.com/kalab-dev/kalab/internal/lab"
	"github.com/kalab-dev/kalab/internal/wire"
)

// crashScriptEnv makes this test binary the scripted coordinator of
// TestFaultsOutliveNoOne, run inside the lab's control host (nothing that
// talks to lab addresses runs in the root namespace). Its JSON argument is
// a crashScript.
const crashScriptEnv = "KALAB_TEST_CRASH_SCRIPT"

func init() {
	if arg := os.Getenv(crashScriptEnv); arg != "" {
		os.Exit(runCrashScript(arg))
	}
}

// crashScript is what the scripted coordinator does: join, then for each
// run prepare a server on Server and a client on Client and apply the
// fault, then print "faulted" and wait for collect of WatchRun on Server
// to end (or to be killed).
type crashScript struct {
	Bind, Join, KeyFile, SignKey string
	Server, Client               string
	Runs                         []crashRun
	WatchRun                     string
}

// crashRun is one run of the script.
type crashRun struct {
	ID, Scope string
	IdleMS    int64
	TTLMS     int64
}

// runCrashScript is the scripted coordinator's body; it prints one line per
// step ("faulted", "detected <errno> <ns>") on stdout.
func runCrashScript(arg string) int {
	var s crashScript
	if err := json.Unmarshal([]byte(arg), &s); err != nil {
		fmt.Println("error", err)
		return 2
	}
	fail := func(step string, err error) int { fmt.Println("error", step, err); return 1 }
	key, err := cluster.ReadKeyFile(s.KeyFile)
	if err != nil {
		return fail("key", err)
	}
	sign, err := cluster.ReadSigningKey(s.SignKey)
	if err != nil {
		return fail("sign key", err)
	}
	n, err := cluster.New(cluster.Config{Name: "script-coordinator", Bind: s.Bind, Key: key, SignKey: sign,
		Tags: map[string]string{cluster.TagRole: "coordinator"}})
	if err != nil {
		return fail("node", err)
	}
	if err := n.Start(); err != nil {
		return fail("start", err)
	}
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for n.Join([]string{s.Join}) != nil || len(n.Members()) < 3 {
		if time.Now().After(deadline) {
			return fail("join", fmt.Errorf("%d members", len(n.Members())))
		}
		time.Sleep(200 * time.Millisecond)
	}
	call := func(node, id, cmd string, body, out any) error {
		return n.Call(ctx, node, id, cmd, body, out, cluster.CallOptions{})
	}
	for _, r := range s.Runs {
		const nonce = "0123456789abcdef"
		var ps wire.PrepareServerResp
		var st wire.StatusResp
		if err := call(s.Client, r.ID+"/status", wire.CmdStatus, wire.StatusReq{}, &st); err != nil {
			return fail("status", err)
		}
		if err := call(s.Server, r.ID+"/ps", wire.CmdPrepareServer, wire.PrepareServerReq{Run: r.ID, Mode: "listener", ClientAddr: clientIP(n, s.Client),
			TTLMS: 120_000, Nonce: nonce, Keepalive: wire.Keepalive{IdleMS: r.IdleMS, IntervalMS: 1000, Count: 3}}, &ps); err != nil {
			return fail("prepare server", err)
		}
		if err := call(s.Client, r.ID+"/pc", wire.CmdPrepareClient, wire.PrepareClientReq{Run: r.ID, ServerAddr: ps.Addr, ServerNode: s.Server,
			Nonce: nonce, TTLMS: 120_000}, nil); err != nil {
			return fail("prepare client", err)
		}
		if err := call(s.Client, r.ID+"/fault", wire.CmdFault, wire.FaultReq{Run: r.ID, Kind: "drop", Scope: r.Scope, TTLMS: r.TTLMS}, nil); err != nil {
			return fail("fault", err)
		}
	}
	fmt.Println("faulted", time.Now().UnixNano())
	for i := 0; s.WatchRun != ""; i++ {
		var col wire.CollectResp
		if err := call(s.Server, fmt.Sprintf("%s/collect-%d", s.WatchRun, i), wire.CmdCollect, wire.CollectReq{Run: s.WatchRun}, &col); err == nil && col.Done && col.DetectNS != nil {
			fmt.Println("detected", col.ErrnoName, *col.DetectNS)
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	select {} // until the test kills it
}

func clientIP(n *cluster.Node, name string) string {
	for _, m := range n.Members() {
		if m.Name == name {
			h, _, _ := net.SplitHostPort(m.Addr)
			return h
		}
	}
	return ""
}

// TestFaultsOutliveNoOne: SIGKILL the agent that applied a flow drop and a
// host drop — with no agent left on that host, both stop dropping by their
// TTL on the kernel's clock (shown by packets: an echo across the host
// drop, and the dead client's FIN reaching the server across the flow
// drop); a restarted agent finds an empty journal and leaves no kalab
// table. Then SIGKILL the coordinator mid-fault: the surviving agent heals
// at the TTL.
func TestFaultsOutliveNoOne(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: the lab needs root (run as root, as CI does)")
	}
	if testing.Short() {
		t.Skip("skipping the ~40 s crash test in -short mode")
	}
	dir := t.TempDir()
	// Searchable by others, like a release install: the client child then
	// runs as nobody, and must still die with its agent.
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	agentBin := filepath.Join(dir, "agent")
	if out, err := exec.Command("go", "build", "-o", agentBin, "../../agent").CombinedOutput(); err != nil {
		t.Fatalf("build agent: %v\n%s", err, out)
	}
	keyFile := filepath.Join(dir, "kalab.key")
	if err := cluster.WriteKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	priv, pub := filepath.Join(dir, "coordinator.key"), filepath.Join(dir, "coordinator.pub")
	if err := cluster.WriteSigningKeys(priv, pub); err != nil {
		t.Fatal(err)
	}
	l, err := lab.New(lab.Config{Hosts: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ctrl, hostA, hostB := l.Hosts[0], l.Hosts[1], l.Hosts[2]
	addr := func(h *lab.Host) string { return net.JoinHostPort(h.Addr.String(), "7946") }
	startAgent := func(h *lab.Host, name string) *exec.Cmd {
		args := []string{"run", "--name", name, "--bind", addr(h), "--key-file", keyFile, "--coordinator-key", pub,
			"--data-dir", filepath.Join(dir, name), "--log-format", "json"}
		if h != hostB {
			args = append(args, "--join", addr(hostB))
		}
		cmd := exec.Command(agentBin, args...)
		logf, _ := os.Create(filepath.Join(dir, name+".log"))
		t.Cleanup(func() { logf.Close() })
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := h.Start(cmd); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	startAgent(hostB, "agent-b")
	agentA := startAgent(hostA, "agent-a")

	// An echo service on A, reached from B: the host drop must stop it.
	var echo net.Listener
	if err := hostA.Do(func() (err error) {
		echo, err = net.Listen("tcp", net.JoinHostPort(hostA.Addr.String(), "9000"))
		return
	}); err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b := make([]byte, 4)
				if _, err := c.Read(b); err == nil {
					c.Write(b)
				}
			}()
		}
	}()
	echoOK := func() bool {
		var ok bool
		_ = hostB.Do(func() error {
			c, err := net.DialTimeout("tcp", echo.Addr().String(), 400*time.Millisecond)
			if err != nil {
				return nil
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(400 * time.Millisecond))
			b := make([]byte, 4)
			_, err = c.Write([]byte("ping"))
			if err == nil {
				_, err = c.Read(b)
			}
			ok = err == nil && string(b) == "ping"
			return nil
		})
		return ok
	}

	const ttl = 6 * time.Second
	script := func(s crashScript) (*exec.Cmd, *bufio.Scanner) {
		arg, _ := json.Marshal(s)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashScriptEnv+"="+string(arg))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := ctrl.Start(cmd); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd, bufio.NewScanner(out)
	}
	waitLine := func(sc *bufio.Scanner, prefix string, within time.Duration) []string {
		t.Helper()
		got := make(chan []string, 1)
		go func() {
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) > 0 && (f[0] == prefix || f[0] == "error") {
					got <- f
					return
				}
			}
			got <- nil
		}()
		select {
		case f := <-got:
			if len(f) == 0 || f[0] != prefix {
				t.Fatalf("scripted coordinator: %v (agent logs in %s)", f, dir)
			}
			return f
		case <-time.After(within):
			t.Fatalf("no %q from the scripted coordinator within %s", prefix, within)
		}
		return nil
	}

	// 1. The agent dies with both drops in place.
	if !echoOK() {
		t.Fatal("echo from B to A failed before any fault")
	}
	_, sc := script(crashScript{Bind: net.JoinHostPort(ctrl.Addr.String(), "7947"), Join: addr(hostB), KeyFile: keyFile, SignKey: priv, Server: "agent-b", Client: "agent-a",
		Runs:     []crashRun{{ID: "crash-flow", Scope: "flow", IdleMS: 600_000, TTLMS: ttl.Milliseconds()}, {ID: "crash-host", Scope: "host", IdleMS: 600_000, TTLMS: ttl.Milliseconds()}},
		WatchRun: "crash-flow"})
	start := time.Now()
	f := waitLine(sc, "faulted", 60*time.Second)
	t.Logf("faults applied %s after the script started", time.Since(start).Round(100*time.Millisecond))
	faultedNS, _ := strconv.ParseInt(f[1], 10, 64)
	faulted := time.Unix(0, faultedNS)
	if echoOK() {
		t.Fatal("the host drop did not stop the echo from B to A")
	}
	if err := agentA.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	agentA.Wait()
	var back time.Duration
	for !echoOK() {
		if time.Since(faulted) > ttl+10*time.Second {
			t.Fatalf("with the agent killed, the host drop still drops %s after it was applied (TTL %s)", time.Since(faulted).Round(time.Second), ttl)
		}
		time.Sleep(250 * time.Millisecond)
	}
	back = time.Since(faulted)
	t.Logf("host drop lapsed %s after it was applied (TTL %s), no agent alive", back.Round(100*time.Millisecond), ttl)
	if back < ttl-time.Second {
		t.Errorf("the echo came back after %s, before the TTL %s: the drop did not hold", back, ttl)
	}
	// The dead client's FIN crosses once the flow drop lapses: the server
	// (idle 10 min, so not keepalive) sees the peer close.
	d := waitLine(sc, "detected", ttl+30*time.Second)
	detNS, _ := strconv.ParseInt(d[2], 10, 64)
	t.Logf("flow drop: the server saw %s %s after the fault (TTL %s)", d[1], time.Unix(0, detNS).Sub(faulted).Round(100*time.Millisecond), ttl)
	if d[1] != "EOF" && d[1] != "ECONNRESET" {
		t.Errorf("the server ended with %s, want the dead client's close", d[1])
	}
	if at := time.Unix(0, detNS).Sub(faulted); at < ttl-time.Second {
		t.Errorf("the client's close reached the server %s after the fault, before the TTL: the flow drop did not hold", at)
	}

	t.Logf("%s: restarting agent-a", time.Since(faulted).Round(time.Second))
	if b, _ := os.ReadFile(filepath.Join(dir, "agent-a.log")); !strings.Contains(string(b), `"unprivileged":true`) {
		t.Errorf("the client child did not run as nobody (agent-a.log lacks unprivileged=true)")
	}
	// 2. A restarted agent replays its journal: nothing is left.
	agentA = startAgent(hostA, "agent-a")
	journal := filepath.Join(dir, "agent-a", "faults")
	deadline := time.Now().Add(15 * time.Second)
	for {
		left, _ := filepath.Glob(filepath.Join(journal, "*.json"))
		tables, err := fault.Tables(hostA.NetNS())
		if err == nil && len(left) == 0 && len(tables) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: journal %v, kalab tables %v (%v)", left, tables, err)
		}
		time.Sleep(250 * time.Millisecond)
	}

	t.Logf("%s: journal replayed, no kalab table", time.Since(faulted).Round(time.Second))
	// 3. The coordinator dies mid-fault: the agent heals at the TTL.
	coord, sc2 := script(crashScript{Bind: net.JoinHostPort(ctrl.Addr.String(), "7948"), Join: addr(hostB), KeyFile: keyFile, SignKey: priv, Server: "agent-b", Client: "agent-a",
		Runs: []crashRun{{ID: "coord-host", Scope: "host", IdleMS: 600_000, TTLMS: ttl.Milliseconds()}}})
	f = waitLine(sc2, "faulted", 60*time.Second)
	faultedNS, _ = strconv.ParseInt(f[1], 10, 64)
	if echoOK() {
		t.Fatal("the second host drop did not stop the echo")
	}
	coord.Process.Signal(syscall.SIGKILL)
	for !echoOK() {
		if time.Since(time.Unix(0, faultedNS)) > ttl+10*time.Second {
			t.Fatal("with the coordinator killed, the agent did not heal its host drop by the TTL")
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("coordinator killed: the agent healed %s after the fault (TTL %s)", time.Since(time.Unix(0, faultedNS)).Round(100*time.Millisecond), ttl)
	deadline = time.Now().Add(5 * time.Second)
	for {
		left, _ := filepath.Glob(filepath.Join(journal, "*.json"))
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("journal entries left after the deadman healed: %v", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
	agentA.Process.Signal(syscall.SIGTERM)
	agentA.Wait()
}
