package pgstore

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sessionstore/sessionstore/internal/testenv"
)

// privatePG is a PostgreSQL server of the test's own, in a temporary
// directory with its own port and socket directory, so that the test may
// restart it without disturbing the shared server other packages use.
type privatePG struct {
	bin, dir, data, port string
	asUser               string // run the binaries as this OS user ("" = as ourselves)
}

// startPrivatePG runs initdb and starts the server; it is stopped and
// removed when the test ends. PostgreSQL refuses to run as root, so as root
// the binaries run as the "postgres" OS user.
func startPrivatePG(t *testing.T) *privatePG {
	t.Helper()
	bin := testenv.Getenv("PGSTORE_PG_BIN", "/usr/lib/postgresql/15/bin")
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		testenv.Unavailable(t, "PostgreSQL server binaries", "install PostgreSQL 15 or set PGSTORE_PG_BIN", err)
	}
	p := &privatePG{bin: bin}
	var uid, gid int
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			testenv.Unavailable(t, "the postgres OS user", "create it (apt-get install postgresql does)", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		p.asUser = "postgres"
	}
	dir, err := os.MkdirTemp("", "pgstore-fault-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir = dir
	p.data = filepath.Join(dir, "data")
	t.Cleanup(func() { os.RemoveAll(dir) })
	if p.asUser != "" {
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p.port = freePort(t)
	p.run(t, "initdb", "-D", p.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "--no-instructions")
	p.run(t, "pg_ctl", "-D", p.data, "-l", filepath.Join(dir, "log"), "-w", "-t", "30", "-o",
		fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=20 -c shared_buffers=16MB", p.port, dir),
		"start")
	t.Cleanup(func() {
		p.run(t, "pg_ctl", "-D", p.data, "-m", "immediate", "-w", "stop")
	})
	return p
}

// dsn is the private server's connection string.
func (p *privatePG) dsn() string {
	return "postgres://postgres@127.0.0.1:" + p.port + "/postgres?sslmode=disable"
}

// restart kills the server (an immediate shutdown, as in a crash: recovery
// replays the WAL on start) and starts it again on the same port.
func (p *privatePG) restart(t *testing.T) {
	t.Helper()
	p.run(t, "pg_ctl", "-D", p.data, "-m", "immediate", "-w", "-t", "30", "restart")
}

func (p *privatePG) cmd(name string, args ...string) *exec.Cmd {
	path := filepath.Join(p.bin, name)
	if p.asUser == "" {
		return exec.Command(path, args...)
	}
	return exec.Command("runuser", append([]string{"-u", p.asUser, "--", path}, args...)...)
}

// run runs a server binary and fails the test if it fails. Its output goes
// to a file, not a pipe: the server that pg_ctl starts inherits it, and a
// pipe would keep the command from ever completing.
func (p *privatePG) run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := os.CreateTemp(p.dir, name+"-*.out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := p.cmd(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		output, _ := os.ReadFile(out.Name())
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		t.Fatalf("%s: %v\n%s\nserver log:\n%s", name, err, output, log)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
