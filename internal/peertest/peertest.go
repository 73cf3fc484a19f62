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
// a test the files declare. A peer module that cannot be downloaded skips
// the test, or fails it in CI (internal/testenv).
package peertest

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore/internal/testenv"
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
	// our contract changes on purpose. A name may be a subtest,
	// "TestX/sub_name" (all of one parent); its parent must exist, the
	// subtest itself cannot be checked for.
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
		testenv.Unavailable(t, "the Go module proxy (for "+p.Module+"@"+p.Version+")", "let go mod download reach it", err)
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
	for _, name := range slices.Sorted(maps.Keys(p.Skip)) {
		if reason := p.Skip[name]; strings.Contains(name, "/") {
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
