package role

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/kalab-dev/kalab/internal/wire"
)

// ClientArg is the hidden first argument with which the agent re-executes
// itself as the client role. Every kalab binary that can host an agent calls
// MaybeRunClient first thing in main.
const ClientArg = "__kalab-client-role"

// clientHello is the child's line on stdout once it holds the
// connection, and (target clients) one per recheck, with Answered.
type clientHello struct {
	Local    string `json:"local"`
	Remote   string `json:"remote"`
	Err      string `json:"err,omitempty"`
	Answered bool   `json:"answered,omitempty"`
}

// MaybeRunClient runs the client role and exits if this process was started
// as one (os.Args[1] == ClientArg); otherwise it returns at once.
func MaybeRunClient() {
	if len(os.Args) < 2 || os.Args[1] != ClientArg {
		return
	}
	os.Exit(runClient(os.Args[2:], os.Stdout))
}

// runClient: args are server address, TTL in ms and the run's greeting
// nonce. It dials, reads and checks the greeting, reports its 5-tuple,
// then holds the connection until the server closes it or the TTL ends,
// sending back whatever the server sends (Server.Echo, after a healed
// fault). It never sends a byte unprompted, so while the server is silent
// the connection stays idle and only keepalive talks.
func runClient(args []string, out io.Writer) int {
	if len(args) > 0 && args[0] == targetArg {
		return runTargetClient(args[1:], out)
	}
	hello := func(h clientHello) { _ = json.NewEncoder(out).Encode(h) }
	if len(args) != 3 {
		hello(clientHello{Err: "usage: " + ClientArg + " SERVER_ADDR TTL_MS NONCE"})
		return 2
	}
	if err := wire.CheckNonce(args[2]); err != nil {
		hello(clientHello{Err: err.Error()})
		return 2
	}
	ttlMS, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil || ttlMS <= 0 {
		hello(clientHello{Err: fmt.Sprintf("ttl %q: want a positive number of ms", args[1])})
		return 2
	}
	ttl := time.Duration(ttlMS) * time.Millisecond
	c, err := net.DialTimeout("tcp", args[0], 10*time.Second)
	if err != nil {
		hello(clientHello{Err: fmt.Sprintf("dial server %s: %v", args[0], err)})
		return 1
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	g := make([]byte, len(Greeting)+wire.NonceLen)
	if _, err := io.ReadFull(c, g); err != nil {
		hello(clientHello{Err: fmt.Sprintf("read greeting from %s: %v (not this run's kalab server?)", args[0], err)})
		return 1
	}
	if want := string(Greeting) + args[2]; string(g) != want {
		hello(clientHello{Err: fmt.Sprintf("%s greeted with %q, not this run's kalab server: refusing it", args[0], g)})
		return 1
	}
	hello(clientHello{Local: c.LocalAddr().String(), Remote: c.RemoteAddr().String()})
	c.SetReadDeadline(time.Now().Add(ttl))
	echoBack(c)
	return 0
}

// echoBack sends back everything it reads from c until a read fails (the
// server closed, the deadline passed) or a write does.
func echoBack(c net.Conn) {
	buf := make([]byte, 256)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Client is a running client-role child process.
type Client struct {
	// Unprivileged is true when the child runs as nobody rather than as
	// the agent's (root) user.
	Unprivileged bool
	// Local and Remote are the connection's ends as the child reported them
	// once it held the connection: its own address and the server's. A flow
	// drop targets exactly this pair.
	Local, Remote netip.AddrPort
	cmd           *exec.Cmd
	waitOnce      sync.Once
	waitErr       error
	exited        chan struct{}
	// stdin and later carry Recheck's request and the child's answers
	// (target clients only).
	recheckMu sync.Mutex
	stdin     io.WriteCloser
	later     chan clientHello
}

// StartClient re-executes this binary as the client role, connecting to
// server, and returns once the child holds the connection.
func StartClient(ctx context.Context, server netip.AddrPort, ttl time.Duration, nonce string) (*Client, error) {
	if err := wire.CheckNonce(nonce); err != nil {
		return nil, err
	}
	return startChild(ctx, server.String(), strconv.FormatInt(ttl.Milliseconds(), 10), nonce)
}

// StartTargetClient is StartClient for a real service as the server (an
// experiment's [target]): the child sends hello, waits for a reply that
// starts with expect (both may be empty), then holds the connection
// without ever writing again.
func StartTargetClient(ctx context.Context, server netip.AddrPort, ttl time.Duration, hello, expect []byte) (*Client, error) {
	return startChild(ctx, targetArg, server.String(), strconv.FormatInt(ttl.Milliseconds(), 10), hex.EncodeToString(hello), hex.EncodeToString(expect))
}

// startChild starts this binary with ClientArg and args (runClient's) and
// waits for the child's hello line.
func startChild(ctx context.Context, args ...string) (*Client, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("client role: find own executable: %w", err)
	}
	cmd := exec.Command(exe, append([]string{ClientArg}, args...)...)
	cmd.SysProcAttr = childAttr()
	unprivileged := dropPrivileges(cmd.SysProcAttr, exe)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("client role: start child: %w", err)
	}
	c := &Client{cmd: cmd, exited: make(chan struct{}), Unprivileged: unprivileged, stdin: stdin, later: make(chan clientHello, 1)}
	if err := adoptChild(cmd); err != nil {
		c.Kill()
		return nil, fmt.Errorf("client role: %w", err)
	}
	lines := make(chan clientHello, 1)
	go func() {
		var h clientHello
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
				h.Err = fmt.Sprintf("bad hello %q: %v", sc.Text(), err)
			}
		} else {
			h.Err = "child exited without a hello"
		}
		lines <- h
		for sc.Scan() { // a target client's recheck answers
			var l clientHello
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				l.Err = fmt.Sprintf("bad line %q: %v", sc.Text(), err)
			}
			select {
			case c.later <- l:
			default: // nobody asked: dropped
			}
		}
	}()
	go func() { c.wait(); close(c.exited) }()
	select {
	case h := <-lines:
		if h.Err != "" {
			c.Kill()
			return nil, fmt.Errorf("client role: %s", h.Err)
		}
		if c.Local, err = netip.ParseAddrPort(h.Local); err == nil {
			c.Remote, err = netip.ParseAddrPort(h.Remote)
		}
		if err != nil {
			c.Kill()
			return nil, fmt.Errorf("client role: hello %+v: %w", h, err)
		}
		return c, nil
	case <-ctx.Done():
		c.Kill()
		return nil, fmt.Errorf("client role: %w", ctx.Err())
	case <-time.After(15 * time.Second):
		c.Kill()
		return nil, errors.New("client role: no hello from the child within 15s")
	}
}

// PID is the child's process id (the target of pause and kill).
func (c *Client) PID() int { return c.cmd.Process.Pid }

// Process is the child process.
func (c *Client) Process() *os.Process { return c.cmd.Process }

// Exited is closed when the child has exited and been reaped.
func (c *Client) Exited() <-chan struct{} { return c.exited }

func (c *Client) wait() error {
	c.waitOnce.Do(func() { c.waitErr = c.cmd.Wait() })
	return c.waitErr
}

// Kill ends the child (also a paused one: SIGKILL needs no SIGCONT) and
// reaps it.
func (c *Client) Kill() {
	_ = c.cmd.Process.Kill()
	<-c.exitedOrNow()
}

func (c *Client) exitedOrNow() <-chan struct{} {
	if c.exited == nil {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
	}
	ch := make(chan struct{})
	close(ch)
	return ch
}
