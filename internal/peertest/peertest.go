// Package peertest runs a peer store's own test file, from the Go module
// cache, against a store of this repository.
//
// The peer's files are copied into a temporary module and changed only in
// their package clause and import paths; a glue file of ours, beside them,
// gives the names the peer's tests call (its constructors, and fields they
// read) their meaning on our store. The temporary module requires what the
// calling module requires, at the same versions, with every module of this
// repository replaced by its local checkout, and `go test` runs there with
// GOWORK=off and GOFLAGS=-mod=mod. Nothing of the peer's is copied into this
// repository.
//
// Every Test function of the copied test files must run and pass, except
// those Skip names: each with the reason it cannot hold here, which must be
// a test the files declare.
package peertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// Peer describes one peer package and how to run its tests against ours.
type Peer struct {
	// Module and Version name the peer module, as the module proxy serves it.
	Module, Version string
	// Dir is the package directory inside the module ("" for its root).
	Dir string
	// Files are the names of the files to copy from Dir: the test files and,
	// for a package whose tests are internal to its own code (SCS's session
	// manager), its source files too. Nil copies every .go file.
	Files []string
	// Package, if set, replaces the package name in the package clauses.
	Package string
	// Imports maps import paths of the copied files to the paths that
	// replace them (a peer's store package to ours).
	Imports map[string]string
	// Glue is the path of a file of ours copied beside the peer's files,
	// resolved against the calling test's directory ("" for none).
	Glue string
	// Skip maps the name of a peer Test function to the reason it does not
	// run here: it pokes at the peer's unexported fields, or asserts what
	// our contract changes on purpose.
	Skip map[string]string
	// Env is added to the environment of `go test` (the peer's DSNs).
	Env []string
}

// Run copies p's files into a temporary module beside a copy of the calling
// module's requirements and runs their tests there. host is the directory
// of the calling module (its go.mod and go.sum seed the temporary module).
func Run(t *testing.T, host string, p Peer) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs a peer's tests in a separate module")
	}
	host, err := filepath.Abs(host)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	gomod, err := moduleFile(host, p)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(tmp, "go.mod"), gomod)
	if sum, err := os.ReadFile(filepath.Join(host, "go.sum")); err == nil {
		write(t, filepath.Join(tmp, "go.sum"), sum)
	}

	dir, err := download(tmp, p.Module+"@"+p.Version)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, filepath.FromSlash(p.Dir))
	files := p.Files
	if files == nil {
		files, err = goFiles(src)
		if err != nil {
			t.Fatal(err)
		}
	}
	var tests []string
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		out, funcs, err := rewrite(name, b, p.Package, p.Imports)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, "_test.go") {
			tests = append(tests, funcs...)
		}
		write(t, filepath.Join(tmp, name), out)
	}
	if p.Glue != "" {
		b, err := os.ReadFile(p.Glue)
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(tmp, "peerglue_test.go"), b)
	}
	var run, subSkip []string
	skipParent := ""
	for name := range p.Skip {
		parent, sub, isSub := strings.Cut(name, "/")
		if !slices.Contains(tests, parent) {
			t.Fatalf("Skip names %s, which %s@%s/%s does not declare", name, p.Module, p.Version, p.Dir)
		}
		if isSub {
			if skipParent != "" && skipParent != parent {
				t.Fatalf("Skip names subtests of %s and %s: one -skip pattern cannot hold both", skipParent, parent)
			}
			skipParent = parent
			subSkip = append(subSkip, regexp.QuoteMeta(sub))
		}
	}
	for _, name := range tests {
		if _, skipped := p.Skip[name]; !skipped {
			run = append(run, regexp.QuoteMeta(name))
		}
	}
	// Whole tests are left out of -run; subtests go to -skip, which skips
	// only a full match of every level.
	args := []string{"test", "-json", "-count=1", "-timeout=2m", "-run", "^(" + strings.Join(run, "|") + ")$"}
	if len(subSkip) > 0 {
		sort.Strings(subSkip)
		args = append(args, "-skip", "^"+regexp.QuoteMeta(skipParent)+"$/^("+strings.Join(subSkip, "|")+")$")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = tmp
	cmd.Env = append(goEnv(), p.Env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, runErr := cmd.Output()
	results, output := parse(out)
	for name, reason := range p.Skip {
		if strings.Contains(name, "/") {
			if got := results[name]; got != "" {
				t.Errorf("%s ran (%s) though it is skipped", name, got)
			} else {
				t.Logf("skipped %s: %s", name, reason)
			}
		}
	}
	for _, name := range tests {
		reason, skipped := p.Skip[name]
		switch got := results[name]; {
		case skipped && got == "":
			t.Logf("skipped %s: %s", name, reason)
		case skipped:
			t.Errorf("%s ran (%s) though it is skipped", name, got)
		case got == "pass":
			t.Logf("passed  %s", name)
		default:
			t.Errorf("%s: %q, want pass:\n%s", name, got, output[name])
		}
	}
	if runErr != nil {
		t.Errorf("go test in %s: %v\n%s%s", tmp, runErr, stderr.Bytes(), output[""])
	}
	t.Logf("%s@%s/%s: %d tests, %d skipped, in %v", p.Module, p.Version, p.Dir,
		len(tests), len(p.Skip), time.Since(start).Round(time.Millisecond))
}

// goEnv is the environment of the inner go commands: out of any workspace,
// free to add what the copied files import to the temporary go.mod.
func goEnv() []string {
	return append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// moduleFile returns the temporary module's go.mod: the host module's
// requirements and the peer module's, and a replace of every module of this
// repository (the host's own replaces, and the host itself) by its
// directory.
func moduleFile(host string, p Peer) ([]byte, error) {
	cmd := exec.Command("go", "mod", "edit", "-json")
	cmd.Dir = host
	cmd.Env = goEnv()
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("peertest: go mod edit -json in %s: %w", host, err)
	}
	var mod struct {
		Module  struct{ Path string }
		Go      string
		Require []struct{ Path, Version string }
		Replace []struct {
			Old struct{ Path string }
			New struct{ Path, Version string }
		}
	}
	if err := json.Unmarshal(out, &mod); err != nil {
		return nil, fmt.Errorf("peertest: go.mod of %s: %w", host, err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "module peertest.local/%s\n\ngo %s\n\nrequire (\n", filepath.Base(p.Module), mod.Go)
	required := map[string]bool{}
	for _, r := range mod.Require {
		fmt.Fprintf(&b, "\t%s %s\n", r.Path, r.Version)
		required[r.Path] = true
	}
	if !required[p.Module] {
		fmt.Fprintf(&b, "\t%s %s\n", p.Module, p.Version)
	}
	if !required[mod.Module.Path] {
		fmt.Fprintf(&b, "\t%s v0.0.0\n", mod.Module.Path)
	}
	fmt.Fprintf(&b, ")\n\nreplace %s => %s\n", mod.Module.Path, host)
	for _, r := range mod.Replace {
		dir := r.New.Path
		if r.New.Version != "" {
			fmt.Fprintf(&b, "replace %s => %s %s\n", r.Old.Path, dir, r.New.Version)
			continue
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(host, dir)
		}
		fmt.Fprintf(&b, "replace %s => %s\n", r.Old.Path, dir)
	}
	return b.Bytes(), nil
}

// download returns the directory of module@version in the module cache,
// fetching it through the module proxy if it is not there yet.
func download(dir, modver string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", modver)
	cmd.Dir = dir
	cmd.Env = goEnv()
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
		return "", fmt.Errorf("peertest: go mod download %s: %s", modver, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("peertest: go mod download %s: %w", modver, err)
	}
	return info.Dir, nil
}

// goFiles lists the .go files of dir.
func goFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("peertest: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".go") {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// rewrite returns src with its package name replaced by pkg (if set) and
// each import path in imports replaced, and nothing else changed, and the
// names of the Test functions it declares.
func rewrite(name string, src []byte, pkg string, imports map[string]string) ([]byte, []string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, nil, fmt.Errorf("peertest: %w", err)
	}
	type edit struct {
		from, to int
		text     string
	}
	var edits []edit
	if pkg != "" {
		edits = append(edits, edit{fset.Position(f.Name.Pos()).Offset, fset.Position(f.Name.End()).Offset, pkg})
	}
	for _, imp := range f.Imports {
		path := strings.Trim(imp.Path.Value, "\"`")
		if to, ok := imports[path]; ok {
			edits = append(edits, edit{fset.Position(imp.Path.Pos()).Offset, fset.Position(imp.Path.End()).Offset, `"` + to + `"`})
		}
	}
	sort.Slice(edits, func(i, j int) bool { return edits[i].from > edits[j].from })
	out := slices.Clone(src)
	for _, e := range edits {
		out = slices.Concat(out[:e.from], []byte(e.text), out[e.to:])
	}
	var tests []string
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && isTest(fn) {
			tests = append(tests, fn.Name.Name)
		}
	}
	return out, tests, nil
}

// isTest reports whether fn is a test function: TestXxx(t *testing.T).
func isTest(fn *ast.FuncDecl) bool {
	name := fn.Name.Name
	if !strings.HasPrefix(name, "Test") || name == "TestMain" {
		return false
	}
	if rest := name[len("Test"):]; rest != "" && rest[0] >= 'a' && rest[0] <= 'z' {
		return false
	}
	params := fn.Type.Params.List
	if len(params) != 1 {
		return false
	}
	star, ok := params[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	sel, ok := star.X.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "T"
}

// parse reads `go test -json` output: each test's and subtest's final
// action (pass, fail, skip), and each top-level test's output (under "",
// the output of the build and of the package outside any test).
func parse(out []byte) (map[string]string, map[string]string) {
	results := map[string]string{}
	output := map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var ev struct{ Action, Test, Output string }
		if err := dec.Decode(&ev); err != nil {
			break
		}
		top, _, _ := strings.Cut(ev.Test, "/")
		switch ev.Action {
		case "output", "build-output":
			output[top] += ev.Output
		case "pass", "fail", "skip":
			results[ev.Test] = ev.Action
		}
	}
	return results, output
}

// WithSearchPath returns the PostgreSQL connection string dsn (a URL or
// key=value pairs) with its search_path set to schema, so that a peer's
// tests, which use unqualified table names, work in a schema of their own.
func WithSearchPath(dsn, schema string) (string, error) {
	if !strings.Contains(dsn, "://") {
		return dsn + " search_path=" + schema, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("peertest: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
