package agentd

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestFilePermUnix: the key (a secret) must be owner-only; agent.toml and
// coordinator.pub must not be writable by group or others.
func TestFilePermUnix(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix modes; Windows ACLs are tested by TestClassifyACL")
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		mode   os.FileMode
		secret bool
		want   string // "" = accepted, else in the problem
		fix    string
	}{
		{0o600, true, "", ""},
		{0o400, true, "", ""},
		{0o640, true, "mode 0640 lets group or others read it", "chmod 600 "},
		{0o604, true, "mode 0604 lets group or others read it", "chmod 600 "},
		{0o660, true, "read and write it", "chmod 600 "},
		{0o602, true, "mode 0602 lets group or others write it", "chmod 600 "},
		{0o644, false, "", ""},
		{0o600, false, "", ""},
		{0o444, false, "", ""},
		{0o664, false, "mode 0664 lets group or others write it", "chmod 644 "},
		{0o646, false, "mode 0646 lets group or others write it", "chmod 644 "},
		{0o777, false, "mode 0777 lets group or others write it", "chmod 644 "},
	} {
		p := filepath.Join(dir, "f")
		os.Remove(p)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, tc.mode); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		v, err := filePermProblem(p, fi, tc.secret)
		if err != nil {
			t.Fatal(err)
		}
		if tc.want == "" {
			if v.problem != "" {
				t.Errorf("mode %04o secret=%v refused: %+v", tc.mode, tc.secret, v)
			}
			continue
		}
		if !strings.Contains(v.problem, tc.want) || v.fix != tc.fix+p || v.allowed == "" {
			t.Errorf("mode %04o secret=%v: %+v, want %q and fix %q", tc.mode, tc.secret, v, tc.want, tc.fix+p)
		}
	}
	if got := shellQuote("/etc/kalab/it's here.key"); got != `'/etc/kalab/it'\''s here.key'` {
		t.Errorf("shellQuote: %s", got)
	}
}

// TestClassifyACL: the Windows rule, on plain values — only SYSTEM,
// Administrators and the owner may write (and, for a secret, read).
func TestClassifyACL(t *testing.T) {
	const owner = "S-1-5-21-1-2-3-1001"
	allow := func(sid string, mask uint32) aceEntry { return aceEntry{typ: aceAccessAllowed, mask: mask, sid: sid} }
	const (
		full   = 0x1f01ff // FILE_ALL_ACCESS
		modify = 0x1301bf
		readEx = 0x1200a9 // read & execute
	)
	base := []aceEntry{allow(sidSystem, full), allow(sidAdministrators, full), allow(owner, full)}
	for _, tc := range []struct {
		name   string
		aces   []aceEntry
		null   bool
		secret bool
		want   string // "" = accepted
	}{
		{"owner, SYSTEM, Administrators", base, false, true, ""},
		{"users may read the config", append(base, allow(sidUsers, readEx)), false, false, ""},
		{"users may not read the key", append(base, allow(sidUsers, readEx)), false, true, "grants read to S-1-5-32-545 (BUILTIN\\Users"},
		{"authenticated users may modify", append(base, allow("S-1-5-11", modify)), false, false, "grants write to S-1-5-11 (Authenticated Users"},
		{"everyone generic write", append(base, allow("S-1-1-0", genericWrite)), false, false, "grants write to S-1-1-0 (Everyone"},
		{"everyone generic all on the key", append(base, allow("S-1-1-0", genericAll)), false, true, "grants read and write to S-1-1-0"},
		{"write-DAC is write", append(base, allow("S-1-5-32-545", writeDAC)), false, false, "grants write"},
		{"deny entries are ignored", append(base, aceEntry{typ: 0x1, mask: full, sid: "S-1-1-0"}), false, true, ""},
		{"inherit-only entries are ignored", append(base, aceEntry{typ: aceAccessAllowed, flags: aceInheritOnly, mask: full, sid: "S-1-3-0"}), false, true, ""},
		{"owner rights", append(base, allow(sidOwnerRights, full)), false, true, ""},
		{"another user", append(base, allow("S-1-5-21-1-2-3-1002", fileWriteData)), false, false, "grants write to S-1-5-21-1-2-3-1002"},
		{"object ACE granting write", append(base, aceEntry{typ: aceAccessAllowedObject, mask: fileAppendData}), false, false, "grants write to an object ACE's trustee"},
		{"no DACL", nil, true, false, "no DACL"},
		{"empty DACL: nobody but … nobody", nil, false, true, ""},
	} {
		v := classifyACL(`C:\kalab\kalab.key`, owner, tc.null, tc.aces, tc.secret)
		if tc.want == "" {
			if v.problem != "" {
				t.Errorf("%s: refused: %+v", tc.name, v)
			}
			continue
		}
		if !strings.Contains(v.problem, tc.want) || !strings.HasPrefix(v.fix, `icacls "C:\kalab\kalab.key" /inheritance:r`) ||
			!strings.Contains(v.fix, `/grant:r "*S-1-5-18:F" "*S-1-5-32-544:F"`) || v.allowed == "" {
			t.Errorf("%s: %+v, want %q", tc.name, v, tc.want)
		}
		if strings.Contains(v.fix, "S-1-5-32-545:RX") == tc.secret {
			t.Errorf("%s: fix %q: users may read a config, never the key", tc.name, v.fix)
		}
	}
}
