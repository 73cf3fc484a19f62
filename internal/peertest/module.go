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
	"slices"
	"sort"
	"strings"
)

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
