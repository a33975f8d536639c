//go:build !linux && !darwin

package role

import "syscall"

// dropPrivileges: the Windows client child keeps the agent's token (a
// restricted token is future work); other OSes have no client role.
func dropPrivileges(*syscall.SysProcAttr, string) bool { return false }
