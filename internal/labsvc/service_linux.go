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
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"golang.org/x/sys/unix"
)

const (
	// readyTimeout bounds the wait for the first accepted connection when
	// ctx has no earlier deadline.
	readyTimeout = 10 * time.Second
	// stopGrace is how long Stop lets the product shut down cleanly (a
	// PostgreSQL fast shutdown removes its shared memory) before SIGKILL.
	stopGrace = 5 * time.Second
	// logTail is how many log lines an error quotes.
	logTail = 15
)

// Service is one running server inside a lab namespace.
type Service struct {
	spec     Spec
	nsPath   string
	version  string
	lines    []string
	expected Keepalive
	logPath  string
	cmd      *exec.Cmd
	exited   chan struct{} // closed once cmd.Wait has reaped the process
	stopOnce sync.Once
	stopErr  error
}

// Start starts spec's product inside spec.Netns and returns once the server
// accepts TCP connections on spec.Addr:Port from inside the namespace (ctx,
// or 10 s, bounds the wait). On any error nothing keeps running. Needs
// root: entering a namespace takes CAP_SYS_ADMIN.
//
// The server is started by forking from an OS thread that has joined the
// namespace (setns), as lab.Host.Start does, rather than through `ip netns
// exec` or `nsenter`: no shell and no helper binary in between, argv goes
// straight to the product, and PostgreSQL's switch to the postgres user
// (SysProcAttr.Credential) happens after the namespace is already
// entered — nsenter running as postgres could not enter it.
func Start(ctx context.Context, spec Spec) (*Service, error) {
	if err := spec.validate(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Product, err)
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("start %s: entering a lab namespace needs root", spec.Product)
	}
	if !safeDir.MatchString(spec.Dir) {
		return nil, fmt.Errorf("start %s: directory %q: an absolute path of letters, digits and _ . / - only (it is written into the server's configuration)", spec.Product, spec.Dir)
	}
	if st, err := os.Stat(spec.Dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("start %s: directory %s: must exist (%v)", spec.Product, spec.Dir, err)
	}
	nsPath := spec.Netns
	if !filepath.IsAbs(nsPath) {
		if strings.ContainsRune(nsPath, '/') {
			return nil, fmt.Errorf("start %s: namespace %q: a name under /run/netns or an absolute path", spec.Product, nsPath)
		}
		nsPath = filepath.Join("/run/netns", nsPath)
	}
	if _, err := os.Stat(nsPath); err != nil {
		return nil, fmt.Errorf("start %s: network namespace: %w", spec.Product, err)
	}
	bin, err := serverBinary(spec.Product)
	if err != nil {
		return nil, err
	}
	s := &Service{spec: spec, nsPath: nsPath, lines: configLines(spec), exited: make(chan struct{})}
	if s.version, err = productVersion(spec.Product, bin); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Product, err)
	}
	var kernel Keepalive
	if err := inNetns(nsPath, func() (err error) { kernel, err = kernelKeepalive(); return err }); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Product, err)
	}
	s.expected = expected(spec, kernel)

	s.cmd, err = prepare(spec, bin)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Product, err)
	}
	s.logPath = filepath.Join(spec.Dir, string(spec.Product)+".log")
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Product, err)
	}
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	err = inNetns(nsPath, s.cmd.Start)
	logf.Close() // the child holds its own copy
	if err != nil {
		return nil, fmt.Errorf("start %s in %s: %w", spec.Product, spec.Netns, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("start %s: %w\n%s", spec.Product, err, s.tail())
	}
	return s, nil
}

// serverBinary finds the product's server binary, or says which Debian
// package ships it.
func serverBinary(p Product) (string, error) {
	missing := func(what string) error {
		return fmt.Errorf("%s: %s not found; install Debian's %s package (apt-get install %s): %w", p, what, p.Package(), p.Package(), ErrNotInstalled)
	}
	switch p {
	case Redis, Nginx:
		name, fallback := "redis-server", "/usr/bin/redis-server"
		if p == Nginx {
			name, fallback = "nginx", "/usr/sbin/nginx" // /usr/sbin is not on every PATH
		}
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
		if st, err := os.Stat(fallback); err == nil && st.Mode()&0o111 != 0 {
			return fallback, nil
		}
		return "", missing(name)
	case PostgreSQL:
		// Debian installs each major version beside the others; take the
		// newest, as pg_createcluster does by default.
		found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
		best, bestMajor := "", -1
		for _, f := range found {
			major, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(f))))
			if err == nil && major > bestMajor {
				best, bestMajor = f, major
			}
		}
		if best == "" {
			return "", missing("/usr/lib/postgresql/*/bin/postgres")
		}
		if _, err := user.Lookup("postgres"); err != nil {
			return "", missing("the postgres system user")
		}
		return best, nil
	}
	return "", fmt.Errorf("product %q: unknown", p)
}

// productVersion asks the binary itself, outside the namespace: nginx -v
// writes to stderr, the others to stdout.
func productVersion(p Product, bin string) (string, error) {
	arg := "--version"
	if p == Nginx {
		arg = "-v"
	}
	out, err := exec.Command(bin, arg).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", bin, arg, err, strings.TrimSpace(string(out)))
	}
	return parseVersion(p, string(out)), nil
}

// kernelKeepalive reads the namespace's keepalive defaults: the values a
// socket with SO_KEEPALIVE gets for whatever the product does not set
// (per namespace since Linux 4.13; a new namespace starts at 7200/75/9
// whatever the root namespace says). It must run inside the namespace.
func kernelKeepalive() (Keepalive, error) {
	read := func(name string) (int, error) {
		b, err := os.ReadFile("/proc/sys/net/ipv4/" + name)
		if err != nil {
			return 0, fmt.Errorf("kernel keepalive default: %w", err)
		}
		return strconv.Atoi(strings.TrimSpace(string(b)))
	}
	idle, err := read("tcp_keepalive_time")
	if err != nil {
		return Keepalive{}, err
	}
	intvl, err := read("tcp_keepalive_intvl")
	if err != nil {
		return Keepalive{}, err
	}
	cnt, err := read("tcp_keepalive_probes")
	if err != nil {
		return Keepalive{}, err
	}
	return Keepalive{Idle: time.Duration(idle) * time.Second, Interval: time.Duration(intvl) * time.Second, Count: cnt}, nil
}

// minimalEnv is the whole environment of what labsvc runs.
var minimalEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}

// prepare writes the product's configuration into spec.Dir and returns the
// command that runs it in the foreground. The child gets its own process
// group (Stop kills the group), its own IPC namespace, dies with this
// process (Pdeathsig; the forking thread never exits, see inNetns) and a
// minimal environment, so a PGDATA or REDIS_* of the caller cannot change
// what runs.
func prepare(spec Spec, bin string) (*exec.Cmd, error) {
	var cmd *exec.Cmd
	// Redis and nginx: a working directory Dir/<product> and a
	// configuration file Dir/<product>.conf.
	writeConf := func(render func(Spec) string) (work, conf string, err error) {
		work = filepath.Join(spec.Dir, string(spec.Product))
		conf = work + ".conf"
		if err := os.MkdirAll(work, 0o755); err != nil {
			return "", "", err
		}
		return work, conf, os.WriteFile(conf, []byte(render(spec)), 0o644)
	}
	switch spec.Product {
	case Redis:
		_, conf, err := writeConf(redisConf)
		if err != nil {
			return nil, err
		}
		cmd = exec.Command(bin, conf)
	case Nginx:
		work, conf, err := writeConf(nginxConf)
		if err != nil {
			return nil, err
		}
		// -e: the error log before the configuration is read, which would
		// otherwise be /var/log/nginx/error.log; -p: relative paths in Dir.
		cmd = exec.Command(bin, "-p", work+"/", "-e", "stderr", "-c", conf)
	case PostgreSQL:
		data, cred, err := initdb(spec, bin)
		if err != nil {
			return nil, err
		}
		cmd = exec.Command(bin, "-D", data)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	// A private System V IPC namespace: PostgreSQL's interlock segment
	// vanishes with the namespace's last process even when nobody shuts
	// the server down cleanly (this process killed -9).
	cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWIPC
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	cmd.Dir = spec.Dir
	cmd.Env = minimalEnv
	return cmd, nil
}

// initdb makes a fresh cluster in Dir/postgresql owned by the postgres
// user (PostgreSQL refuses to run as root), then appends the lab's settings
// to its postgresql.conf and replaces pg_hba.conf. initdb's output goes to
// Dir/initdb.log.
func initdb(spec Spec, postgres string) (string, *syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return "", nil, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{uint32(gid)}}
	// Dir is the service's: let the postgres user pass through it (search
	// only, no listing). Directories above Dir are the caller's to open.
	if st, err := os.Stat(spec.Dir); err == nil && st.Mode().Perm()&0o001 == 0 {
		if err := os.Chmod(spec.Dir, st.Mode().Perm()|0o001); err != nil {
			return "", nil, err
		}
	}
	if dir, ok := unsearchable(filepath.Dir(spec.Dir), uint32(uid), uint32(gid)); !ok {
		return "", nil, fmt.Errorf("the postgres user cannot reach %s: %s is not searchable by it (use a directory like os.MkdirTemp(\"\", …))", spec.Dir, dir)
	}
	data := filepath.Join(spec.Dir, "postgresql")
	if err := os.Mkdir(data, 0o700); err != nil {
		return "", nil, err
	}
	if err := os.Chown(data, uid, gid); err != nil {
		return "", nil, err
	}
	logPath := filepath.Join(spec.Dir, "initdb.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return "", nil, err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(filepath.Dir(postgres), "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = spec.Dir
	cmd.Env = minimalEnv
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Run(); err != nil {
		return "", nil, fmt.Errorf("initdb: %w\n%s", err, tailFile(logPath))
	}
	conf, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return "", nil, err
	}
	_, err = conf.WriteString(postgresConf(spec))
	if cerr := conf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(postgresHBA()), 0o600); err != nil {
		return "", nil, err
	}
	return data, cred, os.Chown(filepath.Join(data, "pg_hba.conf"), uid, gid)
}

// unsearchable walks dir and its parents and returns the first one that
// uid/gid may not pass through (no x bit for it), with ok false.
func unsearchable(dir string, uid, gid uint32) (string, bool) {
	for d := dir; ; d = filepath.Dir(d) {
		var st unix.Stat_t
		if err := unix.Stat(d, &st); err != nil {
			return d, false
		}
		var bit uint32 = 0o001
		switch {
		case st.Uid == uid:
			bit = 0o100
		case st.Gid == gid:
			bit = 0o010
		}
		if st.Mode&bit == 0 {
			return d, false
		}
		if d == "/" {
			return "", true
		}
	}
}

// waitReady dials spec.Addr:Port from inside the namespace until the
// product answers its hello as a client will see it (PostgreSQL accepts
// connections while still starting up and answers them with FATAL "the
// database system is starting up"), the server exits, ctx ends or
// readyTimeout passes.
func (s *Service) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	addr := netip.AddrPortFrom(s.spec.Addr, uint16(s.spec.port())).String()
	hello, expect := s.spec.Product.Hello()
	var last error
	for {
		last = inNetns(s.nsPath, func() error {
			d := net.Dialer{Timeout: 250 * time.Millisecond}
			c, err := d.DialContext(ctx, "tcp4", addr)
			if err != nil {
				return err
			}
			defer c.Close()
			return answers(c, hello, expect)
		})
		if last == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited before accepting on %s (%v)", s.spec.Product, addr, s.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("%s did not accept on %s: %w (last: %v)", s.spec.Product, addr, ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop shuts the server down: the product's own clean shutdown signal
// first (SIGINT, a fast shutdown, for PostgreSQL; SIGTERM for the others),
// SIGKILL to the process group and to every descendant after stopGrace
// (PostgreSQL's backends leave the group: InitPostmasterChild calls
// setsid), then waits until they are gone. Files in Dir stay. Safe to call
// more than once; later calls return the first call's result.
func (s *Service) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Service) stop() error {
	pid := s.cmd.Process.Pid
	kids := descendants(pid)
	sig := syscall.SIGTERM
	if s.spec.Product == PostgreSQL {
		sig = syscall.SIGINT
	}
	_ = syscall.Kill(pid, sig)
	select {
	case <-s.exited:
	case <-time.After(stopGrace):
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for _, k := range append(kids, descendants(pid)...) {
		if k.alive() {
			_ = syscall.Kill(k.pid, syscall.SIGKILL)
		}
	}
	select {
	case <-s.exited:
	case <-time.After(stopGrace):
		return fmt.Errorf("stop %s: pid %d still running after SIGKILL", s.spec.Product, pid)
	}
	deadline := time.Now().Add(stopGrace)
	for _, k := range kids {
		for k.alive() {
			if time.Now().After(deadline) {
				return fmt.Errorf("stop %s: child pid %d still running after SIGKILL", s.spec.Product, k.pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// Version is what the product's binary says it is: "redis-server 7.0.15",
// "PostgreSQL 15.18", "nginx 1.22.1".
func (s *Service) Version() string { return s.version }

// PID is the server's main process: redis-server, the postmaster, or the
// single nginx process.
func (s *Service) PID() int { return s.cmd.Process.Pid }

// ConfigLines are the exact configuration lines that set keepalive, for
// the report; none when the product runs with its defaults.
func (s *Service) ConfigLines() []string { return slices.Clone(s.lines) }

// Expected is the keepalive the product applies to the sockets it
// accepts, given its configuration and the namespace's kernel defaults;
// the zero Keepalive means SO_KEEPALIVE stays off (nginx's default).
func (s *Service) Expected() Keepalive { return s.expected }

// LogPath is the file that holds the server's stdout and stderr.
func (s *Service) LogPath() string { return s.logPath }

// Applied reads, with getsockopt, the keepalive on the server's socket
// connected to peer (the client's address as the server sees it): the
// server's processes' descriptors are found under /proc/<pid>/fd and
// duplicated with pidfd_getfd (Linux 5.6), so the server is never stopped
// or traced. The zero Keepalive means SO_KEEPALIVE is off.
func (s *Service) Applied(peer netip.AddrPort) (Keepalive, error) {
	local := netip.AddrPortFrom(s.spec.Addr, uint16(s.spec.port()))
	pids := []int{s.cmd.Process.Pid}
	for _, k := range descendants(pids[0]) {
		pids = append(pids, k.pid)
	}
	for _, pid := range pids {
		eff, found, err := findSocket(pid, local, peer)
		if err != nil {
			return Keepalive{}, fmt.Errorf("%s pid %d: %w", s.spec.Product, pid, err)
		}
		if found {
			if !eff.Enabled.Value {
				return Keepalive{}, nil
			}
			return Keepalive{Idle: eff.Idle.Value, Interval: eff.Interval.Value, Count: eff.Count.Value}, nil
		}
	}
	return Keepalive{}, fmt.Errorf("%s has no socket %s connected to %s", s.spec.Product, local, peer)
}

// findSocket looks through pid's descriptors for the TCP socket local↔peer
// and reads its keepalive options through a duplicate.
func findSocket(pid int, local, peer netip.AddrPort) (keepalive.Effective, bool, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return keepalive.Effective{}, false, nil // exited meanwhile
	}
	if err != nil {
		return keepalive.Effective{}, false, fmt.Errorf("pidfd_open: %w", err)
	}
	defer unix.Close(pidfd)
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return keepalive.Effective{}, false, nil // exited meanwhile
	}
	for _, e := range entries {
		link, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil || !strings.HasPrefix(link, "socket:") {
			continue
		}
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fd, err := unix.PidfdGetfd(pidfd, n, 0)
		if err != nil {
			continue // closed meanwhile
		}
		if !endpointsAre(fd, local, peer) {
			unix.Close(fd)
			continue
		}
		f := os.NewFile(uintptr(fd), "socket")
		eff, err := keepalive.ReadBack(f)
		f.Close()
		return eff, true, err
	}
	return keepalive.Effective{}, false, nil
}

// endpointsAre reports whether fd is an IPv4 socket bound to local and
// connected to peer.
func endpointsAre(fd int, local, peer netip.AddrPort) bool {
	is := func(sa unix.Sockaddr, want netip.AddrPort) bool {
		in4, ok := sa.(*unix.SockaddrInet4)
		return ok && netip.AddrPortFrom(netip.AddrFrom4(in4.Addr), uint16(in4.Port)) == want
	}
	la, err := unix.Getsockname(fd)
	if err != nil || !is(la, local) {
		return false
	}
	pa, err := unix.Getpeername(fd)
	return err == nil && is(pa, peer)
}

// proc is a process identified by pid and start time, so that a recycled
// pid is never mistaken for a server's child.
type proc struct {
	pid   int
	start string
}

func (p proc) alive() bool {
	st, ok := procStat(p.pid)
	return ok && st.start == p.start && st.state != "Z"
}

type stat struct {
	ppid         int
	state, start string
}

// procStat parses /proc/<pid>/stat after the command name, which may hold
// spaces and parentheses.
func procStat(pid int) (stat, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return stat{}, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return stat{}, false
	}
	f := strings.Fields(string(b[i+1:])) // state ppid pgrp … starttime is field 22 overall
	if len(f) < 20 {
		return stat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return stat{ppid: ppid, state: f[0], start: f[19]}, true
}

// descendants are pid's children, their children, and so on.
func descendants(pid int) []proc {
	children := map[int][]proc{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		p, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if st, ok := procStat(p); ok {
			children[st.ppid] = append(children[st.ppid], proc{p, st.start})
		}
	}
	var out []proc
	queue := []int{pid}
	for len(queue) > 0 {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
		queue = queue[1:]
	}
	return out
}

// tail is the end of the server's log, for errors.
func (s *Service) tail() string { return tailFile(s.logPath) }

// tailFile returns the last logTail lines of path, introduced by its name.
func tailFile(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > logTail {
			lines = lines[1:]
		}
	}
	return "last lines of " + path + ":\n" + strings.Join(lines, "\n")
}

// nsJob is one piece of work for the namespace thread.
type nsJob struct {
	path string
	fn   func() error
	done chan error
}

var (
	nsJobs    = make(chan nsJob)
	nsStarted sync.Once
)

// inNetns runs fn on one dedicated OS thread after switching that thread
// into the network namespace at path. Sockets fn opens and processes it
// forks live in that namespace.
//
// Why one thread that never exits: a child's Pdeathsig fires when the
// THREAD that forked it exits, not the process (prctl(2)), and kalab has
// code that deliberately lets locked threads die (internal/probe). A
// server forked from a pooled thread could be SIGKILLed whenever that
// thread is later retired; forked from this thread, it dies only with the
// process. The thread stays locked, so no other goroutine ever runs in a
// lab namespace by accident; each job sets the namespace it needs.
func inNetns(path string, fn func() error) error {
	nsStarted.Do(func() { go nsThread() })
	j := nsJob{path: path, fn: fn, done: make(chan error, 1)}
	nsJobs <- j
	return <-j.done
}

func nsThread() {
	runtime.LockOSThread() // never unlocked once in a namespace: see inNetns
	if unix.Gettid() == unix.Getpid() {
		// The main thread: /proc/self/ns/net names ITS namespace, and the
		// lab reads that as the process's own (lab.rootHandle), so it must
		// never leave the root namespace. Hand over to another thread: the
		// new goroutine cannot run here while this one holds the lock.
		go nsThread()
		runtime.UnlockOSThread()
		return
	}
	for j := range nsJobs {
		j.done <- enterAndRun(j.path, j.fn)
	}
}

func enterAndRun(path string, fn func() error) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter network namespace %s: %w", path, err)
	}
	return fn()
}

// answers sends hello on c and checks that the reply starts with expect
// within a second.
func answers(c net.Conn, hello, expect string) error {
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, hello); err != nil {
		return err
	}
	got := make([]byte, len(expect))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("reply: %w", err)
	}
	if string(got) != expect {
		return fmt.Errorf("replied %q, not %q yet", got, expect)
	}
	return nil
}

// Installed says whether product's server is installed here, or which
// Debian package to install (an error wrapping ErrNotInstalled).
func Installed(p Product) error {
	_, err := serverBinary(p)
	return err
}
