package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const (
	netnsDir = "/run/netns"
	// lockPath serialises "blackhole route + namespaces" changes between
	// processes, so the last lab out removes the route and nobody else's
	// namespaces ever exist without it.
	lockPath = "/run/kalab-lab.lock"
)

var seq atomic.Int32

// Lab is a set of host namespaces on one bridge.
type Lab struct {
	// Name is "kalab-<pid>-<seq>", the owner's pid and a per-process
	// sequence number; host namespaces append "-h<i>", the switch "-sw", and
	// Sweep reads the pid back to tell whether the owner is still alive.
	Name string
	// Block is the lab's /24 inside Range, Block(pid*7 + seq), so that the
	// labs of parallel processes normally land on different subnets.
	Block netip.Prefix
	// Hosts are the host namespaces in index order (Hosts[0] has Index 1).
	Hosts []*Host

	sw     netns.NsHandle
	mu     sync.Mutex
	cmds   []*exec.Cmd
	closed bool
}

// Host is one namespace with eth0 on the lab bridge.
type Host struct {
	// Name is the host's named network namespace ("<lab>-h<i>", under
	// /run/netns).
	Name string
	// Index is 1-based; Addr is Block's .Index.
	Index int
	Addr  netip.Addr
	ns    netns.NsHandle
	lab   *Lab
}

// NetNS returns a file descriptor of the host's namespace, valid until the
// lab is closed (for libraries that take one, e.g. nftables.WithNetNSFd).
func (h *Host) NetNS() int { return int(h.ns) }

// New sweeps leftovers of dead runs, then builds cfg.Hosts hosts. On error
// everything built so far is torn down.
func New(cfg Config) (l *Lab, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("the netns lab needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN)")
	}
	if _, err := Sweep(); err != nil {
		return nil, fmt.Errorf("sweep old labs: %w", err)
	}
	n := int(seq.Add(1))
	pid := os.Getpid()
	l = &Lab{Name: labName(pid, n), Block: Block(pid*7 + n)}
	unlock, err := lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	defer func() {
		if err != nil {
			l.closeLocked()
		}
	}()
	if err := addBlackhole(); err != nil {
		return nil, err
	}
	if l.sw, err = newNamed(l.Name + "-sw"); err != nil {
		return nil, err
	}
	sw, err := netlink.NewHandleAt(l.sw)
	if err != nil {
		return nil, fmt.Errorf("netlink in switch namespace: %w", err)
	}
	defer sw.Close()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}
	if err := sw.LinkAdd(br); err != nil {
		return nil, fmt.Errorf("add bridge br0: %w", err)
	}
	if err := sw.LinkSetUp(br); err != nil {
		return nil, fmt.Errorf("bring br0 up: %w", err)
	}
	for i := 1; i <= cfg.Hosts; i++ {
		h := &Host{Name: fmt.Sprintf("%s-h%d", l.Name, i), Index: i, Addr: HostAddr(l.Block, i), lab: l}
		if h.ns, err = newNamed(h.Name); err != nil {
			return nil, err
		}
		l.Hosts = append(l.Hosts, h)
		if err := wire(sw, br, h, l.Block.Bits()); err != nil {
			return nil, fmt.Errorf("wire host %s: %w", h.Name, err)
		}
	}
	return l, nil
}

// wire creates the veth pair straight into the host (peer named eth0 in the
// host, port p<i> on the bridge), addresses it and brings eth0 and lo up (lo
// starts down in a new namespace). docs/linux-lab.md §1.
func wire(sw *netlink.Handle, br *netlink.Bridge, h *Host, bits int) error {
	port := fmt.Sprintf("p%d", h.Index)
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: port, MasterIndex: br.Index},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(int(h.ns)),
	}
	if err := sw.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s/eth0: %w", port, err)
	}
	if err := sw.LinkSetUp(veth); err != nil {
		return fmt.Errorf("bring %s up: %w", port, err)
	}
	hh, err := netlink.NewHandleAt(h.ns)
	if err != nil {
		return fmt.Errorf("netlink in host: %w", err)
	}
	defer hh.Close()
	for _, name := range []string{"lo", "eth0"} {
		link, err := hh.LinkByName(name)
		if err != nil {
			return fmt.Errorf("find %s: %w", name, err)
		}
		if name == "eth0" {
			addr := &netlink.Addr{IPNet: &net.IPNet{IP: h.Addr.AsSlice(), Mask: net.CIDRMask(bits, 32)}}
			if err := hh.AddrAdd(link, addr); err != nil {
				return fmt.Errorf("address eth0 %s: %w", h.Addr, err)
			}
		}
		if err := hh.LinkSetUp(link); err != nil {
			return fmt.Errorf("bring %s up: %w", name, err)
		}
	}
	return nil
}

// Do runs fn on an OS thread switched into the host's namespace. Sockets fn
// creates stay in the host and may be used from any goroutine afterwards;
// goroutines fn starts do NOT run in the host.
func (h *Host) Do(fn func() error) error {
	return inNamespace(h.ns, fn)
}

// Start starts cmd inside the host. The child inherits the namespace from
// the forking thread (os/exec clones from the calling thread), dies with
// this process (Pdeathsig), and is killed at Close.
func (h *Host) Start(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	err := h.Do(func() error { return cmd.Start() })
	if err != nil {
		return fmt.Errorf("start %s in %s: %w", cmd.Path, h.Name, err)
	}
	h.lab.mu.Lock()
	h.lab.cmds = append(h.lab.cmds, cmd)
	h.lab.mu.Unlock()
	return nil
}

// StartIn starts cmd inside a lab host's named namespace (nsName, a
// Host.Name under /run/netns) from a process that does not own the lab:
// the commands of a session whose lab a keeper process holds. Unlike
// Host.Start the child is not tied to this process or killed at Close.
func StartIn(nsName string, cmd *exec.Cmd) error {
	if !strings.HasPrefix(nsName, NamePrefix) || strings.ContainsAny(nsName, "/.") {
		return fmt.Errorf("namespace %q is not a kalab lab host", nsName)
	}
	ns, err := netns.GetFromName(nsName)
	if err != nil {
		return fmt.Errorf("lab host %s: %w (is its lab still up?)", nsName, err)
	}
	defer ns.Close()
	if err := inNamespace(ns, func() error { return cmd.Start() }); err != nil {
		return fmt.Errorf("start %s in %s: %w", cmd.Path, nsName, err)
	}
	return nil
}

// Close kills every process in the lab's namespaces, deletes the
// namespaces (their veths and bridge go with them) and, if no kalab
// namespace remains on the machine, the blackhole route. Safe to call twice.
func (l *Lab) Close() error {
	unlock, err := lock()
	if err != nil {
		return err
	}
	defer unlock()
	return l.closeLocked()
}

func (l *Lab) closeLocked() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var errs []error
	for _, c := range l.cmds {
		if c.Process != nil && c.ProcessState == nil {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
	names := []string{l.Name + "-sw"}
	for _, h := range l.Hosts {
		names = append(names, h.Name)
	}
	for _, name := range names {
		if err := removeNamespace(name); err != nil {
			errs = append(errs, err)
		}
	}
	if l.sw != 0 {
		l.sw.Close()
	}
	for _, h := range l.Hosts {
		h.ns.Close()
	}
	if err := dropBlackholeIfUnused(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Sweep removes namespaces left by kalab processes that are gone (a crashed
// test or coordinator), killing what still runs inside them, and the
// blackhole route if no kalab namespace remains. It returns what it removed.
func Sweep() ([]string, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	unlock, err := lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	names, err := kalabNamespaces()
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, name := range names {
		pid, ok := OwnerPID(name)
		if !ok || alive(pid) {
			continue
		}
		if err := removeNamespace(name); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, name)
	}
	if err := dropBlackholeIfUnused(); err != nil {
		errs = append(errs, err)
	}
	return removed, errors.Join(errs...)
}

// Namespaces lists kalab namespaces present on the machine.
func Namespaces() ([]string, error) { return kalabNamespaces() }

func kalabNamespaces() ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", netnsDir, err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), NamePrefix) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// removeNamespace kills processes inside the named namespace, then unmounts
// and removes it. The kernel frees the namespace (and its veth ends) once
// the last reference is gone (docs/linux-lab.md §1).
func removeNamespace(name string) error {
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(netnsDir, name), &st); err == nil {
		killInNamespace(st.Ino)
	}
	if err := netns.DeleteNamed(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	return nil
}

// killInNamespace SIGKILLs every process whose network namespace has inode
// ino (found via /proc/<pid>/ns/net), and waits briefly for them to go.
func killInNamespace(ino uint64) {
	want := fmt.Sprintf("net:[%d]", ino)
	self := os.Getpid()
	procs, _ := filepath.Glob("/proc/[0-9]*/ns/net")
	var pids []int
	for _, p := range procs {
		link, err := os.Readlink(p)
		if err != nil || link != want {
			continue
		}
		var pid int
		if _, err := fmt.Sscanf(p, "/proc/%d/ns/net", &pid); err != nil || pid == self {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
		pids = append(pids, pid)
	}
	deadline := time.Now().Add(2 * time.Second)
	for _, pid := range pids {
		for alive(pid) && !zombie(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// newNamed creates a named namespace on a throw-away locked thread and
// switches that thread back; NewNamed leaves the caller inside the new
// namespace (netns@v0.0.5 netns_linux.go:41-81). The returned handle is an
// open fd of the new namespace.
func newNamed(name string) (netns.NsHandle, error) {
	type result struct {
		h   netns.NsHandle
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("get current namespace: %w", err)}
			return
		}
		defer orig.Close()
		h, err := netns.NewNamed(name)
		if serr := netns.Set(orig); serr != nil {
			// Leave the thread locked: the runtime kills a thread whose
			// goroutine exits locked, so the wrong namespace cannot leak.
			ch <- result{err: fmt.Errorf("return to original namespace: %w", serr)}
			return
		}
		runtime.UnlockOSThread()
		if err != nil {
			err = fmt.Errorf("create namespace %s: %w", name, err)
		}
		ch <- result{h, err}
	}()
	r := <-ch
	return r.h, r.err
}

func inNamespace(ns netns.NsHandle, fn func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- fmt.Errorf("get current namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			ch <- fmt.Errorf("enter namespace: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			ch <- errors.Join(ferr, fmt.Errorf("return to original namespace: %w", err))
			return // thread stays locked and dies with the goroutine
		}
		runtime.UnlockOSThread()
		ch <- ferr
	}()
	return <-ch
}

func lock() (func(), error) {
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lab lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	return func() { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}

func blackholeRoute() *netlink.Route {
	return &netlink.Route{
		Dst:  &net.IPNet{IP: Range.Addr().AsSlice(), Mask: net.CIDRMask(Range.Bits(), 32)},
		Type: unix.RTN_BLACKHOLE,
	}
}

// rootHandle is a netlink handle in this process's own namespace (the one
// its main thread is in), whatever thread the caller happens to be on.
func rootHandle() (*netlink.Handle, error) {
	ns, err := netns.GetFromPath("/proc/self/ns/net")
	if err != nil {
		return nil, fmt.Errorf("open root namespace: %w", err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in root namespace: %w", err)
	}
	return h, nil
}

func addBlackhole() error {
	h, err := rootHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	if err := h.RouteAdd(blackholeRoute()); err != nil && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("add blackhole route %s in the root namespace: %w", Range, err)
	}
	return nil
}

// HasBlackhole reports whether the root namespace holds the lab's
// blackhole route.
func HasBlackhole() (bool, error) {
	h, err := rootHandle()
	if err != nil {
		return false, err
	}
	defer h.Close()
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4, blackholeRoute(), netlink.RT_FILTER_DST|netlink.RT_FILTER_TYPE)
	if err != nil {
		return false, fmt.Errorf("list routes: %w", err)
	}
	return len(routes) > 0, nil
}

func dropBlackholeIfUnused() error {
	names, err := kalabNamespaces()
	if err != nil {
		return err
	}
	if len(names) > 0 {
		return nil
	}
	h, err := rootHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	if err := h.RouteDel(blackholeRoute()); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("remove blackhole route %s: %w", Range, err)
	}
	return nil
}
