package bunstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/sessionstore/sessionstore/bunstore"
	"github.com/sessionstore/sessionstore/internal/sqltest"
	"github.com/sessionstore/sessionstore/internal/testenv"
)

// TestAsyncCommit checks on the server that with Config.AsyncCommit a
// Commit returns before its WAL is flushed, and a Delete after (see
// sqltest.AsyncCommit): on pgx's stdlib, which sends one batch, and on a
// driver wrapping it (sqltest's Recorder), whose connections are not pgx's,
// where the two statements run in a transaction.
func TestAsyncCommit(t *testing.T) {
	wrapped, _ := openRecorded(t, dialects[0])
	for _, tc := range []struct {
		name string
		db   sqltest.DB
	}{
		{"pgx", sqlDB{openPostgres(t)}},
		{"wrapped", sqlDB{wrapped}},
	} {
		t.Run(tc.name, func(t *testing.T) { // not parallel: other traffic flushes the WAL
			sqltest.AsyncCommit(t, tc.db, sqltest.Options{})
		})
	}
}

// TestAsyncCommitBatch checks that on pgx's stdlib an AsyncCommit Commit
// sends its setting and its statement as one pgx batch, without BEGIN.
func TestAsyncCommitBatch(t *testing.T) {
	tr := &batchTracer{}
	cfg, err := pgx.ParseConfig(testenv.PostgresDSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Tracer = tr
	sqldb := stdlib.OpenDB(*cfg)
	db := bun.NewDB(sqldb, pgdialect.New())
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		testenv.Unavailable(t, "PostgreSQL at 127.0.0.1:5432", "set "+testenv.PostgresEnv, err)
	}
	s := newStore(t, db, bunstore.Config{AsyncCommit: true})
	const commits = 3
	tr.reset()
	for i := range commits {
		if err := s.Commit(fmt.Sprint("token-", i), []byte("data"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if batches, begins := tr.counts(); batches != commits || begins != 0 {
		t.Errorf("%d Commits sent %d batches and %d BEGINs, want %d and 0", commits, batches, begins, commits)
	}
}

// TestAsyncCommitRefused checks that NewWithConfig refuses AsyncCommit on
// MariaDB and SQLite.
func TestAsyncCommitRefused(t *testing.T) {
	for _, d := range dialects[1:] {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			sqltest.AsyncCommitRefused(t, sqlDB{d.open(t)}, "bunstore")
		})
	}
}

// TestConformanceAsync runs the conformance suite on PostgreSQL with
// Config.AsyncCommit.
func TestConformanceAsync(t *testing.T) {
	conformance(t, dialects[0], openPostgres(t), bunstore.Config{AsyncCommit: true}, true)
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
