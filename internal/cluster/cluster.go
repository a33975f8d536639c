// Package cluster is kalab's control plane: an embedded hashicorp/serf node
// (agents and the coordinator are all members), typed commands over serf
// queries, a handler registry, and the clock-offset estimate.
//
// It is built around how serf queries really behave
// (docs/cluster-and-probing.md §1): queries target one node by name
// (FilterNodes) with an explicit timeout and RelayFactor; the application's
// *response* is the acceptance signal, not serf's ack; a missing response is
// retried with the same command id and handlers are idempotent per id (a
// duplicate delivery gets the recorded answer, it does not act twice); the
// EventCh consumer never blocks; Leave comes before Shutdown. User events
// are never used for commands (they replay on join).
package cluster

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"

	"github.com/kalab-dev/kalab/internal/wire"
)

// Tag names every kalab member carries.
const (
	TagOS      = "os"
	TagArch    = "arch"
	TagVersion = "os_version"
	TagKalab   = "kalab_version"
	TagCaps    = "caps"
	TagRole    = "role" // "agent" or "coordinator"
	// TagName is not a serf tag: experiment selections match it against
	// the member's node name (agent config node_name, default the host
	// name), so a file can pick agents by name.
	TagName = "name"
)

// QueryBuffer is how many query clock ticks serf remembers (its default
// is 512): a few thousand concurrent commands stay answerable. Memory is
// one small entry per tick.
const QueryBuffer = 4096

// DefaultPort is serf's port (TCP and UDP).
const DefaultPort = 7946

// Config says how a node joins. Every field is required unless noted.
type Config struct {
	// Name must be unique in the cluster (serf resolves conflicts by
	// shutting the loser down).
	Name string
	// Bind is host:port to listen on (TCP+UDP); port 0 picks one.
	Bind string
	// Advertise is host:port others should use; optional (defaults to Bind's
	// address, which must then not be 0.0.0.0).
	Advertise string
	// Key is the 16/24/32-byte gossip key (AES-GCM). Required: kalab never
	// runs an unencrypted cluster.
	Key []byte
	// Tags are the member's serf tags (the Tag* names), which experiment
	// selections and WriteMembers read; optional.
	Tags map[string]string
	// Logger receives serf's and kalab's logs; nil discards serf's.
	Logger *slog.Logger
	// SignKey is the coordinator's Ed25519 private key: Call signs every
	// command with it. Nil on agents (they never command anyone).
	SignKey ed25519.PrivateKey
	// VerifyKey is the coordinator's public key: a node with handlers
	// answers only commands signed by it, for this node, recently and
	// never seen before; everything else is refused and logged. A node
	// without it answers no command at all.
	VerifyKey ed25519.PublicKey
}

// Handler answers one command. The returned body is encoded into the
// response; an error becomes a response with OK=false.
type Handler func(ctx context.Context, req wire.Request) (any, error)

// Node is a running serf member.
type Node struct {
	cfg      Config
	log      *slog.Logger
	serf     *serf.Serf
	events   chan serf.Event
	handlers map[string]Handler
	pushes   map[string]PushHandler // query name → receiver of unsigned pushes (push.go)

	mu       sync.Mutex
	answered map[string]*answer // command id → recorded answer
	order    []string
	nonces   map[string]time.Time // nonce → when it may be forgotten (issued + MaxCommandAge)
	keyring  *memberlist.Keyring  // the gossip keyring memberlist encrypts with

	stop     chan struct{}
	shutOnce sync.Once
	shutErr  error
}

type answer struct {
	done chan struct{}
	resp []byte
}

// maxRemembered bounds the idempotency record.
const maxRemembered = 4096

// New checks the config and prepares a node; it has no side effects
// (serf's agent lifecycle: Create → Start → Leave → Shutdown).
func New(cfg Config) (*Node, error) {
	if cfg.Name == "" {
		return nil, errors.New("cluster: node name is empty")
	}
	if l := len(cfg.Key); l != 16 && l != 24 && l != 32 {
		return nil, fmt.Errorf("cluster: gossip key is %d bytes: want 16, 24 or 32 (coordinator keygen writes one)", l)
	}
	if _, _, err := splitHostPort(cfg.Bind); err != nil {
		return nil, fmt.Errorf("cluster: bind %q: %w", cfg.Bind, err)
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Node{cfg: cfg, log: lg, handlers: map[string]Handler{}, pushes: map[string]PushHandler{}, answered: map[string]*answer{},
		nonces: map[string]time.Time{}, stop: make(chan struct{})}, nil
}

// Handle registers h for cmd; call before Start.
func (n *Node) Handle(cmd string, h Handler) { n.handlers[cmd] = h }

func splitHostPort(hp string) (string, int, error) {
	host, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q: allowed 0..65535", ps)
	}
	return host, port, nil
}

// Start creates the serf member and starts answering queries.
func (n *Node) Start() error {
	host, port, _ := splitHostPort(n.cfg.Bind)
	conf := serf.DefaultConfig()
	conf.NodeName = n.cfg.Name
	conf.Tags = n.cfg.Tags
	conf.QuerySizeLimit = wire.SerfSizeLimit
	conf.QueryResponseSizeLimit = wire.SerfSizeLimit
	// serf drops a query whose Lamport time is more than QueryBuffer ticks
	// behind the newest it saw ("received old query"); a matrix that sends
	// every pair's commands at once, plus retries, passed the default 512
	// and lost 10–12 % of first attempts at 20 agents (docs/benchmarks.md,
	// cluster), each then waiting 5 s for its retry.
	conf.QueryBuffer = QueryBuffer
	// EventCh: serf sends to it while holding queryLock; a full channel
	// stalls query handling, so it is buffered and drained by one goroutine
	// that hands each query to its own goroutine.
	n.events = make(chan serf.Event, 256)
	conf.EventCh = n.events
	logw := slogWriter{n.log}
	conf.Logger = log.New(logw, "", 0)
	ml := memberlist.DefaultLANConfig()
	ml.Name = n.cfg.Name
	ml.BindAddr, ml.BindPort = host, port
	ml.AdvertisePort = port
	if n.cfg.Advertise != "" {
		ah, ap, err := splitHostPort(n.cfg.Advertise)
		if err != nil {
			return fmt.Errorf("cluster: advertise %q: %w", n.cfg.Advertise, err)
		}
		ml.AdvertiseAddr, ml.AdvertisePort = ah, ap
	}
	ml.SecretKey = n.cfg.Key
	// Queries travel as memberlist broadcasts, which leave on the next
	// gossip round; the LAN default of 200 ms made every command and every
	// clock-offset round trip up to 200 ms slow. Gossip is only sent while
	// broadcasts are pending, so a short interval costs nothing when idle.
	ml.GossipInterval = GossipInterval
	ml.Logger = conf.Logger
	conf.MemberlistConfig = ml
	// memberlist reports a taken port without wrapping the error: look
	// first, to say what to do (two coordinator commands at once, a
	// session's watch and a fault, cannot share one port).
	if port != 0 {
		ln, err := net.Listen("tcp", n.cfg.Bind)
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("cluster: %s is taken, by another process or another coordinator command (a watch?): give this one a port of its own, e.g. --bind %s --advertise <this host's IP>:%d, and let the agents reach it: %w",
				n.cfg.Bind, net.JoinHostPort(host, strconv.Itoa(port+1)), port+1, err)
		}
		if err == nil {
			ln.Close()
		}
	}
	s, err := serf.Create(conf)
	if err != nil {
		return fmt.Errorf("cluster: start serf on %s: %w", n.cfg.Bind, err)
	}
	// serf answers its key-management queries (install-key, use-key,
	// remove-key, list-keys) from any member holding the gossip key, which
	// every agent holds. Those handlers find the keyring through serf's
	// Config.MemberlistConfig; memberlist keeps its own pointer to the
	// original config (and so the keyring that encrypts gossip). Giving
	// serf a copy without the keyring makes every key query answer "no
	// keyring to modify" while gossip stays encrypted. Done before Join, so
	// no query can be in flight.
	n.keyring = ml.Keyring
	mlCopy := *conf.MemberlistConfig
	mlCopy.Keyring = nil
	conf.MemberlistConfig = &mlCopy
	n.serf = s
	go n.eventLoop()
	return nil
}

// Join contacts existing members (host:port). Old user events are ignored.
func (n *Node) Join(addrs []string) error {
	if len(addrs) == 0 {
		return nil
	}
	if _, err := n.serf.Join(addrs, true); err != nil {
		return fmt.Errorf("cluster: join %s: %w", strings.Join(addrs, ","), err)
	}
	return nil
}

// Name returns this node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Member is an alive cluster member.
type Member struct {
	// Name is the member's serf node name, the target Call takes.
	Name string
	// Addr is the member's gossip address as host:port (its advertised
	// address when it set one).
	Addr string
	// Tags are the member's serf tags as it last announced them (the Tag*
	// names).
	Tags map[string]string
}

// Members lists alive members (failed and left ones linger in serf for 24 h
// and are skipped).
func (n *Node) Members() []Member {
	var out []Member
	for _, m := range n.serf.Members() {
		if m.Status != serf.StatusAlive {
			continue
		}
		out = append(out, Member{Name: m.Name, Addr: net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port))), Tags: m.Tags})
	}
	return out
}

// Leave announces departure (so others do not wait for failure detection).
func (n *Node) Leave() error {
	if n.serf == nil {
		return nil
	}
	if err := n.serf.Leave(); err != nil {
		return fmt.Errorf("cluster: leave: %w", err)
	}
	return nil
}

// Shutdown stops the node; idempotent.
func (n *Node) Shutdown() error {
	n.shutOnce.Do(func() {
		close(n.stop)
		if n.serf != nil {
			n.shutErr = n.serf.Shutdown()
		}
	})
	return n.shutErr
}

func (n *Node) eventLoop() {
	for {
		select {
		case <-n.stop:
			return
		case e := <-n.events:
			if q, ok := e.(*serf.Query); ok {
				go n.handleQuery(q)
			}
		}
	}
}

func (n *Node) handleQuery(q *serf.Query) {
	if h, ok := n.pushes[q.Name]; ok {
		n.receivePush(q, h)
		return
	}
	if !strings.HasPrefix(q.Name, "kalab-") {
		return
	}
	resp := n.answer(q.Name, q.Payload, q.Deadline())
	if resp == nil {
		return
	}
	if err := q.Respond(resp); err != nil {
		n.log.Warn("respond to query", "cmd", q.Name, "err", err)
	}
}

// answer runs the handler once per command id; a duplicate (a retry, or
// serf delivering the same query again) waits for and gets the same bytes.
func (n *Node) answer(name string, payload []byte, deadline time.Time) []byte {
	req, err := wire.ParseRequest(payload)
	if err != nil {
		n.log.Warn("refused a malformed command", "query", name, "err", err)
		b, _ := wire.NewResponse("", nil, err)
		return b
	}
	if req.Cmd != name {
		b, _ := wire.NewResponse(req.ID, nil, fmt.Errorf("query %s carries command %s", name, req.Cmd))
		return b
	}
	if err := n.authorize(req); err != nil {
		n.log.Warn("refused a command", "cmd", req.Cmd, "id", req.ID, "err", err)
		b, _ := wire.NewResponse(req.ID, nil, fmt.Errorf("refused: %w", err))
		return b
	}
	n.mu.Lock()
	if a, ok := n.answered[req.ID]; ok {
		n.mu.Unlock()
		select {
		case <-a.done:
			return a.resp
		case <-time.After(time.Until(deadline)):
			return nil // still working; the caller retries
		}
	}
	a := &answer{done: make(chan struct{})}
	n.answered[req.ID] = a
	n.order = append(n.order, req.ID)
	if len(n.order) > maxRemembered {
		delete(n.answered, n.order[0])
		n.order = n.order[1:]
	}
	n.mu.Unlock()

	h, ok := n.handlers[req.Cmd]
	var body any
	if !ok {
		err = fmt.Errorf("unknown command %q", req.Cmd)
	} else {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		body, err = h(ctx, req)
		cancel()
	}
	resp, eerr := wire.NewResponse(req.ID, body, err)
	if eerr != nil {
		resp, _ = wire.NewResponse(req.ID, nil, eerr)
	}
	a.resp = resp
	close(a.done)
	return resp
}

// authorize accepts only commands the coordinator signed for this node,
// recently, once: a replayed nonce is refused. (A retry of the same command
// is signed anew, so it passes here and is answered from the record.)
func (n *Node) authorize(req wire.Request) error {
	if n.cfg.VerifyKey == nil {
		return errors.New("this node takes no commands (no coordinator key)")
	}
	now := time.Now()
	if err := req.Verify(n.cfg.VerifyKey, n.cfg.Name, now); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for k, until := range n.nonces {
		if now.After(until) {
			delete(n.nonces, k)
		}
	}
	if _, seen := n.nonces[req.Auth.Nonce]; seen {
		return errors.New("replayed command (nonce already used)")
	}
	n.nonces[req.Auth.Nonce] = time.Unix(0, req.Auth.IssuedNS).Add(2 * wire.MaxCommandAge)
	return nil
}

// CallOptions tune Call; zero values take the defaults.
type CallOptions struct {
	// Timeout per attempt (serf query timeout). Default 5 s.
	Timeout time.Duration
	// Attempts in all. Default 4.
	Attempts int
}

// ErrNoResponse is returned when no attempt got an answer.
var ErrNoResponse = errors.New("no response")

// Call sends one command to node and decodes the answer into out. Each
// attempt is a new serf query with the same command id, so a handler that
// already ran answers from its record.
func (n *Node) Call(ctx context.Context, node, id, cmd string, body, out any, o CallOptions) error {
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Attempts == 0 {
		o.Attempts = 4
	}
	var last error = ErrNoResponse
	for attempt := 1; attempt <= o.Attempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s to %s: %w", cmd, node, err)
		}
		// Signed per attempt: a fresh nonce, so the agent can tell a retry
		// (same id, answered from its record) from a replay (same nonce).
		payload, err := wire.NewSignedRequest(id, cmd, body, n.cfg.SignKey, node)
		if err != nil {
			return err
		}
		raw, err := n.query(ctx, node, cmd, payload, o.Timeout)
		if err != nil {
			last = err
			continue
		}
		resp, err := wire.ParseResponse(raw)
		if err != nil {
			return fmt.Errorf("%s to %s: %w", cmd, node, err)
		}
		if resp.ID != id && resp.ID != "" {
			return fmt.Errorf("%s to %s: answer for %q, asked %q", cmd, node, resp.ID, id)
		}
		if !resp.OK {
			return &RemoteError{Node: node, Cmd: cmd, Msg: resp.Err}
		}
		if out != nil {
			if err := wire.DecodeBody(resp.Body, out); err != nil {
				return fmt.Errorf("%s to %s: %w", cmd, node, err)
			}
		}
		return nil
	}
	return fmt.Errorf("%s to %s after %d attempts: %w", cmd, node, o.Attempts, last)
}

// RemoteError is a command the agent refused or failed.
type RemoteError struct {
	// Node is the member that answered, Cmd the command it refused or
	// failed, and Msg its Response.Err (cut to wire.MaxErrorTextLen).
	Node, Cmd, Msg string
}

func (e *RemoteError) Error() string { return fmt.Sprintf("%s on %s: %s", e.Cmd, e.Node, e.Msg) }

func (n *Node) query(ctx context.Context, node, cmd string, payload []byte, timeout time.Duration) ([]byte, error) {
	qr, err := n.serf.Query(cmd, payload, &serf.QueryParam{
		FilterNodes: []string{node},
		Timeout:     timeout,
		RelayFactor: 2,
	})
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", cmd, err)
	}
	defer qr.Close()
	// The channels stay open until the timeout; one response from the
	// addressed node is all we wait for (any other is ignored and logged).
	for {
		select {
		case r, ok := <-qr.ResponseCh():
			if !ok {
				return nil, ErrNoResponse
			}
			if r.From != node {
				n.log.Warn("ignored an answer from a node that was not asked", "cmd", cmd, "asked", node, "from", r.From)
				continue
			}
			return r.Payload, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Offset is an agent's clock relative to this node's: agent − local.
type Offset struct {
	// Offset is agent − local from the sample with the shortest round
	// trip; add it to a local instant to get the agent's clock reading.
	Offset time.Duration
	// Bound is half the best round trip: the true offset lies within
	// Offset ± Bound.
	Bound time.Duration
	// Status is the agent's answer from that same sample (its OS, version,
	// tick rate and caps).
	Status wire.StatusResp
}

// GossipInterval is how often queued broadcasts (queries) leave a node.
const GossipInterval = 20 * time.Millisecond

// ClockOffset estimates node's clock offset from samples status round
// trips, keeping the one with the shortest round trip.
//
// A query waits for the sender's next gossip round (up to
// GossipInterval), and back-to-back samples all wait almost a whole
// round: each is sent just after the previous answer, itself sent just
// after a round. A random pause before each sample spreads them over the
// round, so the best of them nearly skips the wait (in the lab the bound
// fell from ~10 ms to ~2 ms).
func (n *Node) ClockOffset(ctx context.Context, node string, samples int) (Offset, error) {
	best := Offset{Bound: -1}
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	for i := range samples {
		select {
		case <-time.After(mrand.N(GossipInterval)):
		case <-ctx.Done():
			return Offset{}, ctx.Err()
		}
		var st wire.StatusResp
		t1 := time.Now()
		id := fmt.Sprintf("status-%x-%d", idb, i)
		if err := n.Call(ctx, node, id, wire.CmdStatus, wire.StatusReq{}, &st, CallOptions{Attempts: 2, Timeout: 3 * time.Second}); err != nil {
			return Offset{}, err
		}
		t2 := time.Now()
		rtt := t2.Sub(t1)
		mid := t1.Add(rtt / 2)
		off := time.Unix(0, st.NowNS).Sub(mid)
		if best.Bound < 0 || rtt/2 < best.Bound {
			best = Offset{Offset: off, Bound: rtt / 2, Status: st}
		}
	}
	if best.Bound < 0 {
		return Offset{}, errors.New("clock offset: no samples")
	}
	return best, nil
}

// NewKey returns a fresh 32-byte gossip key.
func NewKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// EncodeKey is the key file format: base64 on one line (as serf -encrypt).
func EncodeKey(k []byte) string { return base64.StdEncoding.EncodeToString(k) + "\n" }

// WriteKeyFile creates path (mode 0600) holding a new key. It never
// overwrites: a key a running cluster uses must not be replaced by
// accident.
func WriteKeyFile(path string) error {
	return writeNew(path, 0o600, EncodeKey(NewKey()))
}

// ReadKeyFile reads a key written by EncodeKey.
func ReadKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	k, err := DecodeKey(b)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// DecodeKey decodes a key file's content (EncodeKey's format) and checks
// its length.
func DecodeKey(b []byte) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	if l := len(k); l != 16 && l != 24 && l != 32 {
		return nil, fmt.Errorf("key is %d bytes, want 16, 24 or 32", l)
	}
	return k, nil
}

// NewSigningKey makes the coordinator's Ed25519 key pair.
func NewSigningKey() (ed25519.PublicKey, ed25519.PrivateKey) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err) // crypto/rand never fails on supported OSes
	}
	return pub, priv
}

// WriteSigningKeys creates the coordinator's private key file (mode 0600,
// the 64-byte private key in base64) and its public key file (mode 0644, base64),
// never overwriting either.
func WriteSigningKeys(privPath, pubPath string) error {
	pub, priv := NewSigningKey()
	if err := writeNew(privPath, 0o600, base64.StdEncoding.EncodeToString(priv)+"\n"); err != nil {
		return err
	}
	return writeNew(pubPath, 0o644, base64.StdEncoding.EncodeToString(pub)+"\n")
}

// ReadSigningKey reads the coordinator's private key file.
func ReadSigningKey(path string) (ed25519.PrivateKey, error) {
	b, err := readBase64(path, ed25519.PrivateKeySize, "coordinator signing key")
	if err != nil {
		return nil, err
	}
	return ed25519.PrivateKey(b), nil
}

func readBase64(path string, size int, what string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(b) != size {
		return nil, fmt.Errorf("%s %s: want base64 of %d bytes (coordinator keygen writes it)", what, path, size)
	}
	return b, nil
}

func writeNew(path string, mode os.FileMode, content string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return fmt.Errorf("write key %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write key %s: %w", path, err)
	}
	return f.Close()
}

// slogWriter turns serf's log lines into debug records.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	if strings.Contains(line, "No keyring to modify") || strings.Contains(line, "Keyring is empty (encryption not enabled)") {
		// A member asked to change or list gossip keys (see Start).
		w.l.Warn("refused a serf key-management query: kalab agents never change keys over the network", "serf", line)
		return len(p), nil
	}
	w.l.Debug(line, "src", "serf")
	return len(p), nil
}

// WriteMembers prints members as a table sorted by name, with the tags
// experiment selections match on.
func WriteMembers(w io.Writer, ms []Member) error {
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "name\taddress\trole\tos\tos_version\tarch\tkalab\tcaps")
	for _, m := range ms {
		t := m.Tags
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Addr, t[TagRole], t[TagOS],
			t[TagVersion], t[TagArch], t[TagKalab], t[TagCaps])
	}
	return tw.Flush()
}
