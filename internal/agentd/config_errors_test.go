package agentd

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kalab-dev/kalab/internal/testkit"
)

// goodAgentConfig is a complete agent.toml for testkit.WriteAgentConfig;
// the cases below change one thing each. Lines: 1 name, 2 bind,
// 3 advertise, 4 key_file, 5 data_dir, 6 coordinator_key.
const goodAgentConfig = `name = "t-1"
bind = "127.0.0.1:0"
advertise = "127.0.0.1:0"
key_file = "{key}"
data_dir = "{dir}/data"
coordinator_key = "{pub}"
`

func TestGoodAgentConfig(t *testing.T) {
	c, err := LoadConfig(testkit.WriteAgentConfig(t, goodAgentConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "t-1" || c.DataDir == "" || c.CoordinatorKey == "" {
		t.Fatalf("%+v", c)
	}
	if _, err := ReadCoordinatorKey(c.CoordinatorKey); err != nil {
		t.Fatal(err)
	}
}

// TestMalformedAgentConfigs: each gives exactly one error, on one line,
// naming the file, the key's line, the key, what is allowed and the fix.
func TestMalformedAgentConfigs(t *testing.T) {
	set := func(old, new string) string {
		if !strings.Contains(goodAgentConfig, old) {
			t.Fatalf("config lacks %q", old)
		}
		return strings.Replace(goodAgentConfig, old, new, 1)
	}
	chmod := func(file string, mode os.FileMode) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, file), mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	write := func(file, content string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	priv := base64.StdEncoding.EncodeToString(make([]byte, ed25519.PrivateKeySize)) + "\n"
	tests := []struct {
		name    string
		body    string
		prepare func(t *testing.T, dir string)
		line    int
		key     string // as the message names it; {dir} is replaced
		allowed string
		fix     string
	}{
		{"unknown key", goodAgentConfig + "colour = \"red\"\n", nil, 7, "unknown keys colour", "the keys name, bind, advertise", "remove colour"},
		{"many unknown keys", goodAgentConfig + "a = 1\nb = 2\nc = 3\n", nil, 7, "unknown keys a and 2 more", "key_file, data_dir, coordinator_key", "remove a"},
		{"key in upper case", goodAgentConfig + "NAME = \"t-2\"\n", nil, 7, "unknown keys NAME", "the keys name, bind", "write it name"},
		{"pause not strings", goodAgentConfig + "[hypervisor]\nvm = \"v\"\npause = [\"virsh\", 1]\n", nil, 9, "hypervisor.pause is an array holding an integer", "a command as a list of strings", `pause = ["virsh", "suspend", "{vm}"]`},
		{"join not a list", goodAgentConfig + "join = \"192.0.2.1:7946\"\n", nil, 7, "join is a string", "a list of host:port strings", `join = ["192.0.2.20:7946"]`},
		{"syntax", goodAgentConfig + "max_runs =\n", nil, 7, "max_runs: expected value", "an integer 1..1024", "max_runs = 64"},
		{"duplicate key", goodAgentConfig + "name = \"t-2\"\n", nil, 7, "name: Key 'name' has already been defined", "a node name", `name = "linux-1"`},
		{"nested too deep", goodAgentConfig + "join = [[[[\"x\"]]]]\n", nil, 7, "join: [ and { nested 4 deep", "at most 3 levels", "write the keys plainly"},
		{"no advertise for 0.0.0.0", set(`bind = "127.0.0.1:0"
advertise = "127.0.0.1:0"`, `bind = "0.0.0.0:7946"`), nil, 2, "set advertise (--advertise)", "an IP address of this host", `advertise = "192.0.2.10:7946"`},
		{"advertise without a port", set(`advertise = "127.0.0.1:0"`, `advertise = "127.0.0.1"`), nil, 3, "advertise/bind \"127.0.0.1\"", "host:port", `advertise = "192.0.2.10:7946"`},
		{"no key_file", set(`key_file = "{key}"`, ""), nil, 1, "key_file (--key-file) is required", "gossip key file", "copy kalab.key"},
		{"key_file absent", set(`key_file = "{key}"`, `key_file = "{dir}/nope.key"`), nil, 4, "key_file: read key file", "an existing file", "check the path"},
		{"key_file a directory", set(`key_file = "{key}"`, `key_file = "{dir}"`), nil, 4, "key_file {dir} is a directory, not a regular file", "a regular file", "point it at the file"},
		{"key_file readable by others", goodAgentConfig, chmod("kalab.key", 0o644), 4, "key_file {dir}/kalab.key: mode 0644 lets group or others read it", "owner only (mode 0600 or 0400)", "chmod 600 {dir}/kalab.key"},
		{"key_file writable by group", goodAgentConfig, chmod("kalab.key", 0o620), 4, "mode 0620 lets group or others write it", "owner only", "chmod 600 {dir}/kalab.key"},
		{"key_file not a key", goodAgentConfig, write("kalab.key", "hello\n"), 4, "key_file: not base64", "base64 of a 16, 24 or 32-byte key", "copy kalab.key"},
		{"no data_dir", set(`data_dir = "{dir}/data"`, ""), nil, 1, "data_dir (--data-dir) is required", "a directory for the agent's state", `data_dir = "`},
		{"data_dir a file", set(`data_dir = "{dir}/data"`, `data_dir = "{dir}/agent.toml"`), nil, 5, "is not a directory", "a directory", "point data_dir at a directory"},
		{"no coordinator_key", set(`coordinator_key = "{pub}"`, ""), nil, 1, "coordinator_key (--coordinator-key) is required", "coordinator.pub", "copy coordinator.pub"},
		{"coordinator_key writable by others", goodAgentConfig, chmod("coordinator.pub", 0o666), 6, "mode 0666 lets group or others write it", "writable by the owner only (mode 0644 or stricter)", "chmod 644 {dir}/coordinator.pub"},
		{"coordinator_key is the private key", goodAgentConfig, write("coordinator.pub", priv), 6, "looks like the private key", "32-byte Ed25519 public key", "copy coordinator.pub (not coordinator.key)"},
		{"agent.toml writable by others", goodAgentConfig, chmod("agent.toml", 0o646), 1, "{dir}/agent.toml: mode 0646 lets group or others write it", "writable by the owner only", "chmod 644 {dir}/agent.toml"},
		{"max_runs negative", goodAgentConfig + "max_runs = -1\n", nil, 7, "max_runs = -1", "an integer 1..1024", "max_runs = 1"},
		{"half a hypervisor", goodAgentConfig + "[hypervisor]\nvm = \"v\"\n", nil, 7, "needs vm, pause and resume together (pause, resume missing)", "all three of vm, pause and resume", "add pause and resume"},
		{"empty hypervisor argument", goodAgentConfig + "[hypervisor]\nvm = \"v\"\npause = [\"virsh\", \"\"]\nresume = [\"virsh\", \"resume\", \"{vm}\"]\n", nil, 9, "hypervisor.pause has an empty argument", "none empty", `pause = ["virsh", "suspend", "{vm}"]`},
		{"over 64 KiB", goodAgentConfig + "# " + strings.Repeat("x", 64<<10) + "\n", nil, 1, "agent config is over 65536 bytes", "at most 65536 bytes", "a dozen lines"},
	}
	if os.Geteuid() == 0 {
		tests = append(tests, struct {
			name    string
			body    string
			prepare func(t *testing.T, dir string)
			line    int
			key     string
			allowed string
			fix     string
		}{"key_file owned by another user", goodAgentConfig, func(t *testing.T, dir string) {
			if err := os.Chown(filepath.Join(dir, "kalab.key"), 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, 4, "owned by uid 65534", "owned by root or by the agent's user", "chown root {dir}/kalab.key"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := testkit.WriteAgentConfig(t, tt.body)
			dir := filepath.ToSlash(filepath.Dir(path))
			if tt.prepare != nil {
				tt.prepare(t, dir)
			}
			_, err := LoadConfig(path)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			t.Log(msg)
			var fe *FieldError
			if !errors.As(err, &fe) || strings.Contains(msg, "\n") {
				t.Fatalf("want one *FieldError on one line, got %T %q", err, msg)
			}
			r := strings.NewReplacer("{dir}", dir)
			head, fix, ok := strings.Cut(msg, "; fix: ")
			if !ok || !strings.Contains(fix, r.Replace(tt.fix)) {
				t.Errorf("error lacks the fix %q:\n%s", r.Replace(tt.fix), msg)
			}
			head, allowed, ok := strings.Cut(head, ": allowed ")
			if !ok || !strings.Contains(allowed, tt.allowed) {
				t.Errorf("error lacks allowed %q:\n%s", tt.allowed, msg)
			}
			if prefix := fmt.Sprintf("%s:%d: ", path, tt.line); !strings.HasPrefix(head, prefix) || !strings.Contains(head, r.Replace(tt.key)) {
				t.Errorf("error does not start with %q and name %q:\n%s", prefix, r.Replace(tt.key), msg)
			}
		})
	}
}

// TestFlagConfigErrors: a config made from flags has no file to point at;
// its errors name the flag and still say what is allowed and the fix.
func TestFlagConfigErrors(t *testing.T) {
	err := Config{Name: "a", Bind: "127.0.0.1:7946"}.Validate()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.File != "" || fe.Key != "key_file" || !strings.HasPrefix(err.Error(), "key_file (--key-file) is required: allowed ") || !strings.Contains(err.Error(), "; fix: ") {
		t.Fatalf("%T %v", err, err)
	}
}

// TestReadCoordinatorKey: the public key file from keygen is read; other
// content is refused with the reason, never read past 4 KiB.
func TestReadCoordinatorKey(t *testing.T) {
	dir := t.TempDir()
	pub, _, _ := ed25519.GenerateKey(nil)
	for _, tc := range []struct {
		name, content, want string
	}{
		{"good", base64.StdEncoding.EncodeToString(pub) + "\n", ""},
		{"no newline", base64.StdEncoding.EncodeToString(pub), ""},
		{"not base64", "hello", "not base64"},
		{"short", base64.StdEncoding.EncodeToString(pub[:16]), "16 bytes, want 32"},
		{"private", base64.StdEncoding.EncodeToString(make([]byte, 64)), "looks like the private key"},
		{"huge", strings.Repeat("A", 5000), "over 4096 bytes"},
	} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		k, err := ReadCoordinatorKey(p)
		switch {
		case tc.want == "" && (err != nil || !k.Equal(pub)):
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := ReadCoordinatorKey(os.DevNull); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("%s: %v", os.DevNull, err)
	}
}
