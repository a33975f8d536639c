package observe

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// diagSource reads one connection's row with an exact sock_diag lookup: a
// SOCK_DIAG_BY_FAMILY request without NLM_F_DUMP names the 4-tuple, and
// the kernel answers with that socket (state, timer, inode, tcp_info) or
// ENOENT, without walking the whole table as a dump would on a busy
// server. The netlink socket is opened once, in the namespace of the
// thread that called Start, and reused for every poll.
type diagSource struct {
	cfg  Config
	sock *nl.SocketHandle

	// Set by identify: where the target's descriptor is, for held.
	pid, fd int
	inode   uint32
}

func openSource(cfg Config) (source, error) {
	s, err := nl.Subscribe(unix.NETLINK_INET_DIAG)
	if err != nil {
		return nil, fmt.Errorf("open sock_diag netlink socket: %w", err)
	}
	tv := unix.NsecToTimeval((2 * time.Second).Nanoseconds())
	if err := s.SetReceiveTimeout(&tv); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.SetSendTimeout(&tv); err != nil {
		s.Close()
		return nil, err
	}
	src := &diagSource{cfg: cfg, sock: &nl.SocketHandle{Socket: s}}
	// A first read proves the interface works here (sock_diag modules,
	// permissions) before Start returns; absence is fine.
	if _, err := src.poll(); err != nil {
		s.Close()
		return nil, err
	}
	return src, nil
}

func (d *diagSource) close() { d.sock.Socket.Close() }

// lookup asks for exactly one socket; found is false on ENOENT.
func (d *diagSource) lookup(family uint8) (diagMsg, time.Time, bool, error) {
	req := nl.NewNetlinkRequest(nl.SOCK_DIAG_BY_FAMILY, 0)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_INET_DIAG: d.sock}
	req.AddData(&diagReq{family: family, ext: inetDiagInfoExt, states: 0xffffffff, local: d.cfg.Local, remote: d.cfg.Remote})
	var raw []byte
	err := req.ExecuteIter(unix.NETLINK_INET_DIAG, nl.SOCK_DIAG_BY_FAMILY, func(m []byte) bool {
		raw = slices.Clone(m)
		return false
	})
	at := time.Now()
	if errors.Is(err, unix.ENOENT) {
		return diagMsg{}, at, false, nil
	}
	if err != nil {
		return diagMsg{}, at, false, fmt.Errorf("sock_diag lookup: %w", err)
	}
	if raw == nil {
		return diagMsg{}, at, false, nil
	}
	m, err := parseDiagMsg(raw, at)
	if err != nil {
		return diagMsg{}, at, false, err
	}
	// The kernel falls back to the listener when no connection matches
	// (inet_lookup); only the connection itself counts.
	if !sameConn(d.cfg.Local, d.cfg.Remote, m.local, m.remote) {
		return diagMsg{}, at, false, nil
	}
	return m, at, true, nil
}

func (d *diagSource) poll() (sample, error) {
	family := uint8(afInet)
	if !d.cfg.Local.Addr().Unmap().Is4() {
		family = afInet6
	}
	// An IPv4 lookup also finds a dual-stack IPv6 socket that holds the
	// connection as IPv4-mapped: both live in one hash table, keyed by the
	// IPv4 addresses (inet_diag_find_one_icsk).
	m, at, ok, err := d.lookup(family)
	if err != nil || !ok {
		return sample{At: at}, err
	}
	return diagSample(m, at), nil
}

// identify finds the owner by the socket's inode and reads its options
// through a duplicate of its descriptor.
func (d *diagSource) identify(s sample) (Owner, keepalive.Effective, string, []string) {
	var notes []string
	if s.Inode == 0 {
		return Owner{}, keepalive.Effective{}, unknownFrom("sock_diag gave no inode (the socket has no file: orphaned or in TIME_WAIT)"), nil
	}
	holders, err := socketHolders(s.Inode)
	if err != nil {
		return Owner{}, keepalive.Effective{}, unknownFrom(fmt.Sprintf("finding the owner: %v", err)), nil
	}
	if len(holders) == 0 {
		return Owner{}, keepalive.Effective{}, unknownFrom(fmt.Sprintf("no process has socket:[%d] open (is kalab root, in the target's pid namespace?)", s.Inode)), nil
	}
	h := holders[0]
	if len(holders) > 1 {
		var others []string
		for _, o := range holders[1:] {
			others = append(others, strconv.Itoa(o.pid))
		}
		notes = append(notes, fmt.Sprintf("socket also held by pid %s", strings.Join(others, ",")))
	}
	d.pid, d.fd, d.inode = h.pid, h.fd, s.Inode
	owner := Owner{PID: h.pid, Name: procName(h.pid)}
	eff, err := readTargetOptions(h.pid, h.fd, s.Inode)
	if err != nil {
		return owner, keepalive.Effective{}, unknownFrom(err.Error()), notes
	}
	return owner, eff, EffectiveSocket, notes
}

// held checks whether the owner's descriptor still points at the socket.
func (d *diagSource) held() heldState {
	if d.pid == 0 {
		return heldUnknown
	}
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", d.pid, d.fd))
	switch {
	case err == nil && link == socketLink(d.inode):
		return heldYes
	case err == nil, errors.Is(err, os.ErrNotExist):
		return heldNo // closed (the number may have been reused)
	}
	return heldUnknown
}

func socketLink(inode uint32) string { return fmt.Sprintf("socket:[%d]", inode) }

// holder is one process descriptor that refers to a socket.
type holder struct{ pid, fd int }

// socketHolders scans /proc/<pid>/fd for socket:[inode] (proc(5)), in pid
// order; one descriptor per process. It needs root to see other users'
// processes.
func socketHolders(inode uint32) ([]holder, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	want := socketLink(inode)
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	var out []holder
	for _, pid := range pids {
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue // gone, or not ours to read
		}
		for _, f := range fds {
			if l, err := os.Readlink(dir + "/" + f.Name()); err == nil && l == want {
				fd, _ := strconv.Atoi(f.Name())
				out = append(out, holder{pid: pid, fd: fd})
				break
			}
		}
	}
	return out, nil
}

// procName is /proc/<pid>/comm, "" if unreadable.
func procName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// readTargetOptions duplicates the target's descriptor with pidfd_getfd
// (pidfd_getfd(2): the duplicate refers to the same open file; needs
// Linux ≥ 5.6 and PTRACE_MODE_ATTACH_REALCREDS on the target, which root
// has; it does not stop or attach to the target), checks it is the socket
// sock_diag named (the pid or descriptor may have been reused since the
// /proc scan), reads the keepalive options, and closes the duplicate.
func readTargetOptions(pid, fd int, inode uint32) (keepalive.Effective, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return keepalive.Effective{}, fmt.Errorf("pidfd_open(%d): %w", pid, err)
	}
	defer unix.Close(pidfd)
	dup, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return keepalive.Effective{}, fmt.Errorf("pidfd_getfd(pid %d, fd %d): %w", pid, fd, err)
	}
	defer unix.Close(dup)
	var st unix.Stat_t
	if err := unix.Fstat(dup, &st); err != nil {
		return keepalive.Effective{}, fmt.Errorf("fstat of the duplicate: %w", err)
	}
	if st.Ino != uint64(inode) {
		return keepalive.Effective{}, fmt.Errorf("pid %d fd %d is no longer socket:[%d]", pid, fd, inode)
	}
	eff, err := keepalive.ReadBack(rawSocket(dup))
	if err != nil {
		return keepalive.Effective{}, err
	}
	return eff, nil
}

// rawSocket lends a bare descriptor to keepalive.ReadBack, which only
// calls Control: no os.File, so nothing registers the target's socket
// with Go's poller or touches its flags (shared with the target).
type rawSocket int

func (r rawSocket) SyscallConn() (syscall.RawConn, error) { return r, nil }

func (r rawSocket) Control(f func(fd uintptr)) error {
	f(uintptr(r))
	return nil
}

func (r rawSocket) Read(func(fd uintptr) bool) error  { return errors.ErrUnsupported }
func (r rawSocket) Write(func(fd uintptr) bool) error { return errors.ErrUnsupported }

// ListenerOwner finds the process that owns the listening TCP socket on
// port (any address, IPv4 or IPv6): a sock_diag dump of LISTEN sockets,
// then the /proc scan for its inode. With several holders (a pre-forking
// server such as nginx) it returns the lowest pid, usually the master.
func ListenerOwner(port int) (Owner, error) {
	if port <= 0 || port > 65535 {
		return Owner{}, fmt.Errorf("listener owner: port %d out of range", port)
	}
	var inodes []uint32
	for _, family := range []uint8{afInet, afInet6} {
		req := nl.NewNetlinkRequest(nl.SOCK_DIAG_BY_FAMILY, unix.NLM_F_DUMP)
		// idiag_sport filters listeners by port in the kernel
		// (inet_diag_dump_icsk); the check below repeats it.
		req.AddData(&diagReq{family: family, states: 1 << tcpListenState, local: netip.AddrPortFrom(netip.Addr{}, uint16(port))})
		msgs, err := req.Execute(unix.NETLINK_INET_DIAG, nl.SOCK_DIAG_BY_FAMILY)
		if err != nil && !errors.Is(err, nl.ErrDumpInterrupted) {
			return Owner{}, fmt.Errorf("listener owner: sock_diag dump: %w", err)
		}
		for _, raw := range msgs {
			m, err := parseDiagMsg(raw, time.Now())
			if err == nil && m.state == tcpListenState && int(m.local.Port()) == port && m.inode != 0 {
				inodes = append(inodes, m.inode)
			}
		}
	}
	if len(inodes) == 0 {
		return Owner{}, fmt.Errorf("listener owner: nothing listens on TCP port %d in this network namespace", port)
	}
	for _, ino := range inodes {
		hs, err := socketHolders(ino)
		if err != nil {
			return Owner{}, fmt.Errorf("listener owner: %w", err)
		}
		if len(hs) > 0 {
			return Owner{PID: hs[0].pid, Name: procName(hs[0].pid)}, nil
		}
	}
	return Owner{}, fmt.Errorf("listener owner: no process has the socket listening on port %d open (is kalab root?)", port)
}
