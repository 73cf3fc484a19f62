package gormstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/sessionstore/sessionstore/gormstore"
	"github.com/sessionstore/sessionstore/internal/sqlstore"
	"github.com/sessionstore/sessionstore/internal/sqltest"
)

// TestSQLStore runs the tests every SQL store shares (internal/sqltest) on
// gormstore, on every dialect.
func TestSQLStore(t *testing.T) {
	var ds []sqltest.Dialect
	for _, d := range dialects {
		ds = append(ds, sqltest.Dialect{
			Name:        d.name,
			Dialect:     dialectOf(d),
			Placeholder: sqlstore.Question, // GORM rewrites ? for PostgreSQL
			Open:        func(t *testing.T) sqltest.DB { return sqlDB{d.open(t)} },
			Manager:     newManager,
		})
		if d.openAs != nil {
			ds[len(ds)-1].OpenAs = func(t *testing.T, user string) sqltest.DB { return sqlDB{d.openAs(t, user)} }
		}
	}
	sqltest.RunStoreTests(t, ds)
}

// TestIndex runs the per-user index tests every SQL store shares
// (migration, privileges, index off) on every dialect.
func TestIndex(t *testing.T) {
	var ds []sqltest.Dialect
	for _, d := range dialects {
		ds = append(ds, sqltest.Dialect{
			Name:        d.name,
			Dialect:     dialectOf(d),
			Placeholder: placeholders(d),
			Open:        func(t *testing.T) sqltest.DB { return sqlDB{d.open(t)} },
		})
		if d.openAs != nil {
			ds[len(ds)-1].OpenAs = func(t *testing.T, user string) sqltest.DB { return sqlDB{d.openAs(t, user)} }
		}
	}
	sqltest.RunIndexTests(t, ds)
}

// forEachDialect runs test on every dialect, in parallel.
func forEachDialect(t *testing.T, test func(t *testing.T, d dialect, db *gormDB)) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			test(t, d, d.open(t))
		})
	}
}

// sqlDB is gormstore's side of sqltest.DB.
type sqlDB struct{ db *gormDB }

func (d sqlDB) NewStore(t *testing.T, o sqltest.Options) sqltest.SQLStore {
	cfg := config(o)
	cfg.CleanupBatchSize, cfg.OnCleanup = o.CleanupBatchSize, o.OnCleanup
	gormstore.SetBeforeBackfill(&cfg, o.BeforeBackfill)
	return newStore(t, d.db, cfg)
}

// config is the Config of o but for the fields only NewStore sets.
func config(o sqltest.Options) gormstore.Config {
	cfg := gormstore.Config{
		Table:             o.Table,
		Timeout:           o.Timeout,
		CleanupInterval:   o.CleanupInterval,
		Logger:            o.Logger,
		Now:               o.Now,
		TombstoneLifetime: o.TombstoneLifetime,
		ClockSkew:         o.ClockSkew,
		AllowNoTombstones: o.AllowNoTombstones,
		Owner:             o.Owner,
		TouchWindow:       o.TouchWindow,
		AsyncCommit:       o.AsyncCommit,
	}
	if o.OldNames {
		cfg.TableName, cfg.Table = cfg.Table, ""
		cfg.DeleteTimeout, cfg.Timeout = cfg.Timeout, 0
	}
	return cfg
}

func (d sqlDB) TryStore(t *testing.T, o sqltest.Options) (sqltest.SQLStore, error) {
	cfg := config(o)
	cfg.CleanupInterval = -1
	s, err := gormstore.NewWithConfig(d.db, cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(s.StopCleanup)
	return s, nil
}

// newManager is an SCS session manager on s.
func newManager(s sqltest.SQLStore, idle time.Duration) sqltest.Manager {
	m := scs.New()
	m.Store = s
	m.IdleTimeout = idle
	return m
}

func (d sqlDB) Exec(query string, args ...any) error { return d.db.Exec(query, args...).Error }

func (d sqlDB) SQL() *sql.DB {
	pool, _ := d.db.DB() // ready checked it
	return pool
}

// placeholders is the style sqlDB.Exec takes: GORM rewrites ? for PostgreSQL.
func placeholders(dialect) sqlstore.Placeholders { return sqlstore.Question }

func dialectOf(d dialect) sqlstore.Dialect {
	switch d.name {
	case "PostgreSQL":
		return sqlstore.Postgres
	case "MariaDB":
		return sqlstore.MySQL
	}
	return sqlstore.SQLite
}

func TestBadTable(t *testing.T) {
	db := openSQLite(t)
	for _, name := range []string{"x; DROP TABLE y", `a"b`, "1abc", strings.Repeat("t", 41), "a.b"} {
		if s, err := gormstore.NewWithConfig(db, gormstore.Config{Table: name}); err == nil {
			s.StopCleanup()
			t.Errorf("NewWithConfig(Table: %q) succeeded, want an error", name)
		}
	}
}

// TestCleanupLockedElsewhere holds PostgreSQL's cleanup lock, as another
// replica cleaning up would: DeleteExpired then deletes nothing, and
// succeeds.
func TestCleanupLockedElsewhere(t *testing.T) {
	db := openPostgres(t)
	table := tableName()
	s := newStore(t, db, gormstore.Config{Table: table})
	for i := range 3 {
		if err := s.Commit(fmt.Sprint("old-", i), []byte("x"), time.Now().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	lock, err := sqltest.CleanupLock(table)
	if err != nil {
		t.Fatal(err)
	}
	tx := db.Begin()
	if err := tx.Exec(lock).Error; err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteExpired(context.Background()); err != nil || n != 0 {
		t.Errorf("DeleteExpired while another replica cleans = %d, %v; want 0, nil", n, err)
	}
	tx.Rollback()
	if n, err := s.DeleteExpired(context.Background()); err != nil || n != 3 {
		t.Errorf("DeleteExpired = %d, %v; want 3, nil", n, err)
	}
}

// TestRenamedFields checks Config's deprecated TableName and DeleteTimeout
// against Table and Timeout: either may repeat the other, but not
// contradict it. (sqltest's Timeout/DeleteTimeout runs a store on the
// deprecated names alone.)
func TestRenamedFields(t *testing.T) {
	db := openSQLite(t)
	table := tableName()
	t.Cleanup(func() { dropTables(t, db, table) })
	for _, tc := range []struct {
		name string
		cfg  gormstore.Config
		ok   bool
	}{
		{"TableNameDiffers", gormstore.Config{Table: table, TableName: "other"}, false},
		{"DeleteTimeoutDiffers", gormstore.Config{Table: table, Timeout: time.Second, DeleteTimeout: 2 * time.Second}, false},
		{"Same", gormstore.Config{Table: table, TableName: table, Timeout: time.Second, DeleteTimeout: time.Second}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.CleanupInterval = -1
			s, err := gormstore.NewWithConfig(db, tc.cfg)
			if err == nil {
				s.StopCleanup()
			}
			if ok := err == nil; ok != tc.ok {
				t.Errorf("NewWithConfig(%+v): err = %v, want success %v", tc.cfg, err, tc.ok)
			}
		})
	}
}

// TestPostgresRunsCore checks that gormstore on PostgreSQL runs the shared
// PostgreSQL core's statements (internal/pgcore), MERGE included.
func TestPostgresRunsCore(t *testing.T) {
	db, rec := openRecorded(t, dialects[0])
	sqltest.RunsCore(t, sqlDB{db}, rec)
}
