// Package testkit holds helpers shared by several packages' tests.
package testkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kalab-dev/kalab/internal/cluster"
)

// WriteAgentConfig writes a fresh gossip key, a coordinator key pair and an
// agent.toml (body, with {key}, {pub} and {dir} replaced by the gossip key
// file, the coordinator's public key file and the temp dir) into a temp dir
// and returns the config's path.
func WriteAgentConfig(t testing.TB, body string) string {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "kalab.key")
	if err := os.WriteFile(key, []byte(cluster.EncodeKey(cluster.NewKey())), 0o600); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "coordinator.pub")
	if err := cluster.WriteSigningKeys(filepath.Join(dir, "coordinator.key"), pub); err != nil {
		t.Fatal(err)
	}
	body = strings.NewReplacer("{key}", filepath.ToSlash(key), "{pub}", filepath.ToSlash(pub), "{dir}", filepath.ToSlash(dir)).Replace(body)
	path := filepath.Join(dir, "agent.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
