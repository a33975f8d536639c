//go:build !windows

package agentd

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// filePermProblem checks a file's mode and owner the way ssh checks keys:
// a secret (key_file) must be readable and writable by its owner only;
// agent.toml and coordinator_key must not be writable by group or others.
// The owner must be root or the agent's own user, who alone may change
// the mode.
func filePermProblem(path string, fi fs.FileInfo, secret bool) (permVerdict, error) {
	m := fi.Mode().Perm()
	q := shellQuote(path)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if uid := int(st.Uid); uid != 0 && uid != os.Geteuid() {
			return permVerdict{
				problem: fmt.Sprintf("owned by uid %d, who can change it whatever its mode", uid),
				allowed: fmt.Sprintf("owned by root or by the agent's user (uid %d)", os.Geteuid()),
				fix:     "chown root " + q,
			}, nil
		}
	}
	if secret && m&0o077 != 0 {
		return permVerdict{
			problem: fmt.Sprintf("mode %04o lets group or others %s it", m, access(m)),
			allowed: "access by the owner only (mode 0600 or 0400), like an ssh key",
			fix:     "chmod 600 " + q,
		}, nil
	}
	if !secret && m&0o022 != 0 {
		return permVerdict{
			problem: fmt.Sprintf("mode %04o lets group or others write it", m),
			allowed: "writable by the owner only (mode 0644 or stricter)",
			fix:     "chmod 644 " + q,
		}, nil
	}
	return permVerdict{}, nil
}

// access says what group/other bits of m allow.
func access(m fs.FileMode) string {
	switch r, w := m&0o044 != 0, m&0o022 != 0; {
	case r && w:
		return "read and write"
	case w:
		return "write"
	}
	return "read"
}
