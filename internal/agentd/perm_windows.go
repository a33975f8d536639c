//go:build windows

package agentd

import (
	"errors"
	"fmt"
	"io/fs"
	"unsafe"

	"golang.org/x/sys/windows"
)

// filePermProblem reads the file's owner and DACL and applies
// classifyACL: no ACE may grant write (for key_file also read) to anyone
// but SYSTEM, Administrators or the owner.
func filePermProblem(path string, _ fs.FileInfo, secret bool) (permVerdict, error) {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return permVerdict{allowed: "a file whose security descriptor can be read"}, fmt.Errorf("GetNamedSecurityInfo: %w", err)
	}
	owner := ""
	if o, _, err := sd.Owner(); err == nil && o != nil {
		owner = o.String()
	}
	dacl, _, err := sd.DACL()
	if errors.Is(err, windows.ERROR_OBJECT_NOT_FOUND) || err == nil && dacl == nil {
		return classifyACL(path, owner, true, nil, secret), nil
	}
	if err != nil {
		return permVerdict{allowed: "a file whose DACL can be read"}, fmt.Errorf("DACL: %w", err)
	}
	aces := make([]aceEntry, 0, dacl.AceCount)
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return permVerdict{allowed: "a file whose DACL can be read"}, fmt.Errorf("ACE %d: %w", i, err)
		}
		e := aceEntry{typ: ace.Header.AceType, flags: ace.Header.AceFlags, mask: uint32(ace.Mask)}
		switch e.typ {
		case aceAccessAllowed, windows.ACCESS_DENIED_ACE_TYPE, aceAccessAllowedCallback, aceAccessDeniedCallback:
			// The SID follows the mask in these layouts; object ACEs put
			// GUIDs first and are judged without their SID (sid "":
			// refused if they grant what the rule forbids).
			e.sid = (*windows.SID)(unsafe.Pointer(&ace.SidStart)).String()
		}
		aces = append(aces, e)
	}
	return classifyACL(path, owner, false, aces, secret), nil
}
