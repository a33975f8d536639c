package main

import (
	"os"
	"strings"
	"testing"

	"github.com/kalab-dev/kalab/internal/experiment"
)

// TestInstallGuideConfig: the first cross-OS experiment docs/install.md
// shows is configs/cross-os.toml word for word, and the file validates with
// Linux, Windows and macOS servers.
func TestInstallGuideConfig(t *testing.T) {
	doc, err := os.ReadFile("../docs/install.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../configs/cross-os.toml")
	if err != nil {
		t.Fatal(err)
	}
	var indented []string
	for l := range strings.Lines(string(src)) {
		if strings.TrimSpace(l) == "" {
			indented = append(indented, l)
		} else {
			indented = append(indented, "   "+l)
		}
	}
	if !strings.Contains(string(doc), "```toml\n"+strings.Join(indented, "")+"   ```") {
		t.Error("docs/install.md §9 does not show configs/cross-os.toml as it is: copy the file into the guide")
	}
	_, cells, err := experiment.LoadPlan("../configs/cross-os.toml")
	if err != nil {
		t.Fatal(err)
	}
	oses := map[string]int{}
	for _, c := range cells {
		oses[c.OS]++
	}
	if len(cells) != 12 || oses["linux"] != 4 || oses["windows"] != 4 || oses["darwin"] != 4 {
		t.Errorf("cross-os.toml: %d cells %v; want 4 per server OS (linux, windows, darwin)", len(cells), oses)
	}
}
