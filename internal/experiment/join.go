package experiment

import (
	"context"
	"fmt"
	"log/slog"
	"os"
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
	// required; the join is retried every 250 ms until it succeeds with
	// ExpectAgents agents alive or WaitAgents (default 30s) runs out.
	Join []string
	// KeyFile is the path of the base64 gossip key file (coordinator
	// keygen), 16, 24 or 32 bytes once decoded: required, since kalab
	// never runs an unencrypted cluster.
	KeyFile string
	// ExpectAgents waits (up to WaitAgents) until that many agents are alive.
	ExpectAgents int
	WaitAgents   time.Duration
	// Log receives serf's and the cluster node's records; nil discards
	// them.
	Log *slog.Logger
}

// JoinCluster makes the coordinator a serf member (tag role=coordinator)
// and joins; it retries the join while agents are still starting.
func JoinCluster(ctx context.Context, o JoinOptions) (*cluster.Node, error) {
	if len(o.Join) == 0 {
		return nil, fmt.Errorf("coordinator: --join is required (an agent's host:port)")
	}
	key, err := cluster.ReadKeyFile(o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	host, _ := os.Hostname()
	node, err := cluster.New(cluster.Config{
		Name: fmt.Sprintf("coordinator-%s-%d", host, os.Getpid()), Bind: o.Bind, Advertise: o.Advertise, Key: key, Logger: o.Log,
		Tags: map[string]string{cluster.TagRole: "coordinator", cluster.TagKalab: version.Version},
	})
	if err != nil {
		return nil, err
	}
	if err := node.Start(); err != nil {
		return nil, err
	}
	wait := o.WaitAgents
	if wait == 0 {
		wait = 30 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		err = node.Join(o.Join)
		agents := 0
		for _, m := range node.Members() {
			if m.Tags[cluster.TagRole] == "agent" {
				agents++
			}
		}
		if err == nil && agents >= o.ExpectAgents {
			return node, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			node.Shutdown()
			if err == nil {
				err = fmt.Errorf("%d agents alive, expected %d", agents, o.ExpectAgents)
			}
			return nil, fmt.Errorf("coordinator: join %v within %s: %w", o.Join, wait, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
