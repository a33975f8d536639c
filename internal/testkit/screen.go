package testkit

import (
	"regexp"
	"strings"
)

// ansi matches the terminal control sequences progress bars and watch's
// status line write.
var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// Screen is what a pseudo-terminal's output reads as once its control
// sequences are dropped and each carriage return starts a new line.
func Screen(out string) string {
	return ansi.ReplaceAllString(strings.ReplaceAll(out, "\r", "\n"), "")
}
