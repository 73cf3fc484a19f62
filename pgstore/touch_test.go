package pgstore

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore/storetest"
)

// writeCounter counts the statements pgx sends that are not a SELECT.
type writeCounter struct{ writes atomic.Int64 }

func (c *writeCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if !strings.HasPrefix(strings.TrimSpace(d.SQL), "SELECT") {
		c.writes.Add(1)
	}
	return ctx
}

func (c *writeCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// The statements of a batch (AsyncCommit's) are traced one by one here.
func (c *writeCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (c *writeCounter) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	if !strings.HasPrefix(strings.TrimSpace(d.SQL), "SELECT") {
		c.writes.Add(1)
	}
}

func (c *writeCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// tracedPool is a pool of at most conns connections whose statements c
// sees.
func tracedPool(t *testing.T, conns int32, c pgx.QueryTracer) *pgxpool.Pool {
	t.Helper()
	sharedPool(t) // skips, or fails in CI, without a server
	cfg, err := pgxpool.ParseConfig(testDSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = conns
	cfg.ConnConfig.Tracer = c
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// TestTouchWrites counts the writes that reach the server when every
// session gets an unchanged request every 5 seconds for 10 minutes: with a
// one-minute window, one per session per minute (and the first); without
// it, one per request. With the per-user index and with AsyncCommit too.
func TestTouchWrites(t *testing.T) {
	const (
		n     = 20
		every = 5 * time.Second
		span  = 10 * time.Minute
	)
	for _, c := range []struct {
		name string
		cfg  Config
		max  int64
	}{
		{"off", Config{}, n * int64(span/every+1)},
		{"off+async", Config{AsyncCommit: true}, n * int64(span/every+1)},
		{"window", Config{TouchWindow: time.Minute}, n * int64(span/time.Minute+1)},
		{"window+index", Config{TouchWindow: time.Minute, Owner: storetest.Owner}, n * int64(span/time.Minute+1)},
		{"window+async", Config{TouchWindow: time.Minute, AsyncCommit: true}, n * int64(span/time.Minute+1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			var count writeCounter
			pool := tracedPool(t, 4, &count)
			clock := storetest.NewClock(time.Now().Truncate(time.Microsecond))
			cfg := c.cfg
			cfg.Table, cfg.CreateTable, cfg.Now, cfg.CleanupInterval = uniqueName("pgstore_touch_"), true, clock.Now, -1
			s, err := NewWithConfig(pool, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { dropTables(t, sharedPool(t), s) })
			// Each request re-encodes the same values, as SCS does, so gob
			// writes the map in a new order; the expiry is idle from now.
			values := func(i int) map[string]any {
				return map[string]any{storetest.OwnerKey: fmt.Sprint("user-", i), "csrf": "Zm9vYmFyYmF6cXV4", "prefs": strings.Repeat("p", 900)}
			}
			deadline := clock.Now().Add(24 * time.Hour)
			encode := func(i int) []byte {
				b, err := scs.GobCodec{}.Encode(deadline, values(i))
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			tokens := make([]string, n)
			for i := range tokens {
				tokens[i] = fmt.Sprintf("touch-token-%02d", i)
				if err := s.Commit(tokens[i], encode(i), clock.Now().Add(30*time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			before := count.writes.Load()
			requests := int64(0)
			for range span / every {
				clock.Advance(every)
				for i, tok := range tokens {
					if _, found, err := s.Find(tok); err != nil || !found {
						t.Fatalf("Find(%s): %v, %v", tok, found, err)
					}
					if err := s.Commit(tok, encode(i), clock.Now().Add(30*time.Minute)); err != nil {
						t.Fatal(err)
					}
					requests++
				}
			}
			writes := count.writes.Load() - before + n // the first Commits
			t.Logf("%d requests on %d sessions over %v: %d writes", requests, n, span, writes)
			if writes > c.max {
				t.Fatalf("%d writes, want at most %d", writes, c.max)
			}
			if c.cfg.TouchWindow == 0 && writes != requests+n {
				t.Fatalf("without a window: %d writes for %d Commits", writes, requests+n)
			}
		})
	}
}

func TestTouchWindowNegative(t *testing.T) {
	_, err := NewWithConfig(sharedPool(t), Config{Table: uniqueName("pgstore_touch_"), TouchWindow: -time.Second})
	if err == nil || !strings.Contains(err.Error(), "TouchWindow") {
		t.Fatalf("NewWithConfig with a negative TouchWindow: %v, want an error naming it", err)
	}
}

// TestAsyncCommit checks on the server that an AsyncCommit Commit returns
// before its WAL is flushed, while a Delete on the same store, and a Commit
// without the option, return after. Before each operation it waits for the
// WAL writer (which flushes asynchronous commits every wal_writer_delay,
// 200 ms by default) and reads the WAL insert position; right after, on
// the same connection, the flush position. A durable operation has flushed
// its commit record, which lies past the position read before it, whatever
// else the server does; an asynchronous Commit has not, unless another
// transaction's flush carried it.
func TestAsyncCommit(t *testing.T) {
	pool := tracedPool(t, 1, &writeCounter{})
	lsn := func(q string) string {
		var l string
		if err := pool.QueryRow(context.Background(), q).Scan(&l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	const tries = 10
	// flushed returns how many of tries runs of op were flushed on return.
	flushed := func(cfg Config, op func(s *PostgresStore, tok string) error) int {
		cfg.Table, cfg.CreateTable, cfg.CleanupInterval = uniqueName("pgstore_async_"), true, -1
		s, err := NewWithConfig(pool, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dropTables(t, sharedPool(t), s) })
		n := 0
		for i := range tries {
			tok := fmt.Sprintf("token-%d", i)
			if err := s.Commit(tok, []byte("data"), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond)
			before := lsn("SELECT pg_current_wal_insert_lsn()::text")
			if err := op(s, tok); err != nil {
				t.Fatal(err)
			}
			var done bool
			if err := pool.QueryRow(context.Background(), "SELECT pg_current_wal_flush_lsn() > $1::text::pg_lsn", before).Scan(&done); err != nil {
				t.Fatal(err)
			}
			if done {
				n++
			}
		}
		return n
	}
	commit := func(s *PostgresStore, tok string) error {
		return s.Commit(tok, []byte("changed"), time.Now().Add(time.Hour))
	}
	del := func(s *PostgresStore, tok string) error { return s.Delete(tok) }
	async := flushed(Config{AsyncCommit: true}, commit)
	durable := flushed(Config{}, commit)
	asyncDelete := flushed(Config{AsyncCommit: true}, del)
	t.Logf("flushed on return: %d/%d async Commits, %d/%d durable Commits, %d/%d Deletes on the async store",
		async, tries, durable, tries, asyncDelete, tries)
	if durable != tries || asyncDelete != tries {
		t.Errorf("a durable operation returned before its WAL was flushed")
	}
	if async > tries/2 {
		t.Errorf("%d of %d async Commits were flushed when they returned: AsyncCommit does not take effect (or other traffic flushed them)", async, tries)
	}
}
