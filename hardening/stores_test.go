package hardening

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/testenv"
	"github.com/sessionstore/sessionstore/memstore"
	"github.com/sessionstore/sessionstore/pgstore"
)

// Store is what these tests need: every method SCS calls, plus iteration.
type Store interface {
	Find(token string) ([]byte, bool, error)
	Commit(token string, b []byte, expiry time.Time) error
	Delete(token string) error
	FindCtx(ctx context.Context, token string) ([]byte, bool, error)
	CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error
	DeleteCtx(ctx context.Context, token string) error
	Sessions(ctx context.Context) iter.Seq2[sessionstore.Session, error]
}

// backend opens a fresh, empty store for a test and releases it after.
type backend struct {
	name string
	open func(t testing.TB) Store
}

// backends lists every store, each on every database it supports.
func backends() []backend {
	return append([]backend{
		{"memstore", func(t testing.TB) Store {
			s := memstore.NewWithCleanupInterval(0)
			t.Cleanup(s.StopCleanup)
			return s
		}},
		{"pgstore", func(t testing.TB) Store {
			pool := postgres(t)
			table := uniqueName("hardening")
			s, err := pgstore.NewWithConfig(pool, pgstore.Config{Table: table, CreateTable: true, CleanupInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				s.StopCleanup()
				dropTables(t, pool, table, table+"_tombstones")
			})
			return s
		}},
	}, append(ormBackends(), redisBackends()...)...)
}

var (
	pgOnce sync.Once
	pgPool *pgxpool.Pool
	pgErr  error
	serial atomic.Int64
)

// postgres returns the pool shared by every test on the local PostgreSQL
// (SESSIONSTORE_POSTGRES_DSN, default the test database).
func postgres(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pgOnce.Do(func() {
		dsn := testenv.PostgresDSN()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			pgErr = err
			return
		}
		cfg.MaxConns = 16
		if pgPool, pgErr = pgxpool.NewWithConfig(ctx, cfg); pgErr == nil {
			pgErr = pgPool.Ping(ctx)
		}
	})
	if pgErr != nil {
		testenv.Unavailable(t, "PostgreSQL at 127.0.0.1:5432", "set "+testenv.PostgresEnv, pgErr)
	}
	return pgPool
}

func closePools() {
	if pgPool != nil {
		pgPool.Close()
	}
	closeORMDatabases()
	closeRedis()
}

func uniqueName(prefix string) string {
	return fmt.Sprintf("%s_%d_%d", prefix, time.Now().UnixNano()%1e9, serial.Add(1))
}

func dropTables(t testing.TB, pool *pgxpool.Pool, tables ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tb := range tables {
		if _, err := pool.Exec(ctx, `DROP TABLE IF EXISTS "`+tb+`"`); err != nil {
			t.Errorf("drop %s: %v", tb, err)
		}
	}
}
