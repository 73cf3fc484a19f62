package touchbench

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/sessionstore/sessionstore/bunstore"
	"github.com/sessionstore/sessionstore/gormstore"
)

// pgSQLDB returns a database/sql pool of poolConns connections on the
// benchmark schema, through pgx's stdlib, counting its writes.
func pgSQLDB(b *testing.B) (*sql.DB, *writeCounter) {
	b.Helper()
	pgPool(b) // creates the schema
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	c := &writeCounter{}
	cfg.Tracer = c
	cfg.RuntimeParams["search_path"] = pg.schema
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(poolConns)
	db.SetMaxIdleConns(poolConns)
	b.Cleanup(func() { db.Close() })
	return db, c
}

// rawTarget is raw pgx (the harness's rawStore) on its own table, filled
// with the seed.
func rawTarget(b *testing.B, table string, tokens []string, data [][]byte, expiry time.Time) target {
	b.Helper()
	pool, c := pgPool(b)
	if _, err := pool.Exec(context.Background(), "CREATE TABLE "+table+" (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL); CREATE INDEX ON "+table+" (expiry)"); err != nil {
		b.Fatal(err)
	}
	fill(b, pool, table, tokens, data, expiry)
	return target{name: "raw", store: rawStore{pool: pool, table: table}, writes: c.n.Load}
}

var gormTargets struct {
	once    sync.Once
	tokens  []string
	targets []target
}

// BenchmarkTouchGORM: raw pgx, gormstore on PostgreSQL without
// TouchWindow, and with a one-minute window, under the same requests.
func BenchmarkTouchGORM(b *testing.B) {
	gormTargets.once.Do(func() {
		tokens, data, expiry := seed()
		raw := rawTarget(b, "t_raw_gorm", tokens, data, expiry)
		pool, _ := pgPool(b)
		gormTarget := func(name, table string, cfg gormstore.Config) target {
			db, c := pgSQLDB(b)
			g, err := gorm.Open(postgres.New(postgres.Config{Conn: db}), &gorm.Config{Logger: logger.Discard})
			if err != nil {
				b.Fatal(err)
			}
			cfg.Table, cfg.CleanupInterval = table, -1
			s, err := gormstore.NewWithConfig(g, cfg)
			if err != nil {
				b.Fatal(err)
			}
			fill(b, pool, table, tokens, data, expiry)
			return target{name: name, store: s, writes: c.n.Load}
		}
		gormTargets.tokens = tokens
		gormTargets.targets = []target{
			raw,
			gormTarget("gormstore", "t_gorm", gormstore.Config{}),
			gormTarget("gormstore+touch", "t_gorm_touch", gormstore.Config{TouchWindow: window}),
		}
	})
	if gormTargets.targets == nil {
		b.Skip("setup failed")
	}
	run(b, gormTargets.targets, gormTargets.tokens)
}

var bunTargets struct {
	once    sync.Once
	tokens  []string
	targets []target
}

// BenchmarkTouchBun: raw pgx, bunstore on PostgreSQL without TouchWindow,
// and with a one-minute window, under the same requests.
func BenchmarkTouchBun(b *testing.B) {
	bunTargets.once.Do(func() {
		tokens, data, expiry := seed()
		raw := rawTarget(b, "t_raw_bun", tokens, data, expiry)
		pool, _ := pgPool(b)
		bunTarget := func(name, table string, cfg bunstore.Config) target {
			db, c := pgSQLDB(b)
			cfg.Table, cfg.CleanupInterval = table, -1
			s, err := bunstore.NewWithConfig(bun.NewDB(db, pgdialect.New()), cfg)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Migrate(context.Background()); err != nil {
				b.Fatal(err)
			}
			fill(b, pool, table, tokens, data, expiry)
			return target{name: name, store: s, writes: c.n.Load}
		}
		bunTargets.tokens = tokens
		bunTargets.targets = []target{
			raw,
			bunTarget("bunstore", "t_bun", bunstore.Config{}),
			bunTarget("bunstore+touch", "t_bun_touch", bunstore.Config{TouchWindow: window}),
		}
	})
	if bunTargets.targets == nil {
		b.Skip("setup failed")
	}
	run(b, bunTargets.targets, bunTargets.tokens)
}
