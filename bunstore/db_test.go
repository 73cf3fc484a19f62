package bunstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/schema"
	_ "modernc.org/sqlite"

	"github.com/sessionstore/sessionstore/bunstore"
	"github.com/sessionstore/sessionstore/internal/testenv"
)

// dialect opens one database that a test's stores share; each store gets
// its own randomly named tables.
type dialect struct {
	name string
	open func(t testing.TB) *bun.DB
	// openAs opens the same database as user, without a password (nil:
	// no users).
	openAs func(t testing.TB, user string) *bun.DB
}

var dialects = []dialect{
	{"PostgreSQL", openPostgres, openPostgresAs},
	{"MariaDB", openMySQL, openMySQLAs},
	{"SQLite", openSQLite, nil},
}

func openPostgres(t testing.TB) *bun.DB { return openPostgresAs(t, "") }

// openPostgresAs connects as user, or as SESSIONSTORE_POSTGRES_DSN says if user is "".
func openPostgresAs(t testing.TB, user string) *bun.DB {
	dsn := testenv.PostgresDSN()
	if u, err := url.Parse(dsn); err == nil && user != "" {
		u.User = url.User(user)
		dsn = u.String()
	}
	return open(t, "pgx", dsn, pgdialect.New(), "PostgreSQL at 127.0.0.1:5432", "set "+testenv.PostgresEnv, 16)
}

func openMySQL(t testing.TB) *bun.DB { return openMySQLAs(t, "") }

// openMySQLAs connects as user, or as SESSIONSTORE_MYSQL_DSN says if user is "".
func openMySQLAs(t testing.TB, user string) *bun.DB {
	dsn := testenv.MySQLDSN()
	if cfg, err := mysql.ParseDSN(dsn); err == nil && user != "" {
		cfg.User, cfg.Passwd = user, ""
		dsn = cfg.FormatDSN()
	}
	return open(t, "mysql", dsn, mysqldialect.New(), "MariaDB at 127.0.0.1:3306", "set "+testenv.MySQLEnv, 16)
}

// openSQLite opens a database file in t.TempDir(). SQLite has one writer at
// a time: WAL and a busy timeout let readers run beside it, and a pool of
// one connection makes concurrent writers queue in Go instead of failing
// with SQLITE_BUSY.
func openSQLite(t testing.TB) *bun.DB {
	dsn := "file:" + filepath.Join(t.TempDir(), "sessions.db") +
		"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)"
	return open(t, "sqlite", dsn, sqlitedialect.New(), "SQLite", "check the file system", 1)
}

func open(t testing.TB, driver, dsn string, d schema.Dialect, what, how string, conns int) *bun.DB {
	t.Helper()
	sqldb, err := sql.Open(driver, dsn)
	if err != nil {
		testenv.Unavailable(t, what, how, err)
	}
	sqldb.SetMaxOpenConns(conns)
	sqldb.SetMaxIdleConns(conns)
	db := bun.NewDB(sqldb, d)
	t.Cleanup(func() { db.Close() })
	if err := db.PingContext(context.Background()); err != nil {
		testenv.Unavailable(t, what, how, err)
	}
	return db
}

// tableName returns a fresh table name, so that tests sharing a server do
// not see each other's rows.
func tableName() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "bs_" + hex.EncodeToString(b)
}

// newStore returns a migrated store on a fresh table, dropped with its
// tombstones when t ends.
func newStore(t testing.TB, db *bun.DB, cfg bunstore.Config) *bunstore.BunStore {
	t.Helper()
	table := cfg.Table
	if table == "" {
		table = cfg.TableName // a test of the deprecated name
	}
	if table == "" {
		table = tableName()
		cfg.Table = table
	}
	if cfg.CleanupInterval == 0 {
		cfg.CleanupInterval = time.Hour
	}
	// Migrate through a store without a cleanup loop first: the store's
	// loop may run (CleanupLoop's every 20 ms) before a Migrate after
	// NewWithConfig has created the sessions table.
	m, err := bunstore.NewWithConfig(db, bunstore.Config{Table: table, CleanupInterval: -1, AllowNoTombstones: cfg.AllowNoTombstones})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropTables(t, db, table) })
	if err := m.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	s, err := bunstore.NewWithConfig(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.StopCleanup) // runs before the drop
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func dropTables(t testing.TB, db *bun.DB, table string) {
	for _, name := range []string{table, table + "_tombstones"} {
		if _, err := db.NewDropTable().Table(name).IfExists().Exec(context.Background()); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	}
}

// bunDB is the database handle the tests share.
type bunDB = bun.DB
