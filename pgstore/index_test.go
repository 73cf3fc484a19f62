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
	"github.com/sessionstore/sessionstore/internal/pgcore"
	"github.com/sessionstore/sessionstore/internal/testenv"
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
	forEachDriver(t, func(t *testing.T, d testDriver) {
		t.Parallel()
		open := d.connect(t, testDSN, 1)
		indexOnly(t, func(t *testing.T, now func() time.Time) storetest.Store {
			setup := newTestStore(t, Config{CleanupInterval: -1, Owner: storetest.Owner})
			s, err := open(Config{Table: setup.core.Names.Display, Now: now, CleanupInterval: -1,
				Owner: storetest.Owner, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	}, "pgx", "stdlib")
}

// TestConformanceIndexedLegacy runs the Index subtests with the commit
// statement of servers older than PostgreSQL 15.
func TestConformanceIndexedLegacy(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, d testDriver) {
		t.Parallel()
		indexOnly(t, func(t *testing.T, now func() time.Time) storetest.Store {
			s := newTestStoreOn(t, d, Config{Now: now, CleanupInterval: -1, Owner: storetest.Owner})
			s.core.SetLegacy(true)
			return s
		})
	}, "pgx", "stdlib")
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
	if n := count(t, pool, "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'sessions' AND indexname = 'sessions_owner_idx'"); n != 0 {
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
	want := pgcore.BuildQueries(s.core.Names)
	if s.core.Q != want {
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
				func(c *pgcore.Store) { c.BackfillBatch = batch; c.OnBackfill = termOnBatch(t, k, app) })
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

// TestMigratePopulated turns the index on over SCS's table holding live
// sessions, while an index-off replica serves them: none goes missing at
// any moment, the backfill lists each live session under its owner and
// none other, a Commit racing the backfill wins over it, unreadable data
// is counted in one WARN, and the owner index is built and valid.
func TestMigratePopulated(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, d testDriver) {
		t.Parallel()
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
		owners := map[string]string{} // token: owner of its live session
		commit := func(s *PostgresStore, tok, user string) {
			t.Helper()
			if err := s.Commit(tok, gobSession(t, user, exp), exp); err != nil {
				t.Fatal(err)
			}
			owners[tok] = user
		}
		for i := range 250 {
			commit(old, fmt.Sprintf("tok-%04d", i), []string{"alice", "bob", "", "carol", ""}[i%5])
		}
		if err := old.Commit("tok-expired", gobSession(t, "alice", exp), time.Now().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := old.Commit("tok-unreadable", []byte("not gob"), exp); err != nil {
			t.Fatal(err)
		}

		// The index-off replica keeps serving every session throughout.
		all := make([]string, 0, len(owners))
		for tok := range owners {
			all = append(all, tok)
		}
		slices.Sort(all)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var misses sync.Map
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, tok := range all {
					if _, found, err := old.Find(tok); !found || err != nil {
						misses.Store(tok, err)
					}
				}
			}
		})

		var logs testenv.SyncBuffer
		var replica *PostgresStore
		race := func(batch int, toks []string) {
			if batch != 1 {
				return
			}
			// Between the read and the write of batch 1: an indexed replica
			// commits one of its sessions for another user, and the index-off
			// replica (a rolling upgrade) another. Neither is overwritten.
			var err error
			if replica, err = NewWithConfig(pool, Config{CleanupInterval: -1, Owner: storetest.Owner}); err != nil {
				t.Error(err)
				return
			}
			for _, tok := range toks {
				if owners[tok] == "alice" {
					commit(replica, tok, "mallory")
					break
				}
			}
			for _, tok := range toks {
				if owners[tok] == "bob" {
					commit(old, tok, "dave")
					break
				}
			}
		}
		s, err := d.connect(t, schemaDSN(t, pool), 4)(Config{CleanupInterval: -1, CreateTable: true, Owner: storetest.Owner,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))},
			func(c *pgcore.Store) { c.BackfillBatch = 40; c.OnBackfill = race })
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		misses.Range(func(tok, err any) bool {
			t.Errorf("session %s not found during the migration (%v)", tok, err)
			return true
		})
		if replica == nil {
			t.Fatal("the backfill had no batch 1")
		}
		var mallory, dave string
		for tok, user := range owners {
			switch user {
			case "mallory":
				mallory = tok
			case "dave":
				dave = tok
			}
		}
		for _, user := range []string{"alice", "bob", "carol", "mallory", "dave"} {
			var want []string
			for _, tok := range all {
				if owners[tok] == user && tok != dave { // dave's: rewritten by the index-off replica, not yet indexed
					want = append(want, tok)
				}
			}
			if got := listedTokens(t, s, user, all); !slices.Equal(got, want) {
				t.Errorf("after the migration %s has %d sessions listed, want %d", user, len(got), len(want))
			}
		}
		if got := listedTokens(t, s, "mallory", all); !slices.Equal(got, []string{mallory}) {
			t.Errorf("the Commit racing the backfill was overwritten: mallory has %v", got)
		}
		if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "sessions=1 ") {
			t.Errorf("want one WARN counting one unreadable session, got:\n%s", logs.String())
		}
		if n := count(t, pool, "SELECT count(*) FROM pg_index WHERE indexrelid = to_regclass('sessions_owner_idx') AND indisvalid"); n != 1 {
			t.Error("no valid owner index after the migration")
		}
		// Once every replica has the index on, Migrate again indexes what the
		// index-off replica wrote meanwhile.
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if got := listedTokens(t, s, "dave", all); !slices.Equal(got, []string{dave}) {
			t.Errorf("after a second Migrate, dave has %v, want [%s]", got, dave)
		}
		for tok := range owners {
			if _, found, err := s.Find(tok); !found || err != nil {
				t.Errorf("Find(%s) after the migration = %v, %v", tok, found, err)
			}
		}
	}, "pgx", "stdlib", "pq")
}

// TestMigrateCorrectsStaleOwners: an index-off replica rewrites indexed
// sessions for another owner and for none, which leaves their index
// entries stale; Migrate, run again, lists each under the owner its data
// names, and the one without an owner under nobody.
func TestMigrateCorrectsStaleOwners(t *testing.T) {
	t.Parallel()
	pool := newSchemaPool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, scsSchema); err != nil {
		t.Fatal(err)
	}
	s, err := NewWithConfig(pool, Config{CleanupInterval: -1, CreateTable: true, Owner: storetest.Owner})
	if err != nil {
		t.Fatal(err)
	}
	old, err := NewWithConfig(pool, Config{CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	toks := []string{"tok-moved", "tok-signed-out", "tok-kept"}
	for _, tok := range toks {
		if err := s.Commit(tok, gobSession(t, "alice", exp), exp); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Commit("tok-moved", gobSession(t, "bob", exp), exp); err != nil {
		t.Fatal(err)
	}
	if err := old.Commit("tok-signed-out", gobSession(t, "", exp), exp); err != nil {
		t.Fatal(err)
	}
	if got := listedTokens(t, s, "alice", toks); len(got) != 3 {
		t.Fatalf("before Migrate alice has %v, want the three stale entries", got)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if got := listedTokens(t, s, "alice", toks); !slices.Equal(got, []string{"tok-kept"}) {
		t.Errorf("after Migrate alice has %v, want [tok-kept]", got)
	}
	if got := listedTokens(t, s, "bob", toks); !slices.Equal(got, []string{"tok-moved"}) {
		t.Errorf("after Migrate bob has %v, want [tok-moved]", got)
	}
}

// TestRevokeCrash ends the backend running DeleteUserSessions while its
// one statement waits for a row lock, after it may have deleted the rows
// before that one: nothing is deleted and no tombstone written, every
// session stays found and listed; run again, it deletes them all.
func TestRevokeCrash(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, d testDriver) {
		t.Parallel()
		ctx := context.Background()
		s := newTestStoreOn(t, d, Config{CleanupInterval: -1, Owner: storetest.Owner})
		exp := time.Now().Add(time.Hour)
		var toks []string
		for i := range 10 {
			tok := fmt.Sprintf("tok-%02d-%s", i, uniqueName(""))
			if err := s.Commit(tok, gobSession(t, "alice", exp), exp); err != nil {
				t.Fatal(err)
			}
			toks = append(toks, tok)
		}
		admin := sharedPool(t)
		tx, err := admin.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck
		// Two of the rows, one in the middle and the last.
		for _, i := range []int{5, 9} {
			if _, err := tx.Exec(ctx, "SELECT 1 FROM "+s.core.Names.Sessions+" WHERE token = $1 FOR UPDATE", toks[i]); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan error, 1)
		go func() {
			_, err := s.DeleteUserSessions(ctx, "alice")
			done <- err
		}()
		var pid int
		for deadline := time.Now().Add(5 * time.Second); pid == 0; {
			if time.Now().After(deadline) {
				t.Fatal("DeleteUserSessions never waited on the row lock")
			}
			err := admin.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'
	AND query LIKE 'WITH d AS (DELETE FROM '||$1||' WHERE owner%'`, s.core.Names.Sessions).Scan(&pid)
			if errors.Is(err, pgx.ErrNoRows) {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err == nil {
			t.Fatal("DeleteUserSessions whose backend was terminated succeeded")
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		for _, tok := range toks {
			if _, found, err := s.Find(tok); !found || err != nil {
				t.Errorf("Find(%s) after the terminated revoke = %v, %v", tok, found, err)
			}
		}
		if got := listedTokens(t, s, "alice", toks); len(got) != len(toks) {
			t.Errorf("after the terminated revoke, %d of %d sessions listed", len(got), len(toks))
		}
		if n := count(t, admin, "SELECT count(*) FROM "+s.core.Names.Tombstones); n != 0 {
			t.Errorf("the terminated revoke left %d tombstones", n)
		}
		if n, err := s.DeleteUserSessions(ctx, "alice"); err != nil || n != len(toks) {
			t.Fatalf("DeleteUserSessions again = %d, %v; want %d", n, err, len(toks))
		}
		if n := count(t, admin, "SELECT count(*) FROM "+s.core.Names.Tombstones); n != int64(len(toks)) {
			t.Errorf("%d tombstones after the revoke, want %d", n, len(toks))
		}
	}, "pgx", "stdlib")
}

// TestIndexNoTombstonePrivilege runs the index as a role that may use the
// sessions table, migrated by its owner with the SQL of the README, but
// may not create the tombstone table: the store runs without tombstones,
// and the index still lists, counts and deletes. Before the migration,
// NewWithConfig refuses with ErrNoIndex.
func TestIndexNoTombstonePrivilege(t *testing.T) {
	t.Parallel()
	owner, limited, _ := limitedRole(t)
	ctx := context.Background()
	cfg := Config{CleanupInterval: -1, AllowNoTombstones: true, Owner: storetest.Owner, Logger: slog.New(slog.DiscardHandler)}
	if _, err := NewWithConfig(limited, cfg); !errors.Is(err, sessionstore.ErrNoIndex) {
		t.Fatalf("NewWithConfig before the migration = %v, want ErrNoIndex", err)
	}
	withCreate := cfg
	withCreate.CreateTable = true
	if _, err := NewWithConfig(limited, withCreate); err == nil || !strings.Contains(err.Error(), "permission denied") && !strings.Contains(err.Error(), "must be owner") {
		t.Fatalf("Migrate as a role that does not own the table = %v, want its permission error", err)
	}
	if _, err := owner.Exec(ctx, readmeIndexSQL); err != nil {
		t.Fatal(err)
	}
	s, err := NewWithConfig(limited, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.core.TombState() != pgcore.TombOff {
		t.Fatal("the store uses a tombstone table")
	}
	exp := time.Now().Add(time.Hour)
	var toks []string
	for range 4 {
		tok := uniqueName("tok-")
		if err := s.Commit(tok, gobSession(t, "alice", exp), exp); err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	if got := listedTokens(t, s, "alice", toks); len(got) != 4 {
		t.Fatalf("%d sessions listed, want 4", len(got))
	}
	if ok, err := s.DeleteUserSession(ctx, "alice", sessionstore.SessionID(toks[0])); !ok || err != nil {
		t.Fatalf("DeleteUserSession = %v, %v", ok, err)
	}
	if n, err := s.DeleteUserSessionsExcept(ctx, "alice", toks[3]); n != 2 || err != nil {
		t.Fatalf("DeleteUserSessionsExcept = %d, %v; want 2", n, err)
	}
	if n, err := s.CountUserSessions(ctx, "alice"); n != 1 || err != nil {
		t.Fatalf("CountUserSessions = %d, %v; want 1", n, err)
	}
	if n, err := s.DeleteUserSessions(ctx, "alice"); n != 1 || err != nil {
		t.Fatalf("DeleteUserSessions = %d, %v; want 1", n, err)
	}
	for _, tok := range toks {
		if _, found, err := s.Find(tok); found || err != nil {
			t.Errorf("Find(%s) after the revoke = %v, %v", tok, found, err)
		}
	}
}

// readmeIndexSQL is the README's SQL for those who manage their own
// schema, on the default table, but for CONCURRENTLY, which cannot run in
// the transaction of a multi-statement Exec.
const readmeIndexSQL = `ALTER TABLE sessions
  ADD COLUMN IF NOT EXISTS owner TEXT,
  ADD COLUMN IF NOT EXISTS created TIMESTAMPTZ,
  ADD COLUMN IF NOT EXISTS last_seen TIMESTAMPTZ,
  ADD COLUMN IF NOT EXISTS user_agent TEXT,
  ADD COLUMN IF NOT EXISTS ip TEXT;
CREATE INDEX IF NOT EXISTS sessions_owner_idx ON sessions (owner, expiry) WHERE owner IS NOT NULL;`
