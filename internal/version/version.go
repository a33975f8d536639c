// Package version holds the build's version, set by the release build:
// -ldflags "-X github.com/kalab-dev/kalab/internal/version.Version=v1.2.3 ..."
package version

// Set at link time; "dev" for go run / go build.
var (
	Version = "dev"
	Commit  = "none"
	Date    = "unknown"
)

// String is "version (commit, date)".
func String() string { return Version + " (" + Commit + ", " + Date + ")" }
