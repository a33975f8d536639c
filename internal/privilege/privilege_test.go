package privilege

import (
	"os"
	"runtime"
	"testing"
)

func TestElevated(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("token elevation cannot be cross-checked here")
	}
	if got, want := Elevated(), os.Geteuid() == 0; got != want {
		t.Fatalf("Elevated() = %v, euid %d", got, os.Geteuid())
	}
}
