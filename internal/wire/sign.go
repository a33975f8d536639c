package wire

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Auth proves a command comes from the coordinator: serf's gossip key only
// encrypts, and every agent holds it, so a command is also signed with the
// coordinator's Ed25519 key over everything that decides what it does —
// command, id, body, the node it is for, when it was issued and a nonce
// (docs/security.md). Agents verify it with the coordinator's public key.
type Auth struct {
	// Node is the node the command is for; an agent refuses a command
	// signed for another node.
	Node string `json:"node"`
	// IssuedNS is when the coordinator signed it (ns since the Unix epoch);
	// agents refuse commands older or newer than MaxCommandAge.
	IssuedNS int64 `json:"issued_ns"`
	// Nonce is 12 random bytes (base64); an agent refuses a nonce it has
	// seen (a replay). A retry of the same command is signed anew.
	Nonce string `json:"nonce"`
	// Sig is the Ed25519 signature (base64) of SignedBytes.
	Sig string `json:"sig"`
}

// MaxCommandAge is how far a command's issue time may lie from the
// agent's clock, either way: it bounds replays and tolerates hosts whose
// clocks are a little apart.
const MaxCommandAge = 5 * time.Minute

// signedBytes is what the signature covers, in a form that cannot be
// confused with any other message kalab signs.
func signedBytes(r Request, a Auth) []byte {
	b, _ := json.Marshal([]any{"kalab-command-v1", r.Cmd, r.ID, a.Node, a.IssuedNS, a.Nonce, r.Body})
	return b
}

// Sign fills r.Auth for node with a fresh nonce and the current time.
func Sign(r *Request, key ed25519.PrivateKey, node string, now time.Time) error {
	if len(key) != ed25519.PrivateKeySize {
		return errors.New("sign command: no coordinator signing key")
	}
	var n [12]byte
	if _, err := rand.Read(n[:]); err != nil {
		return fmt.Errorf("sign command: %w", err)
	}
	a := Auth{Node: node, IssuedNS: now.UnixNano(), Nonce: base64.StdEncoding.EncodeToString(n[:])}
	a.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(key, signedBytes(*r, a)))
	r.Auth = &a
	return nil
}

// ErrUnsigned and the other Verify errors say why a command was refused;
// agents log them.
var (
	ErrUnsigned     = errors.New("command is not signed by the coordinator")
	ErrBadSignature = errors.New("command signature does not verify with the coordinator's public key (signed by another key, or altered)")
)

// Verify checks that r was signed with pub's private key for node self,
// within MaxCommandAge of now. It does not check replays (the receiver
// keeps the nonces it has seen).
func (r Request) Verify(pub ed25519.PublicKey, self string, now time.Time) error {
	if r.Auth == nil || r.Auth.Sig == "" {
		return ErrUnsigned
	}
	a := *r.Auth
	sig, err := base64.StdEncoding.DecodeString(a.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return ErrBadSignature
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, signedBytes(r, a), sig) {
		return ErrBadSignature
	}
	if a.Node != self {
		return fmt.Errorf("command signed for node %q, this is %q", a.Node, self)
	}
	if age := now.Sub(time.Unix(0, a.IssuedNS)); age > MaxCommandAge || age < -MaxCommandAge {
		return fmt.Errorf("command issued %s from this host's clock (allowed ±%s): an old command replayed, or the clocks are apart (check NTP)", age.Round(time.Second), MaxCommandAge)
	}
	return nil
}
