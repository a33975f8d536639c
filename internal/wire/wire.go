// Package wire holds the typed, versioned messages the coordinator and the
// agents exchange over serf queries. Agents accept only these commands;
// nothing here can carry a shell command. Decoding is strict: unknown
// fields, a wrong version or trailing data are errors.
//
// Serf answers a query with one UDP packet and checks sizes only on the
// sender (docs/cluster-and-probing.md §1.3), so every message must fit
// the budgets below; tests enforce them for the largest realistic values.
package wire

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Version of the protocol; a mismatch is refused with both versions named.
const Version = 1

// Size limits configured on both sides of serf (QuerySizeLimit,
// QueryResponseSizeLimit) and the payload budgets kept below them for serf's
// envelope (≈ 60–150 B with node names and filters). 1200 B still fits one
// UDP datagram with memberlist's encryption overhead.
const (
	SerfSizeLimit   = 1200
	CommandBudget   = 1000
	ResponseBudget  = 1100
	MaxErrorTextLen = 200
)

// Command names, used as serf query names.
const (
	CmdStatus        = "kalab-status"
	CmdPrepareServer = "kalab-prepare-server"
	CmdPrepareClient = "kalab-prepare-client"
	CmdFault         = "kalab-fault"
	CmdHeal          = "kalab-heal"
	CmdCollect       = "kalab-collect"
	CmdCleanup       = "kalab-cleanup"
	CmdEcho          = "kalab-echo"
	CmdWrite         = "kalab-write"
	CmdObserve       = "kalab-observe"
	CmdRecheck       = "kalab-recheck"
	CmdEvents        = "kalab-events"
)

// PushEvents is the query name under which an agent pushes a run's new
// events to the node that subscribed to them (EventsReq.Subscribe). It is
// the one query that goes from an agent to a coordinator; it is not
// signed (agents hold no signing key): gossip encryption admits only
// cluster members, and a coordinator only displays and saves what it
// receives, never acts on it.
const PushEvents = "kalab-push-events"

// Request is the envelope of every command. ID identifies the command
// (run id + step); a retry reuses it so the agent can answer a duplicate
// from its record instead of acting twice.
type Request struct {
	// V is the sender's protocol Version (NewRequest sets it); the
	// receiving node refuses any other.
	V int `json:"v"`
	// ID is the command id the caller chose; it must not be empty. The
	// receiving node keeps its answer under it (the last 4096 ids) to answer
	// a duplicate without acting again.
	ID string `json:"id"`
	// Cmd is one of the Cmd* names and must equal the serf query's name;
	// the receiving node refuses a mismatch or a command it has no handler
	// for.
	Cmd string `json:"cmd"`
	// Body is the command's message (PrepareServerReq, FaultReq, …) as
	// JSON; the handler decodes it strictly with DecodeBody, where empty
	// means {}.
	Body json.RawMessage `json:"body,omitempty"`
	// Auth is the coordinator's signature (Sign); agents refuse commands
	// without a valid one.
	Auth *Auth `json:"auth,omitempty"`
}

// Response is the envelope of every answer. OK=false carries Err.
type Response struct {
	// V is the answering node's protocol Version; the caller refuses any
	// other.
	V int `json:"v"`
	// ID echoes the request's ID so that a late answer to an earlier
	// command cannot be taken for this one; empty when the request could
	// not be parsed.
	ID string `json:"id"`
	// OK is true when the command succeeded and Body holds its answer.
	OK bool `json:"ok"`
	// Err says why the command failed or was refused (the handler's error,
	// a bad envelope, an unknown command), cut to MaxErrorTextLen bytes;
	// set only when OK is false.
	Err string `json:"err,omitempty"`
	// Body is the answer message (StatusResp, CollectResp, …) as JSON;
	// empty on errors and when the handler returned a nil body.
	Body json.RawMessage `json:"body,omitempty"`
}

// NewRequest encodes body into a request and checks the budget.
func NewRequest(id, cmd string, body any) ([]byte, error) {
	return NewSignedRequest(id, cmd, body, nil, "")
}

// NewSignedRequest encodes body into a request signed with key for node
// (unsigned when key is nil) and checks the budget.
func NewSignedRequest(id, cmd string, body any, key ed25519.PrivateKey, node string) ([]byte, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode %s body: %w", cmd, err)
	}
	r := Request{V: Version, ID: id, Cmd: cmd, Body: raw}
	if key != nil {
		if err := Sign(&r, key, node, time.Now()); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", cmd, err)
	}
	if len(b) > CommandBudget {
		return nil, fmt.Errorf("command %s is %d bytes, over the %d-byte budget", cmd, len(b), CommandBudget)
	}
	return b, nil
}

// NewResponse encodes an answer. An error answer's text is cut to
// MaxErrorTextLen so that it always fits.
func NewResponse(id string, body any, cmdErr error) ([]byte, error) {
	r := Response{V: Version, ID: id, OK: cmdErr == nil}
	if cmdErr != nil {
		r.Err = Truncate(cmdErr.Error(), MaxErrorTextLen)
	} else if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode response body: %w", err)
		}
		r.Body = raw
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	if len(b) > ResponseBudget {
		return nil, fmt.Errorf("response to %s is %d bytes, over the %d-byte budget", id, len(b), ResponseBudget)
	}
	return b, nil
}

// Truncate cuts s to at most n bytes, marking the cut with "...", so that
// free text (errors, notes) cannot push a message over its budget.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// decodeStrict decodes exactly one JSON value with no unknown fields.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the message")
	}
	return nil
}

// ParseRequest decodes and checks an envelope. The receiver enforces the
// size limit too: a sender that ignores its budget is refused, not obeyed.
func ParseRequest(b []byte) (Request, error) {
	var r Request
	if len(b) > SerfSizeLimit {
		return r, fmt.Errorf("request of %d bytes, over the %d-byte limit", len(b), SerfSizeLimit)
	}
	if err := decodeStrict(b, &r); err != nil {
		return r, fmt.Errorf("decode request: %w", err)
	}
	if r.V != Version {
		return r, fmt.Errorf("request version %d, this agent speaks %d", r.V, Version)
	}
	if r.ID == "" || r.Cmd == "" {
		return r, errors.New("request without id or cmd")
	}
	return r, nil
}

// ParseResponse decodes and checks an answer envelope.
func ParseResponse(b []byte) (Response, error) {
	var r Response
	if len(b) > SerfSizeLimit {
		return r, fmt.Errorf("response of %d bytes, over the %d-byte limit", len(b), SerfSizeLimit)
	}
	if err := decodeStrict(b, &r); err != nil {
		return r, fmt.Errorf("decode response: %w", err)
	}
	if r.V != Version {
		return r, fmt.Errorf("response version %d, this coordinator speaks %d", r.V, Version)
	}
	return r, nil
}

// DecodeBody strictly decodes a request or response body into v.
func DecodeBody(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		raw = []byte("{}")
	}
	if err := decodeStrict(raw, v); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	return nil
}
