package releasecheck

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// EnvDist names the dist/ directory to verify; scripts/release-check sets
// it after goreleaser ran. Unset, TestDist skips (go test ./... has no
// release build to look at).
const EnvDist = "KALAB_DIST"

// TestDist is the acceptance check of a real goreleaser snapshot: 6
// archives and checksums, the windows/amd64 zip holding agent.exe and
// coordinator.exe, and — for the archive of this machine's OS/arch — both
// binaries printing the version goreleaser injected instead of "dev".
func TestDist(t *testing.T) {
	dir := os.Getenv(EnvDist)
	if dir == "" {
		t.Skipf("%s is not set: scripts/release-check sets it after goreleaser builds dist/", EnvDist)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("%s=%s: %v", EnvDist, dir, err)
	}
	if err := Verify(dir); err != nil {
		t.Fatalf("dist %s:\n%v", dir, err)
	}

	win, err := Archive(dir, "windows", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := List(win)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"agent.exe", "coordinator.exe"} {
		if !slices.Contains(entries, want) {
			t.Errorf("%s lacks %s: %q", filepath.Base(win), want, entries)
		}
	}
	t.Logf("%s: %q", filepath.Base(win), entries)

	if !slices.ContainsFunc(Targets, func(tg struct{ OS, Arch string }) bool {
		return tg.OS == runtime.GOOS && tg.Arch == runtime.GOARCH
	}) {
		return
	}
	own, err := Archive(dir, runtime.GOOS, runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	exe := ""
	if runtime.GOOS == "windows" {
		exe = ".exe"
	}
	for _, bin := range []string{"agent", "coordinator"} {
		dst := filepath.Join(t.TempDir(), bin+exe)
		if err := Extract(own, bin+exe, dst); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(dst, "version").CombinedOutput()
		if err != nil {
			t.Fatalf("%s version: %v\n%s", bin, err, out)
		}
		v := strings.TrimSpace(string(out))
		t.Logf("%s", v)
		if !strings.HasPrefix(v, bin+" ") || strings.Contains(v, "dev (") || strings.Contains(v, "none") || strings.Contains(v, "unknown") {
			t.Errorf("%s version = %q: want the version, commit and date from the release build's ldflags", bin, v)
		}
	}
}

// fakeDist writes a dist/ like goreleaser's; mutate changes one target's
// archive entries before it is written.
func fakeDist(t *testing.T, mutate func(goos, goarch string, files map[string]string)) string {
	t.Helper()
	dir := t.TempDir()
	var sums strings.Builder
	for _, tg := range Targets {
		files := map[string]string{"configs/quick.toml": "name = \"quick\"\n"}
		for _, f := range WantFiles(tg.OS) {
			files[f] = "content of " + f
		}
		if mutate != nil {
			mutate(tg.OS, tg.Arch, files)
		}
		path := filepath.Join(dir, fmt.Sprintf("kalab_0.0.1-next_%s_%s%s", tg.OS, tg.Arch, Ext(tg.OS)))
		if tg.OS == "windows" {
			writeZip(t, path, files)
		} else {
			writeTarGz(t, path, files)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), filepath.Base(path))
	}
	if err := os.WriteFile(filepath.Join(dir, ChecksumsFile), []byte(sums.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func writeZip(t *testing.T, path string, files map[string]string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, name := range sortedKeys(files) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(files[name]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func writeTarGz(t *testing.T, path string, files map[string]string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for _, name := range sortedKeys(files) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(files[name])), Typeflag: tar.TypeReg})
		tw.Write([]byte(files[name]))
	}
	tw.Close()
	gz.Close()
	f.Close()
}

func TestVerify(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) string
		want  string // substring of the error; "" for none
	}{
		{"complete", func(t *testing.T) string { return fakeDist(t, nil) }, ""},
		{"windows zip without coordinator.exe", func(t *testing.T) string {
			return fakeDist(t, func(goos, goarch string, f map[string]string) {
				if goos == "windows" && goarch == "amd64" {
					delete(f, "coordinator.exe")
				}
			})
		}, "kalab_0.0.1-next_windows_amd64.zip: no coordinator.exe"},
		{"tar without LICENSE", func(t *testing.T) string {
			return fakeDist(t, func(goos, _ string, f map[string]string) {
				if goos == "darwin" {
					delete(f, "LICENSE")
				}
			})
		}, "darwin_arm64.tar.gz: no LICENSE"},
		{"no configs", func(t *testing.T) string {
			return fakeDist(t, func(goos, goarch string, f map[string]string) {
				if goos == "linux" && goarch == "arm64" {
					delete(f, "configs/quick.toml")
				}
			})
		}, "linux_arm64.tar.gz: no configs/ files"},
		{"missing archive", func(t *testing.T) string {
			d := fakeDist(t, nil)
			os.Remove(filepath.Join(d, "kalab_0.0.1-next_windows_arm64.zip"))
			return d
		}, "5 archives, want 6"},
		{"tampered archive", func(t *testing.T) string {
			d := fakeDist(t, nil)
			os.WriteFile(filepath.Join(d, "kalab_0.0.1-next_linux_amd64.tar.gz"), []byte("x"), 0o644)
			return d
		}, "linux_amd64.tar.gz: sha256"},
		{"no checksums", func(t *testing.T) string {
			d := fakeDist(t, nil)
			os.Remove(filepath.Join(d, ChecksumsFile))
			return d
		}, "checksums:"},
		{"bad checksums line", func(t *testing.T) string {
			d := fakeDist(t, nil)
			os.WriteFile(filepath.Join(d, ChecksumsFile), []byte("abc kalab.tar.gz\n"), 0o644)
			return d
		}, "is not \"<sha256>  <file>\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.setup(t))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestExtract(t *testing.T) {
	d := fakeDist(t, nil)
	for _, tg := range []struct{ os, name string }{{"linux", "agent"}, {"windows", "coordinator.exe"}} {
		a, err := Archive(d, tg.os, "amd64")
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(t.TempDir(), "x")
		if err := Extract(a, tg.name, dst); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(dst); string(b) != "content of "+tg.name {
			t.Errorf("%s: extracted %q", tg.name, b)
		}
		if err := Extract(a, "nope", dst); err == nil {
			t.Errorf("%s: extracting a missing entry worked", a)
		}
	}
}
