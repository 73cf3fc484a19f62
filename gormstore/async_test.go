package gormstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/sessionstore/sessionstore/gormstore"
	"github.com/sessionstore/sessionstore/internal/sqltest"
	"github.com/sessionstore/sessionstore/internal/testenv"
)

// TestAsyncCommit checks on the server that with Config.AsyncCommit a
// Commit returns before its WAL is flushed, and a Delete after (see
// sqltest.AsyncCommit), with and without Config.Callbacks.
func TestAsyncCommit(t *testing.T) {
	for _, tc := range []struct {
		name string
		db   sqltest.DB
	}{
		{"pool", sqlDB{openPostgres(t)}},
		{"callbacks", callbacksDB{sqlDB{openPostgres(t)}}},
	} {
		t.Run(tc.name, func(t *testing.T) { // not parallel: other traffic flushes the WAL
			sqltest.AsyncCommit(t, tc.db, sqltest.Options{})
		})
	}
}

// TestAsyncCommitBatch checks that on pgx's stdlib an AsyncCommit Commit
// sends its setting and its statement as one pgx batch, without BEGIN,
// and that with Config.Callbacks it runs them in a GORM transaction.
func TestAsyncCommitBatch(t *testing.T) {
	for _, tc := range []struct {
		name            string
		callbacks       bool
		batches, begins int // per Commit
	}{
		{"pool", false, 1, 0},
		{"callbacks", true, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &batchTracer{}
			s := newStore(t, openTraced(t, tr), gormstore.Config{AsyncCommit: true, Callbacks: tc.callbacks})
			const commits = 3
			tr.reset()
			for i := range commits {
				tok := fmt.Sprint("token-", i)
				if err := s.Commit(tok, []byte("data"), time.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			batches, begins := tr.counts()
			if batches != tc.batches*commits || begins != tc.begins*commits {
				t.Errorf("%d Commits sent %d batches and %d BEGINs, want %d and %d", commits, batches, begins, tc.batches*commits, tc.begins*commits)
			}
		})
	}
}

// TestAsyncCommitRefused checks that NewWithConfig refuses AsyncCommit on
// MariaDB and SQLite.
func TestAsyncCommitRefused(t *testing.T) {
	for _, d := range dialects[1:] {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			sqltest.AsyncCommitRefused(t, sqlDB{d.open(t)}, "gormstore")
		})
	}
}

// TestConformanceAsync runs the conformance suite on PostgreSQL with
// Config.AsyncCommit.
func TestConformanceAsync(t *testing.T) {
	conformance(t, dialects[0], openPostgres(t), gormstore.Config{AsyncCommit: true}, true)
}

// callbacksDB is sqlDB with Config.Callbacks.
type callbacksDB struct{ sqlDB }

func (d callbacksDB) NewStore(t *testing.T, o sqltest.Options) sqltest.SQLStore {
	cfg := config(o)
	cfg.Callbacks = true
	return newStore(t, d.db, cfg)
}

// openTraced is openPostgres with tr tracing pgx.
func openTraced(t *testing.T, tr *batchTracer) *gorm.DB {
	cfg, err := pgx.ParseConfig(testenv.PostgresDSN())
	var db *gorm.DB
	if err == nil {
		cfg.Tracer = tr
		db, err = gorm.Open(postgres.New(postgres.Config{Conn: stdlib.OpenDB(*cfg)}), quiet())
	}
	return ready(t, db, err, "PostgreSQL at 127.0.0.1:5432", "set "+testenv.PostgresEnv, 4)
}

// batchTracer counts the batches pgx sends and the BEGINs it runs.
type batchTracer struct {
	mu      sync.Mutex
	batches int
	begins  int
}

func (b *batchTracer) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batches, b.begins = 0, 0
}

func (b *batchTracer) counts() (batches, begins int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.batches, b.begins
}

func (b *batchTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.HasPrefix(strings.ToLower(d.SQL), "begin") {
		b.mu.Lock()
		b.begins++
		b.mu.Unlock()
	}
	return ctx
}

func (b *batchTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (b *batchTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	b.mu.Lock()
	b.batches++
	b.mu.Unlock()
	return ctx
}

func (b *batchTracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (b *batchTracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}
