package gormstore_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/sessionstore/sessionstore/internal/sqlstore"
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
	forEachDialect(t, func(t *testing.T, d dialect, db *gormDB) {
		sqltest.CleanupCutoff(t, sqlDialect(d), sqlDB{db})
	})
}

func sqlDialect(d dialect) sqltest.Dialect {
	return sqltest.Dialect{Name: d.name, Dialect: dialectOf(d), Placeholder: sqlstore.Question}
}

// openRecorded opens d's database through a sqltest.Recorder.
func openRecorded(t *testing.T, d dialect) (*gorm.DB, *sqltest.Recorder) {
	var driver, dsn string
	conns := 4
	switch d.name {
	case "PostgreSQL":
		driver = "pgx"
		dsn = testenv.PostgresDSN()
	case "MariaDB":
		driver = "mysql"
		dsn = testenv.MySQLDSN()
	default:
		driver, conns = sqlite.DriverName, 1
		dsn = "file:" + filepath.Join(t.TempDir(), "sessions.db") + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)"
	}
	rec, err := sqltest.NewRecorder(driver, dsn)
	if err != nil {
		testenv.Unavailable(t, d.name, "check the DSN", err)
	}
	sqlDB := sql.OpenDB(rec)
	sqlDB.SetMaxOpenConns(conns)
	t.Cleanup(func() { sqlDB.Close() })
	var dial gorm.Dialector
	switch d.name {
	case "PostgreSQL":
		dial = postgres.New(postgres.Config{Conn: sqlDB})
	case "MariaDB":
		dial = mysql.New(mysql.Config{Conn: sqlDB, SkipInitializeWithVersion: true})
	default:
		dial = sqlite.Dialector{Conn: sqlDB}
	}
	db, err := gorm.Open(dial, quiet())
	if err == nil {
		err = db.Exec("SELECT 1").Error
	}
	if err != nil {
		testenv.Unavailable(t, d.name, "check the DSN", err)
	}
	return db, rec
}
