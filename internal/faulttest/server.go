// Package faulttest runs a database server of a test's own, which the test
// may crash and restart, and a load that checks a store's answers through
// the restart. It exists so that fault tests never touch the shared servers
// that other packages test against at the same time.
package faulttest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore/internal/testenv"
)

// Server is a private database server in a temporary directory, on a port
// of its own. It is stopped and removed when the test ends.
type Server struct {
	dsn     string
	restart func(t *testing.T)
}

// DSN is the server's connection string, in its driver's usual form.
func (s *Server) DSN() string { return s.dsn }

// Restart crashes the server (no clean shutdown: recovery runs on start)
// and starts it again on the same port and data.
func (s *Server) Restart(t *testing.T) {
	t.Helper()
	s.restart(t)
}

// StartPostgres runs initdb and starts a PostgreSQL of the test's own
// (binaries from FAULTTEST_PG_BIN, default /usr/lib/postgresql/15/bin).
// PostgreSQL refuses to run as root, so as root the binaries run as the
// "postgres" OS user. The DSN is a pgx URL for the database "postgres".
func StartPostgres(t *testing.T) *Server {
	t.Helper()
	bin := testenv.Getenv("FAULTTEST_PG_BIN", "/usr/lib/postgresql/15/bin")
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		testenv.Unavailable(t, "PostgreSQL server binaries", "install PostgreSQL 15 or set FAULTTEST_PG_BIN", err)
	}
	dir := tempDir(t, "faulttest-pg-")
	var asUser string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			testenv.Unavailable(t, "the postgres OS user", "create it (apt-get install postgresql does)", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		asUser = "postgres"
	}
	data, port := filepath.Join(dir, "data"), freePort(t)
	run := func(t *testing.T, name string, args ...string) {
		t.Helper()
		path := filepath.Join(bin, name)
		cmd := exec.Command(path, args...)
		if asUser != "" {
			cmd = exec.Command("runuser", append([]string{"-u", asUser, "--", path}, args...)...)
		}
		runLogged(t, dir, name, cmd)
	}
	run(t, "initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "--no-instructions")
	run(t, "pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "30", "-o",
		fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=30 -c shared_buffers=16MB", port, dir),
		"start")
	t.Cleanup(func() { run(t, "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop") })
	return &Server{
		dsn: "postgres://postgres@127.0.0.1:" + port + "/postgres?sslmode=disable",
		restart: func(t *testing.T) {
			run(t, "pg_ctl", "-D", data, "-m", "immediate", "-w", "-t", "30", "restart")
		},
	}
}

// StartMariaDB initialises and starts a MariaDB of the test's own
// (mariadb-install-db and mariadbd from PATH or /usr/sbin), without grant
// tables, with a database "test". The DSN is a go-sql-driver/mysql DSN with
// parseTime=true and loc=UTC.
func StartMariaDB(t *testing.T) *Server {
	t.Helper()
	install, err := exec.LookPath("mariadb-install-db")
	if err != nil {
		testenv.Unavailable(t, "mariadb-install-db", "install mariadb-server", err)
	}
	server := "/usr/sbin/mariadbd"
	if p, err := exec.LookPath("mariadbd"); err == nil {
		server = p
	}
	dir := tempDir(t, "faulttest-mariadb-")
	data, port := filepath.Join(dir, "data"), freePort(t)
	runLogged(t, dir, "install", exec.Command(install, "--no-defaults", "--datadir="+data, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db"))
	if err := os.Mkdir(filepath.Join(data, "test"), 0o700); err != nil { // a database is a directory
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	start := func(t *testing.T) {
		t.Helper()
		log, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer log.Close()
		cmd = exec.Command(server, "--no-defaults", "--datadir="+data, "--user=root", "--skip-grant-tables",
			"--bind-address=127.0.0.1", "--port="+port, "--socket="+filepath.Join(dir, "sock"),
			"--pid-file="+filepath.Join(dir, "pid"), "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M",
			"--innodb-flush-log-at-trx-commit=2", "--max-connections=50", "--skip-log-bin")
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitForPort(t, port, filepath.Join(dir, "server.log"))
	}
	kill := func() {
		if cmd != nil && cmd.Process != nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	start(t)
	t.Cleanup(kill)
	return &Server{
		dsn:     "root@tcp(127.0.0.1:" + port + ")/test?parseTime=true&loc=UTC",
		restart: func(t *testing.T) { kill(); start(t) },
	}
}

func tempDir(t *testing.T, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runLogged runs cmd with its output in a file, not a pipe (a server it
// starts inherits the output, and a pipe would never reach EOF), and fails
// the test with that output if cmd fails.
func runLogged(t *testing.T, dir, name string, cmd *exec.Cmd) {
	t.Helper()
	out, err := os.CreateTemp(dir, name+"-*.out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		output, _ := os.ReadFile(out.Name())
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
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

func waitForPort(t *testing.T, port, logFile string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile)
			t.Fatalf("server did not listen on %s: %v\n%s", port, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
