// Package testkit holds helpers shared by several packages' tests.
package testkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kalab-dev/kalab/internal/cluster"
)

// WriteAgentConfig writes a fresh gossip key and an agent.toml (body, with
// {key} and {dir} replaced by the key file and the temp dir) into a temp dir
// and returns the config's path.
func WriteAgentConfig(t testing.TB, body string) string {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "kalab.key")
	if err := os.WriteFile(key, []byte(cluster.EncodeKey(cluster.NewKey())), 0o600); err != nil {
		t.Fatal(err)
	}
	body = strings.NewReplacer("{key}", filepath.ToSlash(key), "{dir}", filepath.ToSlash(dir)).Replace(body)
	path := filepath.Join(dir, "agent.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
