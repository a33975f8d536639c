package agentd

import (
	"fmt"
	"strings"
)

// Windows access control, as plain values so that the rule can be tested
// on any OS (perm_windows.go reads the real DACL).

// Well-known SIDs trusted to hold kalab's files.
const (
	sidSystem         = "S-1-5-18"
	sidAdministrators = "S-1-5-32-544"
	sidOwnerRights    = "S-1-3-4"
	sidUsers          = "S-1-5-32-545"
)

// ACE types and flags and access-mask bits (winnt.h).
const (
	aceAccessAllowed         = 0x0
	aceAccessAllowedObject   = 0x5
	aceAccessAllowedCallback = 0x9
	aceAccessDeniedCallback  = 0xA
	aceAccessAllowedCbObject = 0xB
	aceInheritOnly           = 0x8

	fileReadData   = 0x1
	fileWriteData  = 0x2
	fileAppendData = 0x4
	accessDelete   = 0x10000
	writeDAC       = 0x40000
	writeOwner     = 0x80000
	genericAll     = 0x10000000
	genericWrite   = 0x40000000
	genericRead    = 0x80000000

	// writeMask is every right that lets a principal change the file's
	// content or who may: data, append, delete, the DACL, the owner.
	writeMask = fileWriteData | fileAppendData | accessDelete | writeDAC | writeOwner | genericAll | genericWrite
	// readMask is every right that lets a principal read the content.
	readMask = fileReadData | genericRead | genericAll
)

// aceEntry is one ACE of a file's DACL.
type aceEntry struct {
	typ, flags uint8
	mask       uint32
	sid        string // "S-1-…"; "" for an object ACE, whose SID is not read
}

// classifyACL applies kalab's rule to a file's owner and DACL (nullDACL:
// the file has no DACL, which grants everyone everything): no ACE may
// grant write (and, for a secret, read) to anyone but SYSTEM,
// Administrators or the owner. The fix is an icacls command that keeps
// only those.
func classifyACL(path, owner string, nullDACL bool, aces []aceEntry, secret bool) permVerdict {
	allowed := "write access for SYSTEM, Administrators and the owner only"
	if secret {
		allowed = "read and write access for SYSTEM, Administrators and the owner only, like an ssh key"
	}
	fix := func(bad string) string {
		cmd := fmt.Sprintf(`icacls "%s" /inheritance:r`, path)
		if strings.HasPrefix(bad, "S-") {
			cmd += fmt.Sprintf(` /remove:g "*%s"`, bad)
		}
		cmd += fmt.Sprintf(` /grant:r "*%s:F" "*%s:F"`, sidSystem, sidAdministrators)
		if !secret {
			cmd += fmt.Sprintf(` "*%s:RX"`, sidUsers)
		}
		return cmd
	}
	if nullDACL {
		return permVerdict{problem: "it has no DACL, which lets everyone read and write it", allowed: allowed, fix: fix("")}
	}
	for _, a := range aces {
		switch a.typ {
		case aceAccessAllowed, aceAccessAllowedObject, aceAccessAllowedCallback, aceAccessAllowedCbObject:
		default:
			continue // deny and audit entries only take rights away
		}
		if a.flags&aceInheritOnly != 0 {
			continue // applies to children, not to the file
		}
		if trustedSID(a.sid, owner) {
			continue
		}
		var rights []string
		if a.mask&readMask != 0 && secret {
			rights = append(rights, "read")
		}
		if a.mask&writeMask != 0 {
			rights = append(rights, "write")
		}
		if len(rights) > 0 {
			who := a.sid + " (" + sidName(a.sid) + ")"
			if a.sid == "" {
				who = "an object ACE's trustee"
			}
			return permVerdict{
				problem: fmt.Sprintf("an ACE grants %s to %s (mask %#x)", strings.Join(rights, " and "), who, a.mask),
				allowed: allowed,
				fix:     fix(a.sid),
			}
		}
	}
	return permVerdict{}
}

func trustedSID(sid, owner string) bool {
	return sid == sidSystem || sid == sidAdministrators || sid == sidOwnerRights || sid == owner && owner != ""
}

// sidName names the SIDs such ACEs usually hold.
func sidName(sid string) string {
	switch sid {
	case "S-1-1-0":
		return "Everyone"
	case "S-1-5-11":
		return "Authenticated Users"
	case sidUsers:
		return "BUILTIN\\Users"
	case "S-1-5-32-546":
		return "BUILTIN\\Guests"
	case "S-1-5-4":
		return "INTERACTIVE"
	case "S-1-3-0":
		return "CREATOR OWNER"
	}
	return "not SYSTEM, Administrators or the owner"
}
