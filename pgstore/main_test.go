package pgstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "github.com/lib/pq"              // database/sql driver "postgres"
	"go.uber.org/goleak"

	"github.com/sessionstore/sessionstore/internal/peertest"
	"github.com/sessionstore/sessionstore/internal/pgcore"
	"github.com/sessionstore/sessionstore/internal/testenv"
)

// testDSN is the shared PostgreSQL server the tests use. Each test works in
// its own uniquely named table or schema, so tests (and other packages) can
// run against it at the same time.
var testDSN = testenv.PostgresDSN()

var shared struct {
	once sync.Once
	pool *pgxpool.Pool
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.pool != nil {
		shared.pool.Close()
	}
	sharedSQL.Range(func(_, v any) bool {
		if db := v.(*sqlShared).db; db != nil {
			db.Close()
		}
		return true
	})
	if code == 0 {
		// scs.New (in Example) starts a memstore that it never stops.
		ignore := goleak.IgnoreTopFunction("github.com/alexedwards/scs/v2/memstore.(*MemStore).startCleanup")
		if err := goleak.Find(ignore); err != nil {
			fmt.Fprintln(os.Stderr, "goleak: leaked goroutines:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// sharedPool returns the pool shared by the tests, skipping (or, in CI,
// failing) the test when PostgreSQL is unreachable.
func sharedPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	shared.once.Do(func() {
		cfg, err := pgxpool.ParseConfig(testDSN)
		if err != nil {
			shared.err = err
			return
		}
		cfg.MaxConns = 8
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err == nil {
			err = pool.Ping(ctx)
		}
		if err != nil {
			if pool != nil {
				pool.Close()
			}
			shared.err = err
			return
		}
		shared.pool = pool
	})
	if shared.err != nil {
		testenv.Unavailable(t, "PostgreSQL at "+testDSN, "set "+testenv.PostgresEnv, shared.err)
	}
	return shared.pool
}

// sqlShared is the *sql.DB the tests share for one database/sql driver.
type sqlShared struct {
	once sync.Once
	db   *sql.DB
	err  error
}

var sharedSQL sync.Map // driver name -> *sqlShared

// sharedDB returns the *sql.DB of driver ("pgx": pgx's stdlib, "postgres":
// lib/pq) shared by the tests, on the same database as sharedPool.
func sharedDB(t testing.TB, driver string) *sql.DB {
	t.Helper()
	v, _ := sharedSQL.LoadOrStore(driver, new(sqlShared))
	sh := v.(*sqlShared)
	sh.once.Do(func() {
		db, err := sql.Open(driver, testDSN)
		if err == nil {
			db.SetMaxOpenConns(8)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = db.PingContext(ctx)
			cancel()
			if err != nil {
				db.Close()
			}
		}
		sh.db, sh.err = db, err
	})
	if sh.err != nil {
		testenv.Unavailable(t, "PostgreSQL at "+testDSN+" through database/sql driver "+driver, "set "+testenv.PostgresEnv, sh.err)
	}
	return sh.db
}

// testDriver is a way the tests reach PostgreSQL: a store made by
// newTestStoreOn runs on it.
type testDriver struct {
	name string
	// open is NewWithConfig on the driver's shared handle.
	open func(t testing.TB, cfg Config) (*PostgresStore, error)
	// connect opens a handle of its own on dsn, of at most maxConns
	// connections and closed when t ends, and returns newStore on it.
	connect func(t testing.TB, dsn string, maxConns int) storeMaker
}

// storeMaker is newStore (NewWithConfig, and tests' setup) on one handle.
type storeMaker func(cfg Config, setup ...func(*pgcore.Store)) (*PostgresStore, error)

// testDrivers are every handle a store can run on: a pgx pool, and a
// *sql.DB through pgx's stdlib and through lib/pq.
var testDrivers = []testDriver{
	{"pgx", func(t testing.TB, cfg Config) (*PostgresStore, error) { return NewWithConfig(sharedPool(t), cfg) }, connectPool},
	{"stdlib", func(t testing.TB, cfg Config) (*PostgresStore, error) { return NewWithConfig(sharedDB(t, "pgx"), cfg) }, connectSQL("pgx")},
	{"pq", func(t testing.TB, cfg Config) (*PostgresStore, error) {
		return NewWithConfig(sharedDB(t, "postgres"), cfg)
	}, connectSQL("postgres")},
}

func connectPool(t testing.TB, dsn string, maxConns int) storeMaker {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = int32(maxConns)
	pool, err := newPoolWithConfig(context.Background(), cfg)
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL at "+dsn, "set "+testenv.PostgresEnv, err)
	}
	t.Cleanup(pool.Close)
	return func(cfg Config, setup ...func(*pgcore.Store)) (*PostgresStore, error) {
		return newStore(pool, cfg, false, setup...)
	}
}

func connectSQL(driver string) func(t testing.TB, dsn string, maxConns int) storeMaker {
	return func(t testing.TB, dsn string, maxConns int) storeMaker {
		t.Helper()
		db, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		db.SetMaxOpenConns(maxConns)
		if err := db.Ping(); err != nil {
			testenv.Unavailable(t, "PostgreSQL at "+dsn+" through "+driver, "set "+testenv.PostgresEnv, err)
		}
		return func(cfg Config, setup ...func(*pgcore.Store)) (*PostgresStore, error) {
			return newStore(db, cfg, false, setup...)
		}
	}
}

// schemaDSN is testDSN with the search_path of pool (see newSchemaPool).
func schemaDSN(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	var schema string
	if err := pool.QueryRow(context.Background(), "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	dsn, err := peertest.WithSearchPath(testDSN, schema)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// forEachDriver runs f as a subtest for each of testDrivers (all of them,
// or those named).
func forEachDriver(t *testing.T, f func(t *testing.T, d testDriver), names ...string) {
	for _, d := range testDrivers {
		if len(names) > 0 && !slices.Contains(names, d.name) {
			continue
		}
		t.Run(d.name, func(t *testing.T) { f(t, d) })
	}
}

// rawPool returns a pgx pool on s's database, for the tests' own
// statements: s's pool, or the shared pool for a store on a *sql.DB.
func (s *PostgresStore) rawPool() *pgxpool.Pool {
	if d, ok := s.core.DB().(poolDB); ok {
		return d.p
	}
	return shared.pool
}

// reopen returns another store on the database handle of s.
func (s *PostgresStore) reopen(cfg Config) (*PostgresStore, error) {
	switch d := s.core.DB().(type) {
	case poolDB:
		return NewWithConfig(d.p, cfg)
	case sqlDB:
		return NewWithConfig(d.db, cfg)
	}
	panic("unknown DB")
}

// uniqueName returns prefix followed by a random suffix.
func uniqueName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// newTestStore returns a store on a fresh table of the shared database; the
// table is dropped when the test ends. cfg.Table, if set, is ignored.
func newTestStore(t testing.TB, cfg Config) *PostgresStore {
	t.Helper()
	return newTestStoreOn(t, testDrivers[0], cfg)
}

// newTestStoreOn is newTestStore on the handle of d.
func newTestStoreOn(t testing.TB, d testDriver, cfg Config) *PostgresStore {
	t.Helper()
	pool := sharedPool(t)
	cfg.Table = uniqueName("pgstore_test_")
	cfg.CreateTable = true
	s, err := d.open(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.StopCleanup()
		dropTables(t, pool, s)
	})
	return s
}

func dropTables(t testing.TB, pool *pgxpool.Pool, s *PostgresStore) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := pool.Exec(ctx, "DROP TABLE IF EXISTS "+s.core.Names.Sessions+", "+s.core.Names.Tombstones); err != nil {
		t.Errorf("dropping the test tables: %v", err)
	}
}

// newSchemaPool creates a fresh schema and returns a pool whose search_path
// is that schema, so that code using the unqualified default table
// "sessions" (as SCS's tests do) works in isolation. Both are removed when
// the test ends.
func newSchemaPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	admin := sharedPool(t)
	schema := uniqueName("pgstore_schema_")
	ctx := context.Background()
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	cfg, err := pgxpool.ParseConfig(testDSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 4
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// scsSchema is the DDL of SCS's pgxstore README.
const scsSchema = `CREATE TABLE sessions (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);`

// count returns the result of a count(*) query.
func count(t testing.TB, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func newPoolWithConfig(ctx context.Context, cfg *pgxpool.Config) (*pgxpool.Pool, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}
