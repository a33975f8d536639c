package codecheck

import (
	"bufio"
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const module = "github.com/kalab-dev/kalab"

// root is the module root (this package is internal/codecheck).
func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// goFiles lists the repository's .go files under dirs (relative to root).
func goFiles(t *testing.T, dirs ...string) []string {
	t.Helper()
	var out []string
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(root(t), d), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() && (e.Name() == "testdata" || strings.HasPrefix(e.Name(), ".")) && p != filepath.Join(root(t), d) {
				return filepath.SkipDir
			}
			if !e.IsDir() && strings.HasSuffix(p, ".go") {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestImportRules: the result schema sits below its writers and readers,
// and the mains link only what they use (go list -deps, transitive).
func TestImportRules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("skipping: the go command is not on PATH")
	}
	forbidden := map[string][]string{
		"internal/report":     {"internal/experiment", "internal/role", "internal/agentd"},
		"internal/experiment": {"internal/role", "internal/agentd"},
		"internal/results":    {"internal/experiment", "internal/report", "internal/role", "internal/cluster"},
		"coordinator":         {"internal/agentd", "internal/role"},
		"internal/advise":     {"internal/experiment", "internal/role", "internal/agentd", "internal/cluster"},
	}
	for pkg, bad := range forbidden {
		cmd := exec.Command("go", "list", "-deps", "-json=ImportPath", "./"+pkg)
		cmd.Dir = root(t)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		deps := map[string]bool{}
		dec := json.NewDecoder(bytes.NewReader(out))
		for dec.More() {
			var p struct{ ImportPath string }
			if err := dec.Decode(&p); err != nil {
				t.Fatal(err)
			}
			deps[p.ImportPath] = true
		}
		if !deps[module+"/"+pkg] {
			t.Fatalf("go list -deps %s did not list the package itself", pkg)
		}
		for _, b := range bad {
			if deps[module+"/"+b] {
				t.Errorf("%s depends on %s", pkg, b)
			}
		}
	}
}

// TestThinMains: the commands' files only declare flags and call packages.
func TestThinMains(t *testing.T) {
	for _, f := range goFiles(t, "coordinator", "agent") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(b, []byte("\n")); n >= 120 {
			t.Errorf("%s has %d lines; a main's file stays under 120 (move the logic into internal/)", rel(t, f), n)
		}
	}
}

// TestNoOutsideCitations: code cites only what the repository ships
// (docs/…), and names the published Windows measurement by its source.
func TestNoOutsideCitations(t *testing.T) {
	seed := regexp.MustCompile(`(?i)seed`)
	for _, f := range goFiles(t, "internal", "coordinator", "agent") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		test := strings.HasSuffix(f, "_test.go")
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if !test && (strings.Contains(line, "reference/") || strings.Contains(line, "../shared")) {
				t.Errorf("%s:%d cites a file outside the repository: %s", rel(t, f), n, strings.TrimSpace(line))
			}
			if !strings.HasSuffix(f, "codecheck_test.go") && seed.MatchString(line) {
				t.Errorf("%s:%d says %q: name the published measurement's source instead", rel(t, f), n, strings.TrimSpace(line))
			}
		}
	}
}

// TestShippedDocsSelfContained: docs, configs and scripts never point at
// files outside the repository, and nothing under internal/, coordinator/
// or agent/ (test data included) calls the published measurement "seed".
func TestShippedDocsSelfContained(t *testing.T) {
	outside := regexp.MustCompile(`\.\./shared|shared/reference|reference/[a-z-]+\.md`)
	seed := regexp.MustCompile(`(?i)\bseed`)
	walk := func(dir string, check func(path string, b []byte)) {
		err := filepath.WalkDir(filepath.Join(root(t), dir), func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			check(p, b)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"docs", "configs", "scripts", "README.md", "goreleaser.yaml"} {
		walk(d, func(p string, b []byte) {
			if m := outside.Find(b); m != nil {
				t.Errorf("%s points outside the repository: %q", rel(t, p), m)
			}
		})
	}
	for _, d := range []string{"internal", "coordinator", "agent"} {
		walk(d, func(p string, b []byte) {
			if strings.HasSuffix(p, "codecheck_test.go") {
				return
			}
			if m := seed.Find(b); m != nil {
				t.Errorf("%s says %q: name the published measurement's source instead", rel(t, p), m)
			}
		})
	}
}

// TestDocumented: every package has a doc comment and every exported
// identifier (type, function, method, constant, variable, struct field of
// an exported type) has one, in non-test files.
func TestDocumented(t *testing.T) {
	pkgDoc := map[string]bool{}
	for _, f := range goFiles(t, "internal", "coordinator", "agent") {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, f, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Dir(f)
		if _, ok := pkgDoc[dir]; !ok {
			pkgDoc[dir] = false
		}
		if file.Doc != nil {
			pkgDoc[dir] = true
		}
		if file.Name.Name == "main" {
			continue
		}
		for _, miss := range undocumented(fset, file) {
			t.Errorf("%s:%d: exported %s has no comment", rel(t, f), fset.Position(miss.Pos()).Line, miss.Name)
		}
	}
	for dir, ok := range pkgDoc {
		if !ok {
			t.Errorf("package %s has no package comment", rel(t, dir))
		}
	}
}

// undocumented returns the exported identifiers of a file without a doc
// comment. A grouped const/var/type declaration may be documented once
// for the group; a field or constant is documented by its own comment or
// a trailing line comment.
func undocumented(fset *token.FileSet, f *ast.File) []*ast.Ident {
	var out []*ast.Ident
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() || d.Doc != nil {
				continue
			}
			if d.Recv != nil && !exportedRecv(d.Recv) {
				continue
			}
			if d.Recv != nil && isStdMethod(d.Name.Name) {
				continue
			}
			out = append(out, d.Name)
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if !s.Name.IsExported() {
						continue
					}
					if d.Doc == nil && s.Doc == nil && s.Comment == nil {
						out = append(out, s.Name)
					}
					if st, ok := s.Type.(*ast.StructType); ok {
						out = append(out, undocumentedFields(fset, st)...)
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() && s.Doc == nil && s.Comment == nil && d.Doc == nil {
							out = append(out, n)
						}
					}
				}
			}
		}
	}
	return out
}

// undocumentedFields: an exported field needs its own comment, or must sit
// on the line right under a documented field (one comment above a run of
// consecutive fields: "// Server and Client are …").
func undocumentedFields(fset *token.FileSet, st *ast.StructType) []*ast.Ident {
	var out []*ast.Ident
	prevDocumented, prevLine := false, -10
	for _, fl := range st.Fields.List {
		line := fset.Position(fl.Pos()).Line
		documented := fl.Doc != nil || fl.Comment != nil || (prevDocumented && line == prevLine+1)
		for _, n := range fl.Names {
			if n.IsExported() && !documented {
				out = append(out, n)
			}
		}
		prevDocumented, prevLine = documented, fset.Position(fl.End()).Line
	}
	return out
}

func exportedRecv(r *ast.FieldList) bool {
	if len(r.List) == 0 {
		return false
	}
	t := r.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if ix, ok := t.(*ast.IndexExpr); ok {
		t = ix.X
	}
	id, ok := t.(*ast.Ident)
	return ok && id.IsExported()
}

// isStdMethod: methods that implement a standard interface say what they
// do by their name (String, Error, MarshalJSON, …).
func isStdMethod(name string) bool {
	switch name {
	case "String", "Error", "Unwrap", "MarshalJSON", "UnmarshalJSON", "MarshalText", "UnmarshalText", "Is", "As", "Len", "Less", "Swap":
		return true
	}
	return false
}

func rel(t *testing.T, p string) string {
	r, err := filepath.Rel(root(t), p)
	if err != nil {
		return p
	}
	return r
}
