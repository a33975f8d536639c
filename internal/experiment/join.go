package experiment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/version"
)

// JoinOptions say how the coordinator joins the cluster.
type JoinOptions struct {
	// Bind is the host:port the coordinator's serf member listens on (TCP
	// and UDP; port 0 picks one); Advertise is the host:port agents reach
	// it at, needed when Bind's host is 0.0.0.0 (empty: Bind's address).
	Bind, Advertise string
	// Join are agents' serf addresses (host:port). At least one is
	// required; an address that does not answer is retried with backoff
	// (250 ms doubling to 4 s) until ExpectAgents agents are alive or
	// WaitAgents (default 30s) runs out.
	Join []string
	// KeyFile is the path of the base64 gossip key file (coordinator
	// keygen), 16, 24 or 32 bytes once decoded: required, since kalab
	// never runs an unencrypted cluster.
	KeyFile string
	// SigningKeyFile is the coordinator's Ed25519 signing key (coordinator
	// keygen); every command is signed with it and agents refuse any other.
	// Empty: SigningKeyName beside KeyFile.
	SigningKeyFile string
	// ExpectAgents waits (up to WaitAgents) until that many agents are alive.
	ExpectAgents int
	WaitAgents   time.Duration
	// Log receives serf's and the cluster node's records; nil discards
	// them.
	Log *slog.Logger
	// BeforeStart, when set, is called with the node before it starts, to
	// register what it receives (cluster.Node.HandlePush): `watch` takes
	// the agents' pushed events this way.
	BeforeStart func(*cluster.Node)
	// Status receives, every few seconds while the join waits, one line
	// saying what for: the agents alive, the addresses that answered and
	// those that did not (nil: silent).
	Status io.Writer
}

// SigningKeyName and VerifyKeyName are the files `coordinator keygen`
// writes beside the gossip key: the coordinator's signing key (for the
// coordinator only) and its public key (for every agent).
const (
	SigningKeyName = "coordinator.key"
	VerifyKeyName  = "coordinator.pub"
)

// joinProgress is what the join has reached so far.
type joinProgress struct {
	expect int
	addrs  []string
	// joined are the addresses that answered; failed the last error of
	// those that have not (yet).
	joined []string
	failed map[string]error
	agents []cluster.Member
}

// try joins through every address that has not answered yet.
func (p *joinProgress) try(node *cluster.Node) {
	for _, a := range p.addrs {
		if slices.Contains(p.joined, a) {
			continue
		}
		if err := node.Join([]string{a}); err != nil {
			p.failed[a] = err
			continue
		}
		delete(p.failed, a)
		p.joined = append(p.joined, a)
	}
}

func (p *joinProgress) done() bool { return len(p.joined) > 0 && len(p.agents) >= p.expect }

// alive lists the agents and where they are.
func (p *joinProgress) alive() string {
	if len(p.agents) == 0 {
		return "none"
	}
	var s []string
	for _, m := range p.agents {
		s = append(s, fmt.Sprintf("%s (%s)", m.Name, m.Addr))
	}
	return strings.Join(s, ", ")
}

// addresses says which join addresses answered and which did not.
func (p *joinProgress) addresses() string {
	var s []string
	if len(p.joined) > 0 {
		s = append(s, "joined via "+strings.Join(p.joined, ", "))
	}
	for _, a := range p.addrs {
		if err, ok := p.failed[a]; ok {
			s = append(s, fmt.Sprintf("no answer from %s (%s)", a, oneLine(err)))
		}
	}
	return strings.Join(s, "; ")
}

// oneLine writes a join error on one line: serf returns a multi-line list
// ("1 error occurred:\n\t* Failed to join …: dial tcp …: connection
// refused\n\n"), of which only the items say anything.
func oneLine(err error) string {
	var items []string
	for _, l := range strings.Split(err.Error(), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasSuffix(l, "occurred:") {
			continue
		}
		items = append(items, strings.TrimPrefix(l, "* "))
	}
	return strings.Join(items, "; ")
}

// waiting is the line printed while the join waits.
func (p *joinProgress) waiting() string {
	if len(p.joined) == 0 {
		return "waiting to join the cluster: " + p.addresses()
	}
	return fmt.Sprintf("waiting for %d agents, %d alive: %s; %s", p.expect, len(p.agents), p.alive(), p.addresses())
}

// joinFix is what to check when the join does not come together.
const joinFix = "check the --join addresses (each an agent's --advertise host:port), that TCP and UDP 7946 are open to " +
	"the agents and TCP and UDP 7947 (--bind) to this machine, and that every member has the same --key-file"

// timeout is the error when the wait ran out.
func (p *joinProgress) timeout(wait time.Duration) error {
	if len(p.joined) == 0 {
		return fmt.Errorf("coordinator: could not join the cluster within %s: %s; %s", wait, p.addresses(), joinFix)
	}
	return fmt.Errorf("coordinator: %d of the %d expected agents alive after %s: %s (%s); %s, or lower --expect-agents",
		len(p.agents), p.expect, wait, p.alive(), p.addresses(), joinFix)
}

func agentsOf(ms []cluster.Member) []cluster.Member {
	var out []cluster.Member
	for _, m := range ms {
		if m.Tags[cluster.TagRole] == "agent" {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b cluster.Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Check says what is missing before anything starts: the agents to join
// and the gossip key file, each with the flag that gives it.
func (o JoinOptions) Check() error {
	if len(o.Join) == 0 {
		return errors.New("no agents to join: give --join with one agent's gossip address (host:port, e.g. 192.0.2.10:7946; " +
			"more, comma-separated, are tried too), or --lab to run in a network-namespace lab built on this machine")
	}
	if o.KeyFile == "" {
		return errors.New("no gossip key: give --key-file with the file `coordinator keygen -o kalab.key` wrote (the agents' encrypt_key_file)")
	}
	return nil
}

// JoinCluster makes the coordinator a serf member (tag role=coordinator)
// and joins; it retries the join with backoff while agents are still
// starting, says on o.Status every few seconds what it waits for, and on
// timeout returns an error naming the alive agents and what to check.
func JoinCluster(ctx context.Context, o JoinOptions) (*cluster.Node, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	key, err := cluster.ReadKeyFile(o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	signPath := o.SigningKeyFile
	if signPath == "" {
		signPath = filepath.Join(filepath.Dir(o.KeyFile), SigningKeyName)
	}
	sign, err := cluster.ReadSigningKey(signPath)
	if err != nil {
		return nil, fmt.Errorf("coordinator: %w (--signing-key)", err)
	}
	host, _ := os.Hostname()
	node, err := cluster.New(cluster.Config{
		Name: fmt.Sprintf("coordinator-%s-%d", host, os.Getpid()), Bind: o.Bind, Advertise: o.Advertise, Key: key, Logger: o.Log,
		SignKey: sign,
		Tags:    map[string]string{cluster.TagRole: "coordinator", cluster.TagKalab: version.Version},
	})
	if err != nil {
		return nil, err
	}
	if o.BeforeStart != nil {
		o.BeforeStart(node)
	}
	if err := node.Start(); err != nil {
		return nil, err
	}
	wait := o.WaitAgents
	if wait == 0 {
		wait = 30 * time.Second
	}
	p := &joinProgress{expect: o.ExpectAgents, addrs: o.Join, failed: map[string]error{}}
	start := time.Now()
	deadline, nextJoin, nextSay := start.Add(wait), start, start.Add(2*time.Second)
	backoff := 250 * time.Millisecond
	for {
		if now := time.Now(); !now.Before(nextJoin) {
			p.try(node)
			nextJoin, backoff = now.Add(backoff), min(2*backoff, 4*time.Second)
		}
		p.agents = agentsOf(node.Members())
		if p.done() {
			return node, nil
		}
		now := time.Now()
		if now.After(deadline) || ctx.Err() != nil {
			node.Shutdown()
			if ctx.Err() != nil {
				return nil, fmt.Errorf("coordinator: join interrupted: %w", ctx.Err())
			}
			return nil, p.timeout(wait)
		}
		if o.Status != nil && !now.Before(nextSay) {
			fmt.Fprintf(o.Status, "%s %s\n", now.Format("15:04:05"), p.waiting())
			nextSay = now.Add(3 * time.Second)
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}
