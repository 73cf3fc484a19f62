package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/storetest"
)

// indexOnly runs only the Index subtests of the suite: its other subtests
// run in TestConformance, and get a store from this factory, which skips
// them.
func indexOnly(t *testing.T, indexed func(t *testing.T, now func() time.Time) storetest.Store) {
	storetest.RunWithOptions(t, func(t *testing.T, _ func() time.Time) storetest.Store {
		t.Skip("run by TestConformance")
		return nil
	}, storetest.Options{Indexed: indexed})
}

// TestConformanceIndexedPoolOfOne runs the Index subtests on a pool of one
// connection: no operation of the index may need a second connection
// while it holds one.
func TestConformanceIndexedPoolOfOne(t *testing.T) {
	t.Parallel()
	pool := onePool(t)
	indexOnly(t, func(t *testing.T, now func() time.Time) storetest.Store {
		setup := newTestStore(t, Config{CleanupInterval: -1, Owner: storetest.Owner})
		s, err := NewWithConfig(pool, Config{Table: setup.names.display, Now: now, CleanupInterval: -1,
			Owner: storetest.Owner, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestConformanceIndexedLegacy runs the Index subtests with the commit
// statement of servers older than PostgreSQL 15.
func TestConformanceIndexedLegacy(t *testing.T) {
	t.Parallel()
	indexOnly(t, func(t *testing.T, now func() time.Time) storetest.Store {
		s := newTestStore(t, Config{Now: now, CleanupInterval: -1, Owner: storetest.Owner})
		s.legacy.Store(true)
		return s
	})
}

// gobSession is SCS session data, as scs.GobCodec encodes it, of user ("":
// anonymous).
func gobSession(t testing.TB, user string, expiry time.Time) []byte {
	t.Helper()
	values := map[string]any{"cart": 3}
	if user != "" {
		values[storetest.OwnerKey] = user
	}
	b, err := scs.GobCodec{}.Encode(expiry, values)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// columns returns the columns of the table of s.
func columns(t *testing.T, pool *pgxpool.Pool, table string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT attname FROM pg_attribute
WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, table)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return cols
}

// stmtRecorder is a pgx tracer that records every statement sent.
type stmtRecorder struct {
	mu    sync.Mutex
	stmts []string
}

func (r *stmtRecorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	r.stmts = append(r.stmts, d.SQL)
	r.mu.Unlock()
	return ctx
}

func (r *stmtRecorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (r *stmtRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stmts
	r.stmts = nil
	return s
}

// recordedPool is a pool on the schema of pool whose statements rec
// records.
func recordedPool(t *testing.T, pool *pgxpool.Pool, rec *stmtRecorder, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg := pool.Config()
	cfg.ConnConfig.Tracer = rec
	cfg.MaxConns = maxConns
	p, err := newPoolWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// TestIndexOff checks that a store without Config.Owner leaves SCS's table
// as it is, even with CreateTable, runs no statement that knows of the
// index, and answers the UserIndex methods with ErrNoIndex.
func TestIndexOff(t *testing.T) {
	t.Parallel()
	pool := newSchemaPool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, scsSchema); err != nil {
		t.Fatal(err)
	}
	var rec stmtRecorder
	s, err := NewWithConfig(recordedPool(t, pool, &rec, 2), Config{CreateTable: true, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	if err := s.Commit("tok-a", gobSession(t, "alice", exp), exp); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Find("tok-a"); !found || err != nil {
		t.Fatalf("Find = %v, %v", found, err)
	}
	if err := s.Delete("tok-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := columns(t, pool, "sessions"), []string{"token", "data", "expiry"}; !slices.Equal(got, want) {
		t.Errorf("columns after Migrate with the index off = %v, want %v", got, want)
	}
	if n := count(t, pool, "SELECT count(*) FROM pg_indexes WHERE tablename = 'sessions' AND indexname = 'sessions_owner_idx'"); n != 0 {
		t.Error("Migrate with the index off created the owner index")
	}
	for _, q := range rec.take() {
		for _, word := range []string{"owner", "last_seen", "user_agent"} {
			if strings.Contains(q, word) {
				t.Errorf("with the index off, the store ran %q", q)
			}
		}
	}
	// The statements are those of a store built before the index existed.
	want := buildQueries(s.names)
	if s.q != want {
		t.Error("with the index off, the store's statements differ from buildQueries'")
	}
	if _, err := s.UserSessions(ctx, "alice"); !errors.Is(err, sessionstore.ErrNoIndex) {
		t.Errorf("UserSessions = %v, want ErrNoIndex", err)
	}
	if _, err := s.CountUserSessions(ctx, "alice"); !errors.Is(err, sessionstore.ErrNoIndex) {
		t.Errorf("CountUserSessions = %v, want ErrNoIndex", err)
	}
	if _, err := s.DeleteUserSession(ctx, "alice", "x"); !errors.Is(err, sessionstore.ErrNoIndex) {
		t.Errorf("DeleteUserSession = %v, want ErrNoIndex", err)
	}
	if _, err := s.DeleteUserSessions(ctx, "alice"); !errors.Is(err, sessionstore.ErrNoIndex) {
		t.Errorf("DeleteUserSessions = %v, want ErrNoIndex", err)
	}
	if _, err := s.DeleteUserSessionsExcept(ctx, "alice", "tok-a"); !errors.Is(err, sessionstore.ErrNoIndex) {
		t.Errorf("DeleteUserSessionsExcept = %v, want ErrNoIndex", err)
	}
}

// TestIndexNeedsMigration checks that NewWithConfig refuses to turn the
// index on over a table without its columns, saying what to run, and
// that a bad owner fails a Commit before any round trip.
func TestIndexNeedsMigration(t *testing.T) {
	t.Parallel()
	pool := newSchemaPool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, scsSchema); err != nil {
		t.Fatal(err)
	}
	_, err := NewWithConfig(pool, Config{CleanupInterval: -1, Owner: storetest.Owner})
	if !errors.Is(err, sessionstore.ErrNoIndex) || !strings.Contains(err.Error(), "Migrate") {
		t.Fatalf("NewWithConfig with Owner over SCS's table = %v, want ErrNoIndex saying to run Migrate", err)
	}
	if got := columns(t, pool, "sessions"); len(got) != 3 {
		t.Errorf("a refused NewWithConfig changed the table: %v", got)
	}

	// Migrated, on a pool that is then closed: the owner is read, and a
	// bad one refused, before any round trip.
	cfg := pool.Config()
	closed, err := newPoolWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewWithConfig(closed, Config{CleanupInterval: -1, Owner: storetest.Owner, CreateTable: true})
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	exp := time.Now().Add(time.Hour)
	bad, err := scs.GobCodec{}.Encode(exp, map[string]any{storetest.OwnerKey: 42})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit("tok", bad, exp); !errors.Is(err, sessionstore.ErrInvalidOwner) || !strings.HasPrefix(err.Error(), "pgstore: commit: ") {
		t.Errorf("Commit of a bad owner on a closed pool = %v, want pgstore: commit: ... ErrInvalidOwner", err)
	}
	if err := s.Commit("tok", gobSession(t, "alice", exp), exp); err == nil || errors.Is(err, sessionstore.ErrInvalidOwner) {
		t.Errorf("Commit of a good owner on a closed pool = %v, want a connection error", err)
	}
}

// listedTokens returns which of tokens UserSessions lists for user.
func listedTokens(t *testing.T, s *PostgresStore, user string, tokens []string) []string {
	t.Helper()
	got, err := s.UserSessions(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, us := range got {
		ids[us.ID] = true
	}
	var listed []string
	for _, tok := range tokens {
		if ids[sessionstore.SessionID(tok)] {
			listed = append(listed, tok)
		}
	}
	if len(listed) != len(got) {
		t.Fatalf("UserSessions(%q) lists %d sessions, %d of them known", user, len(got), len(listed))
	}
	return listed
}

// termOnBatch returns an onBackfill hook that, at batch k, terminates the
// backends of the pool named app, as a crash of the migrating process
// between the batch's read and its write would end them.
func termOnBatch(t *testing.T, k int, app string) func(int, []string) {
	return func(batch int, _ []string) {
		if batch != k {
			return
		}
		if _, err := sharedPool(t).Exec(context.Background(),
			"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", app); err != nil {
			t.Error(err)
		}
	}
}

// appPool is a pool on the schema of pool, named app in pg_stat_activity.
func appPool(t *testing.T, pool *pgxpool.Pool, app string) *pgxpool.Pool {
	t.Helper()
	cfg := pool.Config()
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	p, err := newPoolWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// TestBackfillCrash kills the migrating process's connections between the
// read and the write of backfill batch k, for every k: every session stays
// found, the batches before k are indexed and no other, and running
// Migrate again indexes the rest.
func TestBackfillCrash(t *testing.T) {
	t.Parallel()
	const n, batch = 200, 50
	for k := range n / batch {
		t.Run(fmt.Sprint("batch=", k), func(t *testing.T) {
			pool := newSchemaPool(t)
			ctx := context.Background()
			if _, err := pool.Exec(ctx, scsSchema); err != nil {
				t.Fatal(err)
			}
			old, err := NewWithConfig(pool, Config{CleanupInterval: -1, CreateTable: true})
			if err != nil {
				t.Fatal(err)
			}
			exp := time.Now().Add(time.Hour)
			var toks []string
			for i := range n {
				tok := fmt.Sprintf("tok-%04d", i)
				if err := old.Commit(tok, gobSession(t, "alice", exp), exp); err != nil {
					t.Fatal(err)
				}
				toks = append(toks, tok)
			}
			app := uniqueName("pgstore_backfill_")
			_, err = newStore(appPool(t, pool, app), Config{CleanupInterval: -1, CreateTable: true, Owner: storetest.Owner,
				Logger: slog.New(slog.DiscardHandler)}, false,
				func(s *PostgresStore) { s.backfillBatch = batch; s.onBackfill = termOnBatch(t, k, app) })
			if err == nil {
				t.Fatal("Migrate whose connections were killed mid-backfill succeeded")
			}
			s, err := NewWithConfig(pool, Config{CleanupInterval: -1, Owner: storetest.Owner})
			if err != nil {
				t.Fatalf("NewWithConfig after the crash: %v", err)
			}
			for _, tok := range toks {
				if _, found, err := s.Find(tok); !found || err != nil {
					t.Fatalf("Find(%s) after the crash = %v, %v", tok, found, err)
				}
			}
			if got := listedTokens(t, s, "alice", toks); !slices.Equal(got, toks[:k*batch]) {
				t.Fatalf("after a crash in batch %d: %d sessions listed, want the %d of the batches before", k, len(got), k*batch)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if got := listedTokens(t, s, "alice", toks); len(got) != n {
				t.Fatalf("after Migrate again: %d sessions listed, want %d", len(got), n)
			}
		})
	}
}
