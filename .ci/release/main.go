// Command releasecheck checks that the committed tree works for a user as a
// release would: every module of go.work, served at one version from a
// module proxy on the file system, is fetched with `go get` into a module
// outside the repository and built there, with no workspace and no replace
// directive to help it. docs/releasing.md says when to run it and how a
// release is tagged.
//
// It exports HEAD with git archive (uncommitted files never leak in), lists
// the modules of the exported go.work, writes each one's .info, .mod and .zip
// into a proxy directory, and then, for each module M:
//
//   - checks that GOWORK=off go mod tidy -diff is clean in M's directory;
//   - in a new module with GOWORK=off and GOFLAGS=-mod=mod, runs go get
//     M@version through GOPROXY=file://<proxy>,<the machine's GOPROXY>, with
//     the repository's modules left out of the checksum database (they are
//     not published) and every other module checked against it;
//   - builds there one program importing every package of M a user can
//     import, and every command of M;
//   - if testdata/<M's directory>/main.go exists (testdata/root for the root
//     module), builds it, with testdata/common.go, into that program and runs
//     it: it exercises the store (commit, find, delete) without a database
//     where it can, and on each database whose DSN variable is set; with
//     CI=true the variables the tests read are set to the tests' defaults, so
//     every database of make test runs;
//   - checks, from the build information of the binaries, that every module
//     a user's build links is at the version the workspace selects: a user
//     of M must get what M's tests ran.
//
// A module added to go.work is picked up without a change here; it gets the
// get, build and version checks, and runs a program once its directory has
// one under testdata.
//
// The builds use -race: the programs' runs are checked for races, and the
// dependencies come compiled from the build cache of `go test -race`, which
// make test runs first, so a warm check compiles only this repository's
// packages. For the same reason the user modules share the machine's module
// cache (-modcache chooses another, which then reads the machine's as a
// proxy). The repository's modules are removed from that cache before the
// check, so that it extracts what it just served and not what an earlier run
// served at the same version, and again after it, so that the cache holds
// unpublished modules only while a check runs; a lock keeps two checks from
// doing so at once.
package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
)

var (
	repoFlag     = flag.String("repo", ".", "the git repository whose HEAD is checked")
	versionFlag  = flag.String("version", "", "the version every module is served at (default: the one the go.mod files require of their siblings)")
	keepFlag     = flag.Bool("keep", false, "keep the temporary directory (exported tree, proxy, user modules)")
	verboseFlag  = flag.Bool("v", false, "print every command with the time it took")
	jobsFlag     = flag.Int("j", min(2, runtime.NumCPU()), "modules checked at once")
	modcacheFlag = flag.String("modcache", "", "module cache of the user modules (default: the machine's, go env GOMODCACHE)")
)

// testDSNs are the DSN variables the tests read, with the defaults they use:
// the databases of `make test` (.ci/services).
var testDSNs = []struct{ name, def string }{
	{"SESSIONSTORE_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"},
	{"SESSIONSTORE_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/test?parseTime=true&loc=UTC"},
	{"SESSIONSTORE_REDIS_ADDR", "127.0.0.1:6379"},
}

// commandTimeout bounds every command the check runs, so that a hung
// download or program fails the check instead of stalling make test.
const commandTimeout = 15 * time.Minute

// interrupted is cancelled by SIGINT or SIGTERM: the running command is
// killed and the check cleans up (temporary directory, module cache) before
// it exits.
var interrupted context.Context

func main() {
	log.SetFlags(0)
	log.SetPrefix("release-check: ")
	flag.Parse()
	var stop context.CancelFunc
	interrupted, stop = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run()
	stop()
	if err != nil {
		log.Fatal(err)
	}
}

// mod is a module of the exported go.work.
type mod struct {
	Path  string
	Dir   string // in the exported tree
	rel   string // Dir relative to the tree, "." for the root
	gomod []byte
}

// name is the module's directory in the tree ("root" for the root module):
// the name of its user module and of its program under testdata.
func (m mod) name() string {
	if m.rel == "." {
		return "root"
	}
	return m.rel
}

type checker struct {
	version  string
	tmp      string
	src      string // the exported tree
	proxy    string
	mods     []mod
	ours     map[string]bool   // module paths of the repository
	tested   map[string]string // module path -> version the workspace selects
	devEnv   []string          // a developer's in the exported tree, without the workspace
	userEnv  []string
	failures []string
}

func run() error {
	start := time.Now()
	c := &checker{ours: map[string]bool{}}
	repo, err := filepath.Abs(*repoFlag)
	if err != nil {
		return err
	}
	c.tmp, err = os.MkdirTemp("", "sessionstore-release-")
	if err != nil {
		return err
	}
	if *keepFlag {
		log.Printf("keeping %s", c.tmp)
	} else {
		defer os.RemoveAll(c.tmp)
	}

	// The committed tree, nothing else.
	c.src = filepath.Join(c.tmp, "src")
	archive := filepath.Join(c.tmp, "head.tar")
	if _, err := c.cmd(repo, nil, "git", "archive", "--format=tar", "--output="+archive, "HEAD"); err != nil {
		return err
	}
	if err := os.Mkdir(c.src, 0o755); err != nil {
		return err
	}
	if _, err := c.cmd(c.src, nil, "tar", "-xf", archive); err != nil {
		return err
	}
	head, err := c.cmd(repo, nil, "git", "log", "-1", "--format=%H %cI", "HEAD")
	if err != nil {
		return err
	}
	commit, date, _ := strings.Cut(strings.TrimSpace(head), " ")
	commitTime, err := time.Parse(time.RFC3339, date)
	if err != nil {
		return fmt.Errorf("commit time %q: %w", date, err)
	}

	machine, err := goEnv()
	if err != nil {
		return err
	}
	wsEnv := environ(nil, "GOWORK="+filepath.Join(c.src, "go.work"), "GOFLAGS="+withoutModFlag(machine["GOFLAGS"]))
	c.devEnv = environ(nil, "GOWORK=off", "GOFLAGS="+withoutModFlag(machine["GOFLAGS"]))
	if err := c.listModules(wsEnv); err != nil {
		return err
	}
	if err := c.chooseVersion(*versionFlag); err != nil {
		return err
	}
	if err := c.listTested(wsEnv); err != nil {
		return err
	}

	c.proxy = filepath.Join(c.tmp, "proxy")
	for _, m := range c.mods {
		if err := c.serve(m, commitTime); err != nil {
			return fmt.Errorf("%s: %w", m.Path, err)
		}
	}

	modcache := *modcacheFlag
	if modcache == "" {
		modcache = machine["GOMODCACHE"]
	}
	if modcache, err = filepath.Abs(modcache); err != nil {
		return err
	}
	unlock, err := c.prepareCache(modcache)
	if err != nil {
		return err
	}
	defer unlock()

	goproxy := "file://" + c.proxy
	if machine["GOMODCACHE"] != "" && machine["GOMODCACHE"] != modcache {
		// Another cache: the machine's serves what it holds, without
		// a download (and is checked against go.sum and the
		// checksum database like any proxy).
		goproxy += ",file://" + filepath.Join(machine["GOMODCACHE"], "cache", "download")
	}
	if machine["GOPROXY"] != "" {
		goproxy += "," + machine["GOPROXY"]
	}
	if machine["GOSUMDB"] == "off" {
		log.Printf("warning: GOSUMDB=off on this machine: the dependencies are not checked against the checksum database")
	}
	// GOENV=off: a GOPRIVATE or GONOSUMDB set with go env -w cannot widen
	// what skips the checksum database (an empty variable does not override
	// the file); the file's settings the build needs are passed explicitly.
	c.userEnv = environ(testDSNNames(),
		"GOENV=off",
		"GOWORK=off",
		"GOFLAGS="+strings.TrimSpace("-mod=mod "+withoutModFlag(machine["GOFLAGS"])),
		"GOPROXY="+goproxy,
		"GONOSUMDB="+strings.Join(slices.Sorted(maps.Keys(c.ours)), ","),
		"GOPRIVATE=", "GONOPROXY=", "GOINSECURE=",
		"GOSUMDB="+machine["GOSUMDB"],
		"GOMODCACHE="+modcache,
		"GOCACHE="+machine["GOCACHE"],
		"GOPATH="+machine["GOPATH"],
		"CGO_ENABLED="+machine["CGO_ENABLED"],
		"CC="+machine["CC"],
		"GOTOOLCHAIN=local",
		// The go command indexes the packages of a module cache directory
		// once, in GOCACHE, taking path@version to be immutable. This check
		// serves a new tree at the same version on every run, so an index
		// of an earlier run would hide files added since (a package then
		// fails with "undefined" names that are there): no index.
		"GODEBUG=goindex=0",
	)

	log.Printf("HEAD %.12s: %d modules at %s", commit, len(c.mods), c.version)
	// The modules are checked -j at a time; each one's lines are printed
	// together when it is done.
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		sema = make(chan struct{}, max(1, *jobsFlag))
	)
	for _, m := range c.mods {
		wg.Go(func() {
			sema <- struct{}{}
			defer func() { <-sema }()
			if interrupted.Err() != nil {
				return
			}
			t := time.Now()
			report, err := c.check(m)
			mu.Lock()
			defer mu.Unlock()
			if interrupted.Err() != nil {
				return // whatever failed, failed because of it
			}
			status := "ok  "
			if err != nil {
				status = "FAIL"
				c.failures = append(c.failures, m.Path)
			}
			log.Printf("%s %s (%.1fs)", status, m.Path, time.Since(t).Seconds())
			for line := range strings.Lines(report) {
				log.Printf("     %s", strings.TrimRight(line, "\n"))
			}
			if err != nil {
				log.Printf("%v", err)
			}
		})
	}
	wg.Wait()
	if interrupted.Err() != nil {
		return errors.New("interrupted")
	}
	if len(c.failures) > 0 {
		slices.Sort(c.failures)
		return fmt.Errorf("%d of %d modules fail as a release (%.0fs), see above: %s",
			len(c.failures), len(c.mods), time.Since(start).Seconds(), strings.Join(c.failures, ", "))
	}
	log.Printf("every module builds for a user at %s (%.0fs)", c.version, time.Since(start).Seconds())
	return nil
}

// listModules reads the modules of the exported go.work.
func (c *checker) listModules(env []string) error {
	out, err := c.cmd(c.src, env, "go", "list", "-m", "-json")
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var m mod
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("go list -m -json: %w", err)
		}
		rel, err := filepath.Rel(c.src, m.Dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			return fmt.Errorf("module %s is outside the repository (%s)", m.Path, m.Dir)
		}
		m.rel = filepath.ToSlash(rel)
		if m.gomod, err = os.ReadFile(filepath.Join(m.Dir, "go.mod")); err != nil {
			return err
		}
		c.mods = append(c.mods, m)
		c.ours[m.Path] = true
	}
	if len(c.mods) == 0 {
		return errors.New("go.work lists no module")
	}
	return nil
}

// chooseVersion sets the version the modules are served at: the one every
// go.mod requires of its siblings, which must be the same everywhere (they
// are bumped together before a release is tagged) and must be flag if flag
// is set. With no sibling requirement at all, it is flag or v0.1.0.
func (c *checker) chooseVersion(flag string) error {
	required := map[string][]string{} // version -> the go.mod files requiring it
	for _, m := range c.mods {
		f, err := modfile.ParseLax(path.Join(m.rel, "go.mod"), m.gomod, nil)
		if err != nil {
			return err
		}
		for _, r := range f.Require {
			if c.ours[r.Mod.Path] {
				name := path.Join(m.rel, "go.mod")
				if !slices.Contains(required[r.Mod.Version], name) {
					required[r.Mod.Version] = append(required[r.Mod.Version], name)
				}
			}
		}
	}
	versions := slices.Sorted(maps.Keys(required))
	switch {
	case len(versions) > 1:
		var b strings.Builder
		for _, v := range versions {
			fmt.Fprintf(&b, "\n\t%s: %s", v, strings.Join(required[v], ", "))
		}
		return fmt.Errorf("the go.mod files require their sibling modules at different versions; a release bumps them all together (docs/releasing.md):%s", b.String())
	case len(versions) == 1 && flag != "" && flag != versions[0]:
		return fmt.Errorf("-version %s, but the go.mod files require their siblings at %s: bump the require lines to %s before tagging it (docs/releasing.md)",
			flag, versions[0], flag)
	case len(versions) == 1:
		c.version = versions[0]
	case flag != "":
		c.version = flag
	default:
		c.version = "v0.1.0"
	}
	if !semver.IsValid(c.version) || semver.Canonical(c.version) != c.version {
		return fmt.Errorf("version %q: not a canonical semantic version (vMAJOR.MINOR.PATCH)", c.version)
	}
	for _, m := range c.mods {
		if err := module.Check(m.Path, c.version); err != nil {
			return err
		}
	}
	return nil
}

// listTested reads the versions the workspace selects: the ones its tests run.
func (c *checker) listTested(env []string) error {
	out, err := c.cmd(c.src, env, "go", "list", "-m", "-f", "{{.Path}} {{.Version}}", "all")
	if err != nil {
		return err
	}
	c.tested = map[string]string{}
	for line := range strings.Lines(out) {
		if path, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok && v != "" {
			c.tested[path] = v
		}
	}
	return nil
}

// serve writes m into the proxy directory in the layout of the GOPROXY
// protocol: $path/@v/list, $version.info, .mod and .zip.
func (c *checker) serve(m mod, at time.Time) error {
	esc, err := module.EscapePath(m.Path)
	if err != nil {
		return err
	}
	dir := filepath.Join(c.proxy, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{c.version, at.UTC()})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "list"), []byte(c.version+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, c.version+".info"), info, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, c.version+".mod"), m.gomod, 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, c.version+".zip"))
	if err != nil {
		return err
	}
	// CreateFromDir leaves out what a module zip never holds (nested
	// modules, vendor directories, VCS metadata) and refuses what the go
	// command would refuse to extract.
	zerr := modzip.CreateFromDir(f, module.Version{Path: m.Path, Version: c.version}, m.Dir)
	if err := f.Close(); zerr == nil {
		zerr = err
	}
	if zerr != nil {
		return fmt.Errorf("zip: %w", zerr)
	}
	return nil
}

// prepareCache locks the check against another one using the same module
// cache and removes the repository's modules from modcache, so that this run
// extracts what it serves rather than what an earlier run served at the same
// version; unlock removes them again, so that the cache holds this
// repository's unpublished modules only while a check runs.
func (c *checker) prepareCache(modcache string) (unlock func(), err error) {
	cacheDir, err := os.UserCacheDir()
	if err != nil {
		cacheDir = os.TempDir()
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(cacheDir, "sessionstore-release-check.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		lock.Close()
		return nil, fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	var dirs []string
	for path := range c.ours {
		esc, err := module.EscapePath(path)
		if err != nil {
			lock.Close()
			return nil, err
		}
		dirs = append(dirs, filepath.Join(modcache, filepath.FromSlash(esc)+"@"),
			filepath.Join(modcache, "cache", "download", filepath.FromSlash(esc), "@v"))
	}
	// Deepest first, so that a nested module's directories are gone when
	// the root module's parent directories are tried.
	slices.SortFunc(dirs, func(a, b string) int { return len(b) - len(a) })
	clean := func() error {
		for _, d := range dirs {
			matches := []string{d}
			if strings.HasSuffix(d, "@") { // every extracted version
				matches, _ = filepath.Glob(d + "*")
			}
			for _, m := range matches {
				if err := removeAll(m); err != nil {
					return err
				}
			}
			// And the directories left empty, up to the cache's root.
			for p := filepath.Dir(d); strings.HasPrefix(p, modcache+string(filepath.Separator)); p = filepath.Dir(p) {
				if os.Remove(p) != nil {
					break
				}
			}
		}
		return nil
	}
	if err := clean(); err != nil {
		lock.Close()
		return nil, err
	}
	return func() {
		if err := clean(); err != nil {
			log.Printf("warning: %v", err)
		}
		lock.Close() // releases the lock
	}, nil
}

// check is the user's view of m: get, build, run, and the versions used. It
// returns what the program printed.
func (c *checker) check(m mod) (report string, err error) {
	// The module's requirements are what its code needs, with no
	// workspace to fill in what go.mod misses.
	if _, err := c.cmd(m.Dir, c.devEnv, "go", "mod", "tidy", "-diff"); err != nil {
		return "", fmt.Errorf("%s/go.mod is not tidy without the workspace (run GOWORK=off go mod tidy there): %w", m.rel, err)
	}

	dir := filepath.Join(c.tmp, "use", m.name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// A user module at the language version m declares.
	goVersion := "1.25.0"
	if f, err := modfile.ParseLax("go.mod", m.gomod, nil); err == nil && f.Go != nil {
		goVersion = f.Go.Version
	}
	gomod := "module example.com/user\n\ngo " + goVersion + "\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		return "", err
	}
	if _, err := c.cmd(dir, c.userEnv, "go", "get", m.Path+"@"+c.version); err != nil {
		return "", err
	}

	// One program imports every package of m a user can import; m's
	// commands are built as they are.
	out, err := c.cmd(dir, c.userEnv, "go", "list", "-e",
		"-f", "{{with .Module}}{{.Path}}{{end}}\t{{.ImportPath}}\t{{.Name}}\t{{len .GoFiles}}", m.Path+"/...")
	if err != nil {
		return "", err
	}
	var libs, cmds []string
	for line := range strings.Lines(out) {
		f := strings.Split(strings.TrimSpace(line), "\t")
		if len(f) != 4 || f[0] != m.Path || f[3] == "0" || internal(f[1]) {
			continue // another module's, only tests, or not importable
		}
		if f[2] == "main" {
			cmds = append(cmds, f[1])
		} else {
			libs = append(libs, f[1])
		}
	}
	programs := filepath.Join(c.src, ".ci", "release", "testdata")
	mainGo := filepath.Join(programs, filepath.FromSlash(m.name()), "main.go")
	program := fileExists(mainGo)
	if program {
		for _, f := range []string{mainGo, filepath.Join(programs, "common.go")} {
			if err := copyFile(f, filepath.Join(dir, filepath.Base(f))); err != nil {
				return "", err
			}
		}
	}
	var bins []string
	if len(libs) > 0 || program {
		var src strings.Builder
		src.WriteString("// Imports of every package of " + m.Path + " a user can import.\n\npackage main\n\n")
		if len(libs) > 0 {
			src.WriteString("import (\n")
			for _, p := range libs {
				fmt.Fprintf(&src, "\t_ %q\n", p)
			}
			src.WriteString(")\n")
		}
		if !program {
			src.WriteString("\nfunc main() {}\n")
		}
		if err := os.WriteFile(filepath.Join(dir, "imports.go"), []byte(src.String()), 0o644); err != nil {
			return "", err
		}
		bin := filepath.Join(c.tmp, "bin", m.name()+"-user")
		if _, err := c.cmd(dir, c.userEnv, "go", "build", "-race", "-o", bin, "."); err != nil {
			return "", err
		}
		bins = append(bins, bin)
	}
	for _, p := range cmds {
		bin := filepath.Join(c.tmp, "bin", m.name()+"-"+path.Base(p))
		if _, err := c.cmd(dir, c.userEnv, "go", "build", "-race", "-o", bin, p); err != nil {
			return "", err
		}
		bins = append(bins, bin)
	}

	// The program that uses the store, if m has one.
	if program {
		report, err = c.cmd(dir, programEnv(c.userEnv), bins[0])
		if err != nil { // the output is the report, printed with it
			first, _, _ := strings.Cut(err.Error(), "\n")
			return report, fmt.Errorf("the program of testdata/%s failed: %s", m.name(), first)
		}
	}

	// A user of m builds with the versions the workspace tests with.
	var skew []string
	for _, bin := range bins {
		info, err := buildinfo.ReadFile(bin)
		if err != nil {
			return report, err
		}
		for _, dep := range info.Deps {
			if dep.Replace != nil {
				skew = append(skew, fmt.Sprintf("%s is replaced by %s", dep.Path, dep.Replace.Path))
			}
			if want, ok := c.tested[dep.Path]; ok && !c.ours[dep.Path] && want != dep.Version {
				skew = append(skew, fmt.Sprintf("%s %s (the workspace tests %s)", dep.Path, dep.Version, want))
			}
		}
	}
	if len(skew) > 0 {
		slices.Sort(skew)
		return report, fmt.Errorf("a user of %s builds with other versions than the tests ran; raise them in %s/go.mod:\n\t%s",
			m.Path, m.rel, strings.Join(slices.Compact(skew), "\n\t"))
	}
	return report, nil
}

// cmd runs name with args in dir (env nil: this process's environment) and
// returns its combined output; on failure the error holds the command, the
// directory and the whole output.
func (c *checker) cmd(dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(interrupted, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	t := time.Now()
	err := cmd.Run()
	if *verboseFlag {
		log.Printf("%5.1fs %s (in %s)", time.Since(t).Seconds(), strings.Join(cmd.Args, " "), dir)
	}
	switch {
	case interrupted.Err() != nil:
		err = errors.New("interrupted")
	case ctx.Err() != nil:
		err = fmt.Errorf("%w after %v", ctx.Err(), commandTimeout)
	}
	if err != nil {
		return out.String(), fmt.Errorf("`%s` in %s: %w\n%s", strings.Join(cmd.Args, " "), dir, err, indent(out.String()))
	}
	return out.String(), nil
}

// goEnv reads the machine's go settings, including those of `go env -w`.
func goEnv() (map[string]string, error) {
	out, err := exec.Command("go", "env", "-json",
		"GOPROXY", "GOFLAGS", "GOSUMDB", "GOMODCACHE", "GOCACHE", "GOPATH", "CGO_ENABLED", "CC").Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	env := map[string]string{}
	return env, json.Unmarshal(out, &env)
}

// environ is this process's environment without the variables set or
// dropped here, plus set.
func environ(drop []string, set ...string) []string {
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, "=")
		drop = append(drop, k)
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, k) {
			env = append(env, kv)
		}
	}
	return append(env, set...)
}

// programEnv is env with the test DSNs a program connects to: those set in
// this process's environment and, with CI=true, the tests' defaults for the
// others, as the tests themselves do.
func programEnv(env []string) []string {
	ci := os.Getenv("CI") == "true" || os.Getenv("CI") == "1"
	env = slices.Clone(env)
	for _, d := range testDSNs {
		switch v := os.Getenv(d.name); {
		case v != "":
			env = append(env, d.name+"="+v)
		case ci:
			env = append(env, d.name+"="+d.def)
		}
	}
	return env
}

func testDSNNames() []string {
	var names []string
	for _, d := range testDSNs {
		names = append(names, d.name)
	}
	return names
}

// withoutModFlag is GOFLAGS without its -mod flag, which workspace mode
// refuses and the user modules set themselves.
func withoutModFlag(flags string) string {
	var keep []string
	for _, f := range strings.Fields(flags) {
		if !strings.HasPrefix(f, "-mod=") && !strings.HasPrefix(f, "--mod=") {
			keep = append(keep, f)
		}
	}
	return strings.Join(keep, " ")
}

// internal reports whether path has an internal element: a user cannot
// import it.
func internal(path string) bool {
	return slices.Contains(strings.Split(path, "/"), "internal")
}

// removeAll removes dir, whose files the module cache may have made read-only.
func removeAll(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func indent(s string) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		b.WriteString("\t| " + sc.Text() + "\n")
	}
	return b.String()
}
