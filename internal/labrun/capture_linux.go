package labrun

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/kalab-dev/kalab/internal/lab"
)

// startCaptures starts one tcpdump per agent host (lab-agent-<i> on
// hosts[i-1]) and returns how to stop them all. Any failure stops the ones
// already started.
func startCaptures(o Options, hosts []*lab.Host) (stop func(), err error) {
	bin, err := exec.LookPath("tcpdump")
	if err != nil {
		return nil, errors.New("capture: tcpdump not found on PATH: install Debian's package tcpdump (apt-get install -y tcpdump)")
	}
	if err := os.MkdirAll(o.Capture, 0o755); err != nil {
		return nil, fmt.Errorf("capture directory: %w", err)
	}
	addrs := map[string]string{}
	var stops []func()
	stop = func() {
		for _, s := range stops {
			s()
		}
	}
	for i, h := range hosts {
		name := fmt.Sprintf("lab-agent-%d", i+1)
		addrs[name] = h.Addr.String()
		s, err := startCapture(o, bin, h, name)
		if err != nil {
			stop()
			return nil, err
		}
		stops = append(stops, s)
	}
	b, _ := json.MarshalIndent(addrs, "", "  ")
	if err := os.WriteFile(filepath.Join(o.Capture, CaptureHostsFile), append(b, '\n'), 0o644); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

// startCapture runs tcpdump (argv, no shell) on h's lab interface, waits
// until it says it is listening, and returns how to stop it.
func startCapture(o Options, bin string, h *lab.Host, name string) (func(), error) {
	iface, err := labInterface(h)
	if err != nil {
		return nil, fmt.Errorf("capture on %s: %w", name, err)
	}
	path := filepath.Join(o.Capture, name+".pcap")
	// -Z root: tcpdump would otherwise open the file after dropping to the
	// tcpdump user, who may not write in the output directory.
	cmd := exec.Command(bin, "-i", iface, "-w", path, "-U", "-n", "-Z", "root", "tcp or icmp")
	ready := &readyWriter{mark: []byte("listening on"), ch: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = ready, ready
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := h.Start(cmd); err != nil {
		return nil, fmt.Errorf("capture on %s: %w", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-ready.ch:
	case err := <-done:
		return nil, fmt.Errorf("capture on %s: tcpdump exited (%v): %s", name, err, bytes.TrimSpace(ready.bytes()))
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return nil, fmt.Errorf("capture on %s: tcpdump did not start listening within 10s: %s", name, bytes.TrimSpace(ready.bytes()))
	}
	o.logf("capture %s on %s:%s → %s", name, h.Name, iface, path)
	return func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}, nil
}

// labInterface is the name of the interface that carries h's lab address,
// asked inside h's namespace.
func labInterface(h *lab.Host) (string, error) {
	var name string
	err := h.Do(func() error {
		ifs, err := net.Interfaces()
		if err != nil {
			return err
		}
		for _, ifc := range ifs {
			addrs, _ := ifc.Addrs()
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok && ipn.IP.Equal(net.IP(h.Addr.AsSlice())) {
					name = ifc.Name
					return nil
				}
			}
		}
		return fmt.Errorf("no interface holds %s", h.Addr)
	})
	return name, err
}

// readyWriter collects a child's output and closes ch once mark appears.
type readyWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	mark []byte
	ch   chan struct{}
	done bool
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() < 4096 {
		w.buf.Write(p)
	}
	if !w.done && bytes.Contains(w.buf.Bytes(), w.mark) {
		w.done = true
		close(w.ch)
	}
	return len(p), nil
}

func (w *readyWriter) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]byte(nil), w.buf.Bytes()...)
}
