//go:build linux || darwin

package role

import (
	"os"
	"path/filepath"
	"syscall"
)

// nobody is the unprivileged user the client child runs as when the agent
// is root: connecting and holding a TCP connection needs no privilege, and
// a child that cannot do anything else is the smaller risk.
const nobody = 65534

// dropPrivileges makes the child run as nobody when the agent is root and
// nobody can execute the agent binary (every directory on its path
// searchable and the file executable by others, as in a release install).
// Otherwise the child keeps the agent's user, and says so in the log.
func dropPrivileges(attr *syscall.SysProcAttr, exe string) bool {
	if os.Geteuid() != 0 || !othersCanExec(exe) {
		return false
	}
	attr.Credential = &syscall.Credential{Uid: nobody, Gid: nobody, NoSetGroups: false, Groups: []uint32{}}
	return true
}

// othersCanExec reports whether a user with no special rights can run path.
func othersCanExec(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o001 == 0 {
		return false
	}
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		di, err := os.Stat(dir)
		if err != nil || di.Mode().Perm()&0o001 == 0 {
			return false
		}
		if dir == filepath.Dir(dir) {
			return true
		}
	}
}
