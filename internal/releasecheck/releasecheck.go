// Package releasecheck verifies what goreleaser wrote into dist/ (see
// goreleaser.yaml and scripts/release-check): one archive per OS × arch
// (zip for Windows, tar.gz elsewhere) holding both binaries, README.md,
// LICENSE, docs/install.md and configs/, each listed with its SHA-256 in
// checksums.txt.
package releasecheck

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Targets are the release's OS × arch pairs.
var Targets = []struct{ OS, Arch string }{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
}

// ChecksumsFile is checksum.name_template in goreleaser.yaml.
const ChecksumsFile = "checksums.txt"

// Ext is the archive format per OS (format_overrides in goreleaser.yaml).
func Ext(goos string) string {
	if goos == "windows" {
		return ".zip"
	}
	return ".tar.gz"
}

// WantFiles are the entries every archive must hold for goos; configs/
// must hold at least one file besides.
func WantFiles(goos string) []string {
	exe := ""
	if goos == "windows" {
		exe = ".exe"
	}
	return []string{"agent" + exe, "coordinator" + exe, "README.md", "LICENSE", "docs/install.md"}
}

// Archive finds the one archive of a target in dir
// (kalab_<version>_<os>_<arch><ext>).
func Archive(dir, goos, goarch string) (string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "kalab_*_"+goos+"_"+goarch+Ext(goos)))
	if err != nil {
		return "", err
	}
	if len(m) != 1 {
		return "", fmt.Errorf("%s/%s: want one kalab_*_%s_%s%s in %s, found %d", goos, goarch, goos, goarch, Ext(goos), dir, len(m))
	}
	return m[0], nil
}

// Verify checks dir and returns every problem found, joined.
func Verify(dir string) error {
	var errs []error
	sums, err := readChecksums(filepath.Join(dir, ChecksumsFile))
	if err != nil {
		errs = append(errs, err)
	}
	archives, _ := filepath.Glob(filepath.Join(dir, "kalab_*.tar.gz"))
	zips, _ := filepath.Glob(filepath.Join(dir, "kalab_*.zip"))
	archives = append(archives, zips...)
	if len(archives) != len(Targets) {
		errs = append(errs, fmt.Errorf("%s: %d archives, want %d (one per OS × arch): %q", dir, len(archives), len(Targets), names(archives)))
	}
	for _, tg := range Targets {
		path, err := Archive(dir, tg.OS, tg.Arch)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		base := filepath.Base(path)
		if sums != nil {
			got, err := fileSHA256(path)
			switch {
			case err != nil:
				errs = append(errs, err)
			case sums[base] == "":
				errs = append(errs, fmt.Errorf("%s: not listed in %s", base, ChecksumsFile))
			case sums[base] != got:
				errs = append(errs, fmt.Errorf("%s: sha256 %s, %s says %s", base, got, ChecksumsFile, sums[base]))
			}
		}
		entries, err := List(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, want := range WantFiles(tg.OS) {
			if !slices.Contains(entries, want) {
				errs = append(errs, fmt.Errorf("%s: no %s (has %q)", base, want, entries))
			}
		}
		if !slices.ContainsFunc(entries, func(e string) bool { return strings.HasPrefix(e, "configs/") && !strings.HasSuffix(e, "/") }) {
			errs = append(errs, fmt.Errorf("%s: no configs/ files (has %q)", base, entries))
		}
	}
	return errors.Join(errs...)
}

func names(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

// readChecksums parses sha256sum's format: "<hex>  <name>" per line.
func readChecksums(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checksums: %w", err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 {
			continue
		}
		if len(fs) != 2 || len(fs[0]) != sha256.Size*2 {
			return nil, fmt.Errorf("%s:%d: %q is not \"<sha256>  <file>\"", path, n, sc.Text())
		}
		sums[strings.TrimPrefix(fs[1], "*")] = strings.ToLower(fs[0])
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("checksums %s: %w", path, err)
	}
	if len(sums) == 0 {
		return nil, fmt.Errorf("checksums %s: empty", path)
	}
	return sums, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("checksum of %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("checksum of %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// List returns the entry names of a .zip or .tar.gz archive, with "./"
// and a leading "/" removed.
func List(path string) ([]string, error) {
	var out []string
	add := func(name string) {
		out = append(out, strings.TrimPrefix(strings.TrimPrefix(name, "./"), "/"))
	}
	switch {
	case strings.HasSuffix(path, ".zip"):
		zr, err := zip.OpenReader(path)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			add(f.Name)
		}
	case strings.HasSuffix(path, ".tar.gz"):
		err := walkTarGz(path, func(h *tar.Header, _ io.Reader) error { add(h.Name); return nil })
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%s: not a .zip or .tar.gz", path)
	}
	return out, nil
}

// Extract writes one entry of a .zip or .tar.gz archive to dst (mode 0755,
// for binaries).
func Extract(path, name, dst string) error {
	write := func(r io.Reader) error {
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if strings.HasSuffix(path, ".zip") {
		zr, err := zip.OpenReader(path)
		if err != nil {
			return fmt.Errorf("open %s: %w", path, err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			if f.Name == name {
				rc, err := f.Open()
				if err != nil {
					return fmt.Errorf("%s: %s: %w", path, name, err)
				}
				defer rc.Close()
				return write(rc)
			}
		}
		return fmt.Errorf("%s: no %s", path, name)
	}
	found := false
	err := walkTarGz(path, func(h *tar.Header, r io.Reader) error {
		if found || strings.TrimPrefix(h.Name, "./") != name {
			return nil
		}
		found = true
		return write(r)
	})
	if err == nil && !found {
		err = fmt.Errorf("%s: no %s", path, name)
	}
	return err
}

func walkTarGz(path string, fn func(*tar.Header, io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: gzip: %w", path, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: tar: %w", path, err)
		}
		if err := fn(h, tr); err != nil {
			return fmt.Errorf("%s: %s: %w", path, h.Name, err)
		}
	}
}
