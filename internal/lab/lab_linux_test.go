package lab

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a process to start inside a host.
func TestMain(m *testing.M) {
	if os.Getenv("KALAB_LAB_HELPER") == "sleep" {
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: the netns lab needs root (run the tests as root, as CI does)")
	}
}

func TestLab(t *testing.T) {
	needRoot(t)
	l, err := New(Config{Hosts: 3})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			l.Close()
		}
	})
	if !Range.Contains(l.Hosts[0].Addr) || !Range.Contains(l.Hosts[2].Addr) {
		t.Fatalf("host addresses %s..%s outside %s", l.Hosts[0].Addr, l.Hosts[2].Addr, Range)
	}
	all, err := Namespaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range l.Hosts {
		if !slices.Contains(all, h.Name) {
			t.Fatalf("namespace %s not in %v", h.Name, all)
		}
	}
	if ok, err := HasBlackhole(); err != nil || !ok {
		t.Fatalf("blackhole route while the lab exists: %v, %v", ok, err)
	}

	// Host 1 serves, host 2 dials it over the bridge.
	srv, cli := l.Hosts[0], l.Hosts[1]
	var ln net.Listener
	if err := srv.Do(func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort(srv.Addr.String(), "0"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	var conn net.Conn
	if err := cli.Do(func() (err error) {
		conn, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		return err
	}); err != nil {
		t.Fatalf("dial across the bridge: %v", err)
	}
	fmt.Fprintln(conn, "ping")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if err != nil || line != "ping\n" {
		t.Fatalf("echo across the bridge: %q, %v", line, err)
	}

	// The root namespace cannot reach the lab: the blackhole answers at once
	// and nothing leaves the machine.
	_, err = net.DialTimeout("tcp", ln.Addr().String(), 2*time.Second)
	if err == nil || !(errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH)) {
		t.Fatalf("dial from the root namespace: %v, want a local blackhole error", err)
	}

	// A process started in a host lives in that host's namespace.
	self, _ := os.Executable()
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), "KALAB_LAB_HELPER=sleep")
	if err := cli.Start(cmd); err != nil {
		t.Fatal(err)
	}
	got, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid))
	var st syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+cli.Name, &st); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("net:[%d]", st.Ino); got != want {
		t.Fatalf("child's namespace %s, want %s (%s)", got, want, cli.Name)
	}
	pid := cmd.Process.Pid

	closed = true
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	all, _ = Namespaces()
	for _, h := range append(l.Hosts, &Host{Name: l.Name + "-sw"}) {
		if slices.Contains(all, h.Name) {
			t.Errorf("namespace %s left after Close", h.Name)
		}
	}
	if alive(pid) && !zombie(pid) {
		t.Errorf("process %d still running after Close", pid)
	}
	if len(all) == 0 {
		if ok, _ := HasBlackhole(); ok {
			t.Error("blackhole route left after the last lab closed")
		}
	}
}

// TestSweep: a namespace whose owner pid is dead is removed (with the
// processes inside it); one owned by a live process is left alone.
func TestSweep(t *testing.T) {
	needRoot(t)
	dead := fmt.Sprintf("%s%d-1-h1", NamePrefix, 4194304+1) // above pid_max: never alive
	h, err := newNamed(dead)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	t.Cleanup(func() { removeNamespace(dead) })
	if err := addBlackhole(); err != nil {
		t.Fatal(err)
	}
	live := fmt.Sprintf("%s%d-999-h1", NamePrefix, os.Getpid())
	lh, err := newNamed(live)
	if err != nil {
		t.Fatal(err)
	}
	lh.Close()
	t.Cleanup(func() {
		removeNamespace(live)
		unlock, _ := lock()
		dropBlackholeIfUnused()
		unlock()
	})

	removed, err := Sweep()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(removed, dead) {
		t.Errorf("Sweep removed %v, want %s", removed, dead)
	}
	if slices.Contains(removed, live) {
		t.Errorf("Sweep removed %s, whose owner (this test) is alive", live)
	}
	all, _ := Namespaces()
	if slices.Contains(all, dead) || !slices.Contains(all, live) {
		t.Errorf("after Sweep: %v", all)
	}
}

func TestOwnerPID(t *testing.T) {
	tests := []struct {
		name string
		pid  int
		ok   bool
	}{
		{"kalab-123-4-h1", 123, true},
		{"kalab-123-4-sw", 123, true},
		{"kalab-123-4-h12", 123, true},
		{"kalab-sw", 0, false},
		{"kalab-abc-1-h1", 0, false},
		{"other-123-4-h1", 0, false},
	}
	for _, tt := range tests {
		pid, ok := OwnerPID(tt.name)
		if pid != tt.pid || ok != tt.ok {
			t.Errorf("OwnerPID(%q) = %d, %v; want %d, %v", tt.name, pid, ok, tt.pid, tt.ok)
		}
	}
}

func TestBlock(t *testing.T) {
	for _, n := range []int{0, 1, 255, 256, 511, 512, 100000} {
		b := Block(n)
		if !Range.Contains(b.Addr()) || b.Bits() != 24 || !Range.Contains(HostAddr(b, 250)) {
			t.Errorf("Block(%d) = %s escapes %s", n, b, Range)
		}
	}
	if Block(0) == Block(1) {
		t.Error("consecutive labs share a block")
	}
}
