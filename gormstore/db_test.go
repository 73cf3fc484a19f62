package gormstore_test

import (
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/sessionstore/sessionstore/gormstore"
	"github.com/sessionstore/sessionstore/internal/testenv"
)

// dialect opens one database that a test's stores share; each store gets
// its own randomly named tables.
type dialect struct {
	name string
	open func(t testing.TB) *gorm.DB
	// openAs opens the same database as user, without a password (nil:
	// no users).
	openAs func(t testing.TB, user string) *gorm.DB
}

var dialects = []dialect{
	{"PostgreSQL", openPostgres, openPostgresAs},
	{"MariaDB", openMySQL, openMySQLAs},
	{"SQLite", openSQLite, nil},
}

// quiet returns a fresh config: gorm.Open keeps and changes the one it gets.
func quiet() *gorm.Config { return &gorm.Config{Logger: logger.Discard} }

func openPostgres(t testing.TB) *gorm.DB { return openPostgresAs(t, "") }

// openPostgresAs connects as user, or as SESSIONSTORE_POSTGRES_DSN says if user is "".
func openPostgresAs(t testing.TB, user string) *gorm.DB {
	dsn := testenv.PostgresDSN()
	var db *gorm.DB
	cfg, err := pgx.ParseConfig(dsn)
	if err == nil {
		if user != "" {
			cfg.User, cfg.Password = user, ""
		}
		db, err = gorm.Open(postgres.New(postgres.Config{Conn: stdlib.OpenDB(*cfg)}), quiet())
	}
	return ready(t, db, err, "PostgreSQL at 127.0.0.1:5432", "set "+testenv.PostgresEnv, 16)
}

func openMySQL(t testing.TB) *gorm.DB { return openMySQLAs(t, "") }

// openMySQLAs connects as user, or as SESSIONSTORE_MYSQL_DSN says if user is "".
func openMySQLAs(t testing.TB, user string) *gorm.DB {
	dsn := testenv.MySQLDSN()
	var db *gorm.DB
	cfg, err := mysqldrv.ParseDSN(dsn)
	if err == nil {
		if user != "" {
			cfg.User, cfg.Passwd = user, ""
		}
		db, err = gorm.Open(mysql.Open(cfg.FormatDSN()), quiet())
	}
	return ready(t, db, err, "MariaDB at 127.0.0.1:3306", "set "+testenv.MySQLEnv, 16)
}

// openSQLite opens a database file in t.TempDir(). SQLite has one writer at
// a time: WAL and a busy timeout let readers run beside it, and a pool of
// one connection makes concurrent writers queue in Go instead of failing
// with SQLITE_BUSY.
func openSQLite(t testing.TB) *gorm.DB {
	dsn := "file:" + filepath.Join(t.TempDir(), "sessions.db") +
		"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)"
	db, err := gorm.Open(sqlite.Open(dsn), quiet())
	return ready(t, db, err, "SQLite", "check the file system", 1)
}

func ready(t testing.TB, db *gorm.DB, err error, what, how string, conns int) *gorm.DB {
	t.Helper()
	if err == nil {
		var sqlDB interface{ Close() error }
		sqlDB, err = db.DB()
		if err == nil {
			t.Cleanup(func() { sqlDB.Close() })
		}
	}
	if err == nil {
		err = db.Exec("SELECT 1").Error
	}
	if err != nil {
		testenv.Unavailable(t, what, how, err)
	}
	sqlDB, _ := db.DB()
	sqlDB.SetMaxOpenConns(conns)
	sqlDB.SetMaxIdleConns(conns)
	return db
}

// tableName returns a fresh table name, so that tests sharing a server do
// not see each other's rows.
func tableName() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "gs_" + hex.EncodeToString(b)
}

// newStore returns a store on a fresh table, dropped with its tombstones
// when t ends.
func newStore(t testing.TB, db *gorm.DB, cfg gormstore.Config) *gormstore.GORMStore {
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
	s, err := gormstore.NewWithConfig(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.StopCleanup()
		dropTables(t, db, table)
	})
	return s
}

func dropTables(t testing.TB, db *gorm.DB, table string) {
	for _, name := range []string{table, table + "_tombstones"} {
		if err := db.Migrator().DropTable(name); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	}
}

// gormDB is the database handle the tests share.
type gormDB = gorm.DB
