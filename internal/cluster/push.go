package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hashicorp/serf/serf"

	"github.com/kalab-dev/kalab/internal/wire"
)

// PushHandler receives one push: from is the pushing member's node name,
// payload the JSON it sent (not yet decoded: the receiver knows its type).
// It runs on the query's own goroutine, and the push is acknowledged once
// it returns, so it should return within the pusher's timeout.
type PushHandler func(from string, payload []byte)

// pushAck is what a receiver answers: the answer itself is the
// acknowledgement, its content does not matter.
var pushAck = []byte("ok")

// Push sends body, JSON-encoded, to node as the unsigned query named
// query (wire.PushEvents) and returns nil once node answered it, an error
// when it did not within timeout (or ctx ended). There is one attempt: a
// pusher that keeps what it sends (the agent's event log) sends it again
// with its next push instead.
//
// Unsigned because agents hold no signing key; the receiver accepts pushes
// only from live members tagged role=agent (HandlePush), and only members
// holding the gossip key can send at all.
func (n *Node) Push(ctx context.Context, node, query string, body any, timeout time.Duration) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("push %s to %s: encode: %w", query, node, err)
	}
	if len(payload) > wire.SerfSizeLimit {
		return fmt.Errorf("push %s to %s: %d bytes, over the %d-byte limit", query, node, len(payload), wire.SerfSizeLimit)
	}
	if _, err := n.query(ctx, node, query, payload, timeout); err != nil {
		return fmt.Errorf("push %s to %s: %w", query, node, err)
	}
	return nil
}

// HandlePush registers h for the pushes sent under query; call before
// Start. Such a query is not a command: it carries no signature and is
// never answered from the idempotency record; it is handed to h only when
// it comes from a live member tagged role=agent, and ignored (logged)
// otherwise. Queries of names without a push handler stay commands.
func (n *Node) HandlePush(query string, h PushHandler) { n.pushes[query] = h }

// receivePush checks who pushed, hands the payload over and acknowledges.
// A push from anyone else gets no answer, so its sender sees a timeout,
// exactly as if this node did not take pushes at all.
func (n *Node) receivePush(q *serf.Query, h PushHandler) {
	from := q.SourceNode()
	if !n.isAgent(from) {
		n.log.Warn("ignored a push from a member that is not a live agent", "query", q.Name, "from", from)
		return
	}
	h(from, q.Payload)
	if err := q.Respond(pushAck); err != nil {
		n.log.Warn("acknowledge a push", "query", q.Name, "from", from, "err", err)
	}
}

// isAgent reports whether name is an alive member tagged role=agent.
func (n *Node) isAgent(name string) bool {
	for _, m := range n.Members() {
		if m.Name == name {
			return m.Tags[TagRole] == "agent"
		}
	}
	return false
}
