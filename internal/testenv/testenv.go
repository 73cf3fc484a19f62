// Package testenv decides what a test does when a database it needs cannot be
// reached: in CI (CI=true) it fails, elsewhere it skips with a message that
// says how to run it.
package testenv

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"testing"
)

// InCI reports whether the tests run in CI, where every database must be up.
func InCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Unavailable fails t in CI and skips it elsewhere, because the server what
// (say "PostgreSQL at 127.0.0.1:5432") could not be reached. how tells the
// reader how to make it reachable ("set SESSIONSTORE_POSTGRES_DSN").
func Unavailable(t testing.TB, what, how string, err error) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is unreachable (%v); CI must run the database tests: %s", what, err, how)
	}
	t.Skipf("skipping: %s is unreachable (%v). To run these tests: %s, or run `make test`, which starts the databases", what, err, how)
}

// The one variable per database that every test and benchmark reads, and
// the defaults: the servers `make test` starts (.ci/services).
const (
	PostgresEnv = "SESSIONSTORE_POSTGRES_DSN"
	MySQLEnv    = "SESSIONSTORE_MYSQL_DSN"
	RedisEnv    = "SESSIONSTORE_REDIS_ADDR"

	DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultMySQLDSN    = "root@tcp(127.0.0.1:3306)/test?parseTime=true&loc=UTC"
	DefaultRedisAddr   = "127.0.0.1:6379"
)

// PostgresDSN is the PostgreSQL the tests use: SESSIONSTORE_POSTGRES_DSN, a
// URL or key=value DSN that pgx accepts, or the test database on
// 127.0.0.1:5432.
func PostgresDSN() string { return Getenv(PostgresEnv, DefaultPostgresDSN) }

// MySQLDSN is the MariaDB or MySQL the tests use: SESSIONSTORE_MYSQL_DSN, a
// go-sql-driver/mysql DSN (it needs parseTime=true), or the test database on
// 127.0.0.1:3306.
func MySQLDSN() string { return Getenv(MySQLEnv, DefaultMySQLDSN) }

// RedisAddr is the Redis the tests use: SESSIONSTORE_REDIS_ADDR (host:port),
// or 127.0.0.1:6379.
func RedisAddr() string { return Getenv(RedisEnv, DefaultRedisAddr) }

// Getenv returns the environment variable key, or def when it is empty.
func Getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// SyncBuffer is a bytes.Buffer that goroutines may write at once: a log
// destination for a store whose cleanup goroutine logs while the test reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what has been written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
