package pgstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/pgcore"
	"github.com/sessionstore/sessionstore/internal/testenv"
)

func TestTableNames(t *testing.T) {
	valid := []struct{ in, sessions, tombstones string }{
		{"", `"sessions"`, `"sessions_tombstones"`},
		{"web_sessions", `"web_sessions"`, `"web_sessions_tombstones"`},
		{"app.Sessions", `"app"."Sessions"`, `"app"."Sessions_tombstones"`},
	}
	for _, v := range valid {
		n, err := parseTable(v.in)
		if err != nil || n.Sessions != v.sessions || n.Tombstones != v.tombstones {
			t.Errorf("parseTable(%q) = %s, %s, %v; want %s, %s", v.in, n.Sessions, n.Tombstones, err, v.sessions, v.tombstones)
		}
	}
	invalid := []string{
		`sessions; DROP TABLE users`, `a.b.c`, `"quoted"`, `1abc`, `tab le`, `s'`, `.sessions`, `app.`,
		strings.Repeat("x", pgcore.MaxTableLen+1), "séance",
	}
	for _, in := range invalid {
		if _, err := parseTable(in); err == nil {
			t.Errorf("parseTable(%q) accepted an invalid name", in)
		}
	}
}

func TestNewWithConfigErrors(t *testing.T) {
	if _, err := NewWithConfig((*pgxpool.Pool)(nil), Config{}); err == nil {
		t.Error("NewWithConfig(nil pool) succeeded")
	}
	if _, err := NewWithConfig((*sql.DB)(nil), Config{}); err == nil {
		t.Error("NewWithConfig(nil *sql.DB) succeeded")
	}
	pool := sharedPool(t)
	if _, err := NewWithConfig(pool, Config{Table: "bad name"}); err == nil {
		t.Error("NewWithConfig accepted an invalid table name")
	}
}

func TestSchemaQualifiedTable(t *testing.T) {
	t.Parallel()
	pool := newSchemaPool(t)
	var schema string
	if err := pool.QueryRow(context.Background(), "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	// The shared pool's search_path does not include the schema: the
	// qualified name alone must find the tables.
	s, err := NewWithConfig(sharedPool(t), Config{Table: schema + ".web_sessions", CreateTable: true, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if err := s.Commit("tok", []byte("data"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("tok"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, "SELECT count(*) FROM web_sessions_tombstones"); n != 1 {
		t.Errorf("%d tombstones in %s.web_sessions_tombstones, want 1", n, schema)
	}
	if n, err := s.DeleteExpired(context.Background()); err != nil || n != 0 {
		t.Errorf("DeleteExpired = %d, %v", n, err)
	}
}

func TestMaxDataSize(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, Config{CleanupInterval: -1, MaxDataSize: 10})
	if err := s.Commit("small", []byte("0123456789"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	err := s.Commit("big", []byte("0123456789A"), time.Now().Add(time.Hour))
	var tl *sessionstore.TooLargeError
	if !errors.Is(err, sessionstore.ErrTooLarge) || !errors.As(err, &tl) || tl.Size != 11 || tl.Max != 10 {
		t.Fatalf("Commit of 11 bytes with MaxDataSize 10: %v, want a TooLargeError{11, 10}", err)
	}
	if !strings.HasPrefix(err.Error(), "pgstore: commit: ") {
		t.Errorf("error %q does not name the store and operation", err)
	}
	if n := count(t, s.rawPool(), "SELECT count(*) FROM "+s.core.Names.Sessions+" WHERE token = 'big'"); n != 0 {
		t.Errorf("too-large Commit wrote %d rows", n)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	// The table is set up by a store with the default timeout: under the
	// load of parallel tests, a migration (which queues for the others on
	// an advisory lock) or a first Commit can take longer than 50 ms.
	setup := newTestStore(t, Config{CleanupInterval: -1})
	if err := setup.Commit("locked", []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	s, err := NewWithConfig(setup.rawPool(), Config{Table: setup.core.Names.Display, CleanupInterval: -1, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.StopCleanup()
	// A statement slower than the timeout fails with DeadlineExceeded.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = s.rawPool().Exec(ctx, "SELECT pg_sleep(1)")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow statement under Timeout: %v, want DeadlineExceeded", err)
	}
	// A row lock held elsewhere for longer than Timeout makes Commit and
	// Delete fail rather than wait.
	tx, err := s.rawPool().Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck
	if _, err := tx.Exec(context.Background(), "SELECT 1 FROM "+s.core.Names.Sessions+" WHERE token = 'locked' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit("locked", []byte("y"), time.Now().Add(time.Hour)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Commit of a locked row: %v, want DeadlineExceeded", err)
	}
	if err := s.DeleteCtx(context.Background(), "locked"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Delete of a locked row: %v, want DeadlineExceeded", err)
	}
}

// TestDeleteDeadlineDoesNotOutliveIt checks that the timeout Delete runs
// under ends with it, and that a connection whose Delete timed out is not
// handed out broken: on a pool of one connection, statements after each
// Delete, longer than the store's Timeout, still succeed.
func TestDeleteDeadlineDoesNotOutliveIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := onePool(t)
	const timeout = 100 * time.Millisecond
	// The tables are made with the default timeout: a migration queues for
	// the other tests' on an advisory lock.
	setup := newTestStore(t, Config{CleanupInterval: -1})
	s, err := NewWithConfig(pool, Config{Table: setup.core.Names.Display, CleanupInterval: -1, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	slow := func(after string) {
		t.Helper()
		if _, err := pool.Exec(ctx, "SELECT pg_sleep($1)", (2 * timeout).Seconds()); err != nil {
			t.Errorf("statement after %s, on its connection: %v", after, err)
		}
	}
	if err := s.Commit("gone", []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("gone"); err != nil {
		t.Fatal(err)
	}
	slow("a Delete")

	// A Delete that times out waiting for a row lock held by a second pool.
	other := sharedPool(t)
	if err := s.Commit("locked", []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, "SELECT 1 FROM "+s.core.Names.Sessions+" WHERE token = 'locked' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("locked"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Delete of a locked row: %v, want DeadlineExceeded", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	slow("a Delete that timed out")
	if err := s.Delete("locked"); err != nil {
		t.Errorf("Delete once the lock is gone: %v", err)
	}
}

// TestNoRoundTrip checks, on a closed pool that fails any round trip, that
// malformed tokens are answered without one, and that a valid token's
// failure is an error, never "not found".
func TestNoRoundTrip(t *testing.T) {
	cfg := sharedPool(t).Config()
	pool, err := newPoolWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewWithConfig(pool, Config{Table: uniqueName("pgstore_test_"), CreateTable: true, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	dropTables(t, sharedPool(t), s)
	pool.Close()
	// NewWithConfig needs the database to check the tombstone table; New
	// leaves that to the first operation.
	if _, err := NewWithConfig(pool, Config{CleanupInterval: -1}); err == nil {
		t.Error("NewWithConfig on a closed pool succeeded")
	}
	lenient := NewWithCleanupInterval(pool, 0)
	if _, _, err := lenient.Find("valid-token"); err == nil {
		t.Error("Find on a closed pool, by a store made by New, succeeded")
	}
	// An expiry PostgreSQL cannot hold is refused before any round trip.
	for _, exp := range []time.Time{time.Date(-300000, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(1<<62, 0)} {
		if err := s.Commit("valid-token", []byte("x"), exp); !errors.Is(err, sessionstore.ErrExpiryOutOfRange) {
			t.Errorf("Commit with expiry %v on a closed pool = %v, want ErrExpiryOutOfRange", exp, err)
		}
	}
	for _, tok := range []string{"", "a\x00b", "\xff\xfe", strings.Repeat("x", sessionstore.MaxTokenLen+1)} {
		if b, found, err := s.Find(tok); b != nil || found || err != nil {
			t.Errorf("Find(%.20q) = %q, %v, %v; want nil, false, nil", tok, b, found, err)
		}
		if err := s.Delete(tok); err != nil {
			t.Errorf("Delete(%.20q) = %v, want nil", tok, err)
		}
		if err := s.Commit(tok, []byte("x"), time.Now().Add(time.Hour)); !errors.Is(err, sessionstore.ErrInvalidToken) {
			t.Errorf("Commit(%.20q) = %v, want ErrInvalidToken", tok, err)
		}
	}
	if _, found, err := s.Find("valid-token"); err == nil || found {
		t.Errorf("Find on a closed pool = %v, %v; want an error", found, err)
	} else if !strings.HasPrefix(err.Error(), "pgstore: find: ") {
		t.Errorf("error %q does not name the store and operation", err)
	}
	if err := s.Delete("valid-token"); err == nil {
		t.Error("Delete on a closed pool succeeded")
	}
	if _, err := s.All(); err == nil {
		t.Error("All on a closed pool succeeded")
	}
	for _, err := range s.Sessions(context.Background()) {
		if err == nil {
			t.Error("Sessions on a closed pool yielded a session")
		}
	}
}

// onePool returns a pool of one connection to the test database, closed
// when t ends.
func onePool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testDSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := newPoolWithConfig(context.Background(), cfg)
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL at "+testDSN, "set "+testenv.PostgresEnv, err)
	}
	t.Cleanup(pool.Close)
	return pool
}
