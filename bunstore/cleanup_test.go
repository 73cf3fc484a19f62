package bunstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/schema"

	"github.com/sessionstore/sessionstore/internal/sqltest"
	"github.com/sessionstore/sessionstore/internal/testenv"
)

// TestCleanupBounded records the statements one DeleteExpired issues, on
// every dialect, and fails on any without a row bound.
func TestCleanupBounded(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db, rec := openRecorded(t, d)
			sqltest.CleanupBounded(t, sqlDialect(d), sqlDB{db}, rec)
		})
	}
}

// TestCleanupCutoff checks, on every dialect, that cleanup removes a
// tombstone only ClockSkew past its expiry, with the row written behind it.
func TestCleanupCutoff(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect, db *bunDB) {
		sqltest.CleanupCutoff(t, sqlDialect(d), sqlDB{db})
	})
}

func sqlDialect(d dialect) sqltest.Dialect {
	return sqltest.Dialect{Name: d.name, Dialect: dialectOf(d), Placeholder: placeholders(d)}
}

// openRecorded opens d's database through a sqltest.Recorder.
func openRecorded(t *testing.T, d dialect) (*bun.DB, *sqltest.Recorder) {
	var driver, dsn string
	var dial schema.Dialect
	conns := 4
	switch d.name {
	case "PostgreSQL":
		driver, dial = "pgx", pgdialect.New()
		dsn = testenv.PostgresDSN()
	case "MariaDB":
		driver, dial = "mysql", mysqldialect.New()
		dsn = testenv.MySQLDSN()
	default:
		driver, dial, conns = "sqlite", sqlitedialect.New(), 1
		dsn = "file:" + filepath.Join(t.TempDir(), "sessions.db") + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)"
	}
	rec, err := sqltest.NewRecorder(driver, dsn)
	if err != nil {
		testenv.Unavailable(t, d.name, "check the DSN", err)
	}
	sqldb := sql.OpenDB(rec)
	sqldb.SetMaxOpenConns(conns)
	db := bun.NewDB(sqldb, dial)
	t.Cleanup(func() { db.Close() })
	if err := db.PingContext(context.Background()); err != nil {
		testenv.Unavailable(t, d.name, "check the DSN", err)
	}
	return db, rec
}
