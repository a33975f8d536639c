package selfusage

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// TestReadFollowsTheProcess checks that each reading moves with what the
// process really does: a goroutine started, a file opened, memory touched,
// CPU burnt.
func TestReadFollowsTheProcess(t *testing.T) {
	before := Read()
	stop := make(chan struct{})
	started := make(chan struct{})
	go func() { close(started); <-stop }()
	<-started
	f, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	after := Read()
	close(stop)
	runtime.KeepAlive(buf)
	if after.Goroutines <= before.Goroutines {
		t.Errorf("goroutines %d → %d with one more running", before.Goroutines, after.Goroutines)
	}
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skipf("descriptors and memory are unknown on %s", runtime.GOOS)
	}
	if after.OpenFDs != before.OpenFDs+1 {
		t.Errorf("open descriptors %d → %d with one more file open", before.OpenFDs, after.OpenFDs)
	}
	if after.PeakRSSBytes < before.PeakRSSBytes+32<<20 {
		t.Errorf("peak RSS %d → %d after touching 64 MiB", before.PeakRSSBytes, after.PeakRSSBytes)
	}
	if after.CPUNS < before.CPUNS+int64(40*time.Millisecond) {
		t.Errorf("CPU %d → %d ns after a 50 ms busy loop", before.CPUNS, after.CPUNS)
	}
	if runtime.GOOS == "linux" && (after.RSSBytes < 32<<20 || after.RSSBytes > after.PeakRSSBytes) {
		t.Errorf("RSS %d, peak %d: want ≥ 32 MiB and ≤ the peak", after.RSSBytes, after.PeakRSSBytes)
	}
}
