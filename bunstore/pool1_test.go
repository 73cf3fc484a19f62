package bunstore_test

import (
	"context"
	"database/sql"
	"path/filepath"

	"fmt"
	"github.com/sessionstore/sessionstore/internal/testenv"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/schema"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/sessionstore/sessionstore/bunstore"
	"github.com/sessionstore/sessionstore/internal/sqlstore"
	"github.com/sessionstore/sessionstore/internal/sqltest"
)

// withPool limits db's connection pool to n connections.
func withPool(db *bun.DB, n int) *bun.DB {
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	return db
}

// placeholders is the bind-parameter style of database/sql on d.
func placeholders(d dialect) sqlstore.Placeholders {
	if d.name == "PostgreSQL" {
		return sqlstore.Dollar
	}
	return sqlstore.Question
}

// TestSmallPool runs concurrent Commits and Deletes, then every other
// operation, on a pool of one and of two connections, on every dialect:
// each call must succeed quickly. A Delete that prepares a statement
// through the pool while its transaction holds the only connection times
// out instead.
func TestSmallPool(t *testing.T) {
	for _, d := range dialects {
		for _, conns := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/conns=%d", d.name, conns), func(t *testing.T) {
				t.Parallel()
				sqltest.SmallPool(t, sqlDB{withPool(d.open(t), conns)})
			})
		}
	}
}

// TestSQLStorePoolOfOne runs the shared SQL store tests on a pool of one
// connection, on every dialect.
func TestSQLStorePoolOfOne(t *testing.T) {
	var ds []sqltest.Dialect
	for _, d := range dialects {
		ds = append(ds, sqltest.Dialect{
			Name:        d.name,
			Dialect:     dialectOf(d),
			Placeholder: placeholders(d),
			Open:        func(t *testing.T) sqltest.DB { return sqlDB{withPool(d.open(t), 1)} },
		})
	}
	sqltest.RunStoreTests(t, ds)
}

// TestConformancePoolOfOne runs the conformance suite on a pool of one
// connection, on PostgreSQL and MariaDB, with rows written behind the
// store and the per-user index (gormstore leaves that to this test). SQLite is left out because TestConformance already runs it on one
// connection (SQLite has one writer).
func TestConformancePoolOfOne(t *testing.T) {
	for _, d := range dialects {
		if d.name == "SQLite" {
			continue
		}
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			conformance(t, d, withPool(d.open(t), 1), bunstore.Config{}, true)
		})
	}
}

// TestPreparedOnce counts the statements MariaDB receives for 20 Commits
// and Deletes on a pool of one connection: each of Delete's statements is
// prepared once (after one unprepared run inside the first transaction), not
// prepared, run and closed every time.
func TestPreparedOnce(t *testing.T) {
	d := dialects[1]
	db, rec := openRecorded(t, d)
	withPool(db, 1)
	table := tableName()
	s := newStore(t, db, bunstore.Config{Table: table})
	st, err := sqlstore.New(sqlstore.MySQL, sqlstore.Question, table)
	if err != nil {
		t.Fatal(err)
	}
	rec.Reset()
	const n = 20
	for i := range n {
		tok := fmt.Sprint("once-", i)
		if err := s.Commit(tok, []byte("v"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(tok); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	for _, r := range rec.Statements() {
		seen[r.Query]++
	}
	for name, q := range map[string]string{"Commit": st.Commit, "Claim": st.Claim, "Tombstone": st.Tombstone, "Delete": st.Delete, "Unclaim": st.Unclaim} {
		// Commit: one prepare. Inside the transaction: one unprepared run
		// (the driver's ErrSkip, then a prepare), then Warm's prepare.
		if got := seen[q]; got == 0 || got > 3 {
			t.Errorf("%s reached the driver %d times in %d Deletes, want 1 to 3: %s", name, got, n, q)
		}
	}
}

// TestRevokeCrash kills the connection of a DeleteUserSessions after each
// of its statements on MariaDB (a transaction of several statements) and
// SQLite: the revoke is all or nothing.
func TestRevokeCrash(t *testing.T) {
	for _, d := range []dialect{dialects[1], dialects[2]} {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			var driver, dsn string
			var dial schema.Dialect
			conns := 4
			if d.name == "MariaDB" {
				driver, dial = "mysql", mysqldialect.New()
				dsn = testenv.MySQLDSN()
			} else {
				driver, dial, conns = "sqlite", sqlitedialect.New(), 1
				dsn = "file:" + filepath.Join(t.TempDir(), "sessions.db") + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)"
			}
			killer, err := sqltest.NewKiller(driver, dsn)
			if err != nil {
				testenv.Unavailable(t, d.name, "check the DSN", err)
			}
			sqldb := sql.OpenDB(killer)
			sqldb.SetMaxOpenConns(conns)
			db := bun.NewDB(sqldb, dial)
			t.Cleanup(func() { db.Close() })
			if err := db.PingContext(context.Background()); err != nil {
				testenv.Unavailable(t, d.name, "check the DSN", err)
			}
			sqltest.RevokeCrash(t, sqlDB{db}, killer)
		})
	}
}
