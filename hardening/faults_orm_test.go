package hardening

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	gsqlite "github.com/glebarez/sqlite"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/schema"
	gmysql "gorm.io/driver/mysql"
	gpostgres "gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/sessionstore/sessionstore/bunstore"
	"github.com/sessionstore/sessionstore/gormstore"
)

// ormStore is a gormstore or bunstore on a database handle of the test's
// own, with the *sql.DB underneath and the table it uses.
type ormStore struct {
	Store
	db    *sql.DB
	table string
}

type ormCase struct {
	name string
	// open makes a store on a fresh table; dsnSuffix adds settings to the
	// shared server's DSN, conns bounds the pool.
	open func(t *testing.T, dsnSuffix string, conns int) ormStore
	// lockTimeout is the DSN suffix that makes a statement waiting for a row
	// lock fail after a fraction of a second ("" where there are no row
	// locks to wait for).
	lockTimeout string
}

func bunCase(name, driver, dsn string, d func() schema.Dialect, lockTimeout string) ormCase {
	return ormCase{name: name, lockTimeout: lockTimeout, open: func(t *testing.T, suffix string, conns int) ormStore {
		db, closeDB, err := openBunDB(driver, dsn+suffix, d(), conns)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(closeDB)
		table := uniqueName("hf")
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
		return ormStore{s, db.DB, table}
	}}
}

func gormCase(name string, open func(dsn string) gorm.Dialector, dsn, lockTimeout string) ormCase {
	return ormCase{name: name, lockTimeout: lockTimeout, open: func(t *testing.T, suffix string, conns int) ormStore {
		db, closeDB, err := openGormDB(open(dsn+suffix), conns)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(closeDB)
		table := uniqueName("hf")
		s, err := gormstore.NewWithConfig(db, gormstore.Config{Table: table, CleanupInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		sqldb, _ := db.DB()
		t.Cleanup(func() {
			s.StopCleanup()
			db.Migrator().DropTable(table, table+"_tombstones")
		})
		return ormStore{s, sqldb, table}
	}}
}

func ormCases(t *testing.T) []ormCase {
	lite := func(name string) string { return sqliteDSN(fmt.Sprintf("%s-%d", name, serial.Add(1))) }
	postgres(t) // fails in CI, skips elsewhere, when PostgreSQL is down
	return []ormCase{
		bunCase("bunstore/postgres", "pgx", pgDSN, func() schema.Dialect { return pgdialect.New() }, "&statement_timeout=300"),
		bunCase("bunstore/mariadb", "mysql", mysqlDSN, func() schema.Dialect { return mysqldialect.New() }, "&innodb_lock_wait_timeout=1"),
		bunCase("bunstore/sqlite", "sqlite", lite("bun-fault"), func() schema.Dialect { return sqlitedialect.New() }, ""),
		gormCase("gormstore/postgres", gpostgres.Open, pgDSN, "&statement_timeout=300"),
		gormCase("gormstore/mariadb", gmysql.Open, mysqlDSN, "&innodb_lock_wait_timeout=1"),
		gormCase("gormstore/sqlite", gsqlite.Open, lite("gorm-fault"), ""),
	}
}

// With its one connection taken, an ORM store's operations fail with an
// error when their context ends, never "not found" for a live session; once
// the connection is back, the same store serves again.
func TestPoolExhaustedORM(t *testing.T) {
	for _, c := range ormCases(t) {
		t.Run(c.name, func(t *testing.T) {
			s := c.open(t, "", 1)
			exp := time.Now().Add(time.Hour)
			if err := s.Commit("live", []byte("v1"), exp); err != nil {
				t.Fatal(err)
			}
			held, err := s.db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			if _, found, err := s.FindCtx(ctx, "live"); err == nil {
				t.Fatalf("FindCtx with no connection free: found=%v, nil error; want an error", found)
			}
			if err := s.CommitCtx(ctx, "live", []byte("v2"), exp); err == nil {
				t.Fatal("CommitCtx with no connection free returned nil")
			}
			held.Close()
			if got, found, err := s.Find("live"); err != nil || !found || string(got) != "v1" {
				t.Fatalf("after release: Find = %q, %v, %v; want the committed v1", got, found, err)
			}
		})
	}
}

// A Commit waiting for a row that a stuck transaction holds fails with the
// database's timeout; Find keeps answering; once the lock is gone the same
// store commits again.
func TestLockTimeoutORM(t *testing.T) {
	for _, c := range ormCases(t) {
		if c.lockTimeout == "" {
			continue // SQLite: one writer, no row locks
		}
		t.Run(c.name, func(t *testing.T) {
			s := c.open(t, c.lockTimeout, 4)
			exp := time.Now().Add(time.Hour)
			if err := s.Commit("locked", []byte("v1"), exp); err != nil {
				t.Fatal(err)
			}
			tx, err := s.db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			q := `SELECT 1 FROM "` + s.table + `" WHERE token = 'locked' FOR UPDATE`
			if strings.HasSuffix(c.name, "mariadb") {
				q = "SELECT 1 FROM `" + s.table + "` WHERE token = 'locked' FOR UPDATE"
			}
			if _, err := tx.Exec(q); err != nil {
				t.Fatal(err)
			}
			if err := s.Commit("locked", []byte("v2"), exp); err == nil {
				t.Fatal("Commit of a locked row returned nil; want the lock timeout")
			}
			if got, found, err := s.Find("locked"); err != nil || !found || string(got) != "v1" {
				t.Fatalf("Find of a locked row = %q, %v, %v; want v1", got, found, err)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			if err := s.Commit("locked", []byte("v3"), exp); err != nil {
				t.Fatalf("Commit after the lock went: %v", err)
			}
			if got, _, _ := s.Find("locked"); string(got) != "v3" {
				t.Fatalf("Find = %q, want v3", got)
			}
		})
	}
}
