package labsvc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/lab"
)

// needProduct skips when the product's Debian package is missing, except
// under CI, whose .ci/run installs every package: there it fails instead,
// so that CI can never pass by skipping.
func needProduct(t *testing.T, p Product) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: the netns lab needs root (run the tests as root, as CI does)")
	}
	if _, err := serverBinary(p); err != nil {
		if errors.Is(err, ErrNotInstalled) && os.Getenv("CI") == "" {
			t.Skipf("skipping: %v", err)
		}
		t.Fatal(err)
	}
}

// TestServices starts each product in a lab host, with short keepalive
// and with its defaults, connects from the other host, checks what the
// server applied to the accepted socket against Expected, then stops it
// and checks that nothing of it is left.
func TestServices(t *testing.T) {
	short := map[Product]*Keepalive{
		Redis:      {Idle: 3 * time.Second},
		PostgreSQL: {Idle: 2 * time.Second, Interval: time.Second, Count: 3},
		Nginx:      {Idle: 2 * time.Second, Interval: time.Second, Count: 3},
	}
	s := func(n int) time.Duration { return time.Duration(n) * time.Second }
	// What each product applies, from its source (package comment) and a
	// new namespace's sysctls 7200/75/9.
	want := map[Product][2]Keepalive{ // [short, defaults]
		Redis:      {{s(3), s(1), 3}, {s(300), s(100), 3}},
		PostgreSQL: {{s(2), s(1), 3}, {s(7200), s(75), 9}},
		Nginx:      {{s(2), s(1), 3}, {}},
	}
	for _, p := range Products {
		for i, mode := range []string{"short", "defaults"} {
			t.Run(string(p)+"/"+mode, func(t *testing.T) {
				needProduct(t, p)
				var keep *Keepalive
				if mode == "short" {
					keep = short[p]
				}
				runService(t, p, keep, want[p][i])
			})
		}
	}
}

func runService(t *testing.T, p Product, keep *Keepalive, want Keepalive) {
	l, err := lab.New(lab.Config{Hosts: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	// Not t.TempDir: its parent is 0700, which the postgres user cannot pass.
	dir, err := os.MkdirTemp("", "kalab-labsvc-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	srv, cli := l.Hosts[0], l.Hosts[1]

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	started := time.Now()
	svc, err := Start(ctx, Spec{Product: p, Netns: srv.Name, Addr: srv.Addr, Keepalive: keep, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	t.Logf("%s ready in %s, pid %d, config %q, expected %s", svc.Version(), time.Since(started).Round(time.Millisecond), svc.PID(), svc.ConfigLines(), svc.Expected())

	if !strings.HasPrefix(svc.Version(), map[Product]string{Redis: "redis-server ", PostgreSQL: "PostgreSQL ", Nginx: "nginx "}[p]) {
		t.Errorf("Version() = %q", svc.Version())
	}
	if got, wantLines := svc.ConfigLines(), configLines(Spec{Product: p, Addr: srv.Addr, Keepalive: keep}); !slices.Equal(got, wantLines) || (keep == nil) != (len(got) == 0) {
		t.Errorf("ConfigLines() = %q, want %q", got, wantLines)
	}
	if svc.Expected() != want {
		t.Errorf("Expected() = %s, want %s", svc.Expected(), want)
	}
	var st syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+srv.Name, &st); err != nil {
		t.Fatal(err)
	}
	if got, want := nsOf(svc.PID(), "net"), fmt.Sprintf("net:[%d]", st.Ino); got != want {
		t.Fatalf("server pid %d runs in namespace %s, want %s (%s)", svc.PID(), got, want, srv.Name)
	}
	if me, _ := os.Readlink("/proc/self/ns/net"); me == nsOf(svc.PID(), "net") {
		t.Fatalf("the test process's main thread is in the server's namespace %s", me)
	}
	// Its own IPC namespace: PostgreSQL's System V segment cannot outlive it.
	if me, _ := os.Readlink("/proc/self/ns/ipc"); me == nsOf(svc.PID(), "ipc") {
		t.Errorf("server pid %d shares the test's IPC namespace %s", svc.PID(), me)
	}

	// A real client on the other host: connect, say hello, read the
	// product's answer, keep the connection open and idle.
	var conn net.Conn
	if err := cli.Do(func() (err error) {
		conn, err = net.DialTimeout("tcp4", netip.AddrPortFrom(srv.Addr, uint16(p.DefaultPort())).String(), 3*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hello, expect := p.Hello()
	if _, err := io.WriteString(conn, hello); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	answer := make([]byte, len(expect))
	if _, err := io.ReadFull(bufio.NewReader(conn), answer); err != nil || string(answer) != expect {
		t.Fatalf("%s answered %q, %v; want %q", p, answer, err, expect)
	}

	// The accepted socket as the server left it.
	peer := netip.MustParseAddrPort(conn.LocalAddr().String())
	var got Keepalive
	deadline := time.Now().Add(3 * time.Second)
	for {
		got, err = svc.Applied(peer)
		if (err == nil && got == svc.Expected()) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got != svc.Expected() {
		t.Errorf("the server applied %s to the accepted socket, Expected() says %s", got, svc.Expected())
	}
	t.Logf("applied to the accepted socket: %s", got)

	// Stop, twice, and nothing of the server is left.
	pid := svc.PID()
	kids := descendants(pid)
	if err := svc.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := svc.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("pid %d after Stop: kill 0 = %v, want ESRCH", pid, err)
	}
	for _, k := range kids {
		if k.alive() {
			t.Errorf("child pid %d of %s still running after Stop", k.pid, p)
		}
	}
	// The client's connection ends (PostgreSQL says goodbye first: a fast
	// shutdown sends each client an ErrorResponse).
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.Copy(io.Discard, conn); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Error("the client's connection is still open 3 s after Stop")
	}
	err = cli.Do(func() error {
		c, err := net.DialTimeout("tcp4", netip.AddrPortFrom(srv.Addr, uint16(p.DefaultPort())).String(), 2*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial after Stop: %v, want connection refused (nothing listening)", err)
	}
	if _, err := os.Stat(svc.LogPath()); err != nil {
		t.Errorf("log: %v", err)
	}
}

// nsOf names pid's namespace of kind ("net", "ipc") as kind:[inode].
func nsOf(pid int, kind string) string {
	s, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, kind))
	return s
}

// TestStartErrors: what Start refuses before running anything, and the
// log tail when the server cannot start.
func TestStartErrors(t *testing.T) {
	needProduct(t, Redis)
	l, err := lab.New(lab.Config{Hosts: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	h := l.Hosts[0]
	dir := t.TempDir()
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		spec Spec
		want string
	}{
		{"no namespace", Spec{Product: Redis, Addr: h.Addr, Dir: dir}, "no network namespace"},
		{"missing namespace", Spec{Product: Redis, Netns: "kalab-none-0-h1", Addr: h.Addr, Dir: dir}, "no such file"},
		{"unsafe dir", Spec{Product: Redis, Netns: h.Name, Addr: h.Addr, Dir: dir + "/a b"}, "letters, digits"},
		{"redis interval", Spec{Product: Redis, Netns: h.Name, Addr: h.Addr, Dir: dir, Keepalive: &Keepalive{Idle: time.Second, Interval: time.Second}}, "only the idle time"},
		// An address the host does not have: redis cannot bind and exits.
		{"cannot bind", Spec{Product: Redis, Netns: h.Name, Addr: netip.MustParseAddr("198.19.255.254"), Dir: dir}, "last lines of " + filepath.Join(dir, "redis.log")},
	} {
		svc, err := Start(ctx, tt.spec)
		if err == nil {
			svc.Stop()
			t.Errorf("%s: Start succeeded", tt.name)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want it to say %q", tt.name, err, tt.want)
		}
	}
}
