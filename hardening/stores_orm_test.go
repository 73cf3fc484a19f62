package hardening

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	// glebarez/sqlite registers its pure-Go driver as "sqlite" (a fork of
	// modernc.org/sqlite, which registers the same name and so cannot be
	// linked beside it): bunstore uses it through database/sql too.
	gsqlite "github.com/glebarez/sqlite"
	_ "github.com/go-sql-driver/mysql" // MariaDB for bunstore
	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL for bunstore
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/schema"
	gmysql "gorm.io/driver/mysql"
	gpostgres "gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/sessionstore/sessionstore/bunstore"
	"github.com/sessionstore/sessionstore/gormstore"
	"github.com/sessionstore/sessionstore/internal/testenv"
)

// pgDSN and mysqlDSN are the servers of every ORM test here; some tests
// append "&name=value" parameters, so both carry a query string.
var (
	pgDSN    = testenv.PostgresDSN()
	mysqlDSN = testenv.MySQLDSN()
)

// sqliteDir holds this test process's SQLite files.
var sqliteDir = sync.OnceValue(func() string {
	dir, err := os.MkdirTemp("", "hardening-sqlite")
	if err != nil {
		panic(err)
	}
	return dir
})

// sqliteDSN is a SQLite file set up for concurrent use: WAL, a busy timeout,
// and (by the callers) one connection, so that writers queue in Go.
func sqliteDSN(name string) string {
	return "file:" + filepath.Join(sqliteDir(), name+".db") + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)"
}

// lazy opens a database once per test process and closes it at the end.
type lazy[T any] struct {
	once  sync.Once
	db    T
	err   error
	close func()
}

var (
	bunPG, bunMy, bunLite    lazy[*bun.DB]
	gormPG, gormMy, gormLite lazy[*gorm.DB]
	closers                  []func()
	closersMu                sync.Mutex
)

func (l *lazy[T]) get(t testing.TB, what, how string, open func() (T, func(), error)) T {
	t.Helper()
	l.once.Do(func() {
		l.db, l.close, l.err = open()
		if l.err == nil {
			closersMu.Lock()
			closers = append(closers, l.close)
			closersMu.Unlock()
		}
	})
	if l.err != nil {
		testenv.Unavailable(t, what, how, l.err)
	}
	return l.db
}

func openBunDB(driver, dsn string, d schema.Dialect, conns int) (*bun.DB, func(), error) {
	sqldb, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, nil, err
	}
	sqldb.SetMaxOpenConns(conns)
	sqldb.SetMaxIdleConns(conns)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sqldb.PingContext(ctx); err != nil {
		sqldb.Close()
		return nil, nil, err
	}
	db := bun.NewDB(sqldb, d)
	return db, func() { db.Close() }, nil
}

func openGormDB(dialector gorm.Dialector, conns int) (*gorm.DB, func(), error) {
	db, err := gorm.Open(dialector, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, nil, err
	}
	sqldb, err := db.DB()
	if err != nil {
		return nil, nil, err
	}
	sqldb.SetMaxOpenConns(conns)
	sqldb.SetMaxIdleConns(conns)
	if err := sqldb.Ping(); err != nil {
		sqldb.Close()
		return nil, nil, err
	}
	return db, func() { sqldb.Close() }, nil
}

func bunBackend(name string, l *lazy[*bun.DB], what, how string, open func() (*bun.DB, func(), error)) backend {
	return backend{name, func(t testing.TB) Store {
		db := l.get(t, what, how, open)
		table := uniqueName("hb")
		s, err := bunstore.NewWithConfig(db, bunstore.Config{Table: table, CleanupInterval: -1})
		if err == nil {
			err = s.Migrate(context.Background())
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			s.StopCleanup()
			db.NewDropTable().Table(table, table+"_tombstones").IfExists().Exec(context.Background())
		})
		return s
	}}
}

func gormBackend(name string, l *lazy[*gorm.DB], what, how string, open func() (*gorm.DB, func(), error)) backend {
	return backend{name, func(t testing.TB) Store {
		db := l.get(t, what, how, open)
		table := uniqueName("hg")
		s, err := gormstore.NewWithConfig(db, gormstore.Config{Table: table, CleanupInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			s.StopCleanup()
			db.Migrator().DropTable(table, table+"_tombstones")
		})
		return s
	}}
}

// ormBackends are gormstore and bunstore on PostgreSQL, MariaDB and SQLite.
func ormBackends() []backend {
	const pgWhat, pgHow = "PostgreSQL at 127.0.0.1:5432", "set " + testenv.PostgresEnv
	const myWhat, myHow = "MariaDB at 127.0.0.1:3306", "set " + testenv.MySQLEnv
	return []backend{
		bunBackend("bunstore/postgres", &bunPG, pgWhat, pgHow, func() (*bun.DB, func(), error) {
			return openBunDB("pgx", pgDSN, pgdialect.New(), 16)
		}),
		bunBackend("bunstore/mariadb", &bunMy, myWhat, myHow, func() (*bun.DB, func(), error) {
			return openBunDB("mysql", mysqlDSN, mysqldialect.New(), 16)
		}),
		bunBackend("bunstore/sqlite", &bunLite, "SQLite", "check the file system", func() (*bun.DB, func(), error) {
			return openBunDB("sqlite", sqliteDSN("bun"), sqlitedialect.New(), 1)
		}),
		gormBackend("gormstore/postgres", &gormPG, pgWhat, pgHow, func() (*gorm.DB, func(), error) {
			return openGormDB(gpostgres.Open(pgDSN), 16)
		}),
		gormBackend("gormstore/mariadb", &gormMy, myWhat, myHow, func() (*gorm.DB, func(), error) {
			return openGormDB(gmysql.Open(mysqlDSN), 16)
		}),
		gormBackend("gormstore/sqlite", &gormLite, "SQLite", "check the file system", func() (*gorm.DB, func(), error) {
			return openGormDB(gsqlite.Open(sqliteDSN("gorm")), 1)
		}),
	}
}

func closeORMDatabases() {
	closersMu.Lock()
	defer closersMu.Unlock()
	for _, c := range closers {
		c()
	}
	os.RemoveAll(sqliteDir())
}
