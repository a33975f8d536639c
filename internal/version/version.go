// Package version says which build this is. The release build sets it:
// -ldflags "-X github.com/kalab-dev/kalab/internal/version.Version=v1.2.3 ..."
// (goreleaser.yaml); any other build (go build, go install, go run) reads
// what the Go toolchain recorded in the binary (runtime/debug.ReadBuildInfo).
package version

import (
	"runtime/debug"
	"strings"
)

// Set at link time by the release build; "dev", "none" and "unknown"
// otherwise. Version is what agents and the coordinator advertise in their
// kalab_version tag.
var (
	Version = "dev"
	Commit  = "none"
	Date    = "unknown"
)

// String is "version (commit, date)" for a release build. Otherwise it is
// built from the Go toolchain's record: the main module's version (a tag or
// pseudo-version for go install and VCS-stamped builds, "devel" otherwise)
// and, in parentheses, vcs.revision, "modified" when vcs.modified says the
// tree had uncommitted changes, vcs.time and the Go version — or "no VCS
// information" when the build was not stamped (go test, -buildvcs=false, no
// git checkout).
func String() string {
	if Version != "dev" {
		return Version + " (" + Commit + ", " + Date + ")"
	}
	bi, ok := debug.ReadBuildInfo()
	return fromBuildInfo(bi, ok)
}

// fromBuildInfo describes a build that the release did not stamp.
func fromBuildInfo(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return "devel (no build information)"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	s := map[string]string{}
	for _, kv := range bi.Settings {
		s[kv.Key] = kv.Value
	}
	var parts []string
	if rev := s["vcs.revision"]; rev != "" {
		parts = append(parts, rev[:min(len(rev), 12)])
		if s["vcs.modified"] == "true" {
			parts = append(parts, "modified")
		}
		if t := s["vcs.time"]; t != "" {
			parts = append(parts, t)
		}
	} else {
		parts = append(parts, "no VCS information")
	}
	if bi.GoVersion != "" {
		parts = append(parts, bi.GoVersion)
	}
	return v + " (" + strings.Join(parts, ", ") + ")"
}
