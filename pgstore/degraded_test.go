package pgstore

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/pgcore"
	"github.com/sessionstore/sessionstore/internal/testenv"
)

// limitedRole creates, in a fresh schema holding SCS's sessions table, a
// role that may use that table (SELECT, INSERT, UPDATE, DELETE) but not
// create anything, and returns the owner's pool and a pool connected as the
// role, both with the schema as search_path.
func limitedRole(t *testing.T) (owner, limited *pgxpool.Pool, role string) {
	t.Helper()
	admin := sharedPool(t)
	owner = newSchemaPool(t)
	ctx := context.Background()
	if _, err := owner.Exec(ctx, scsSchema); err != nil {
		t.Fatal(err)
	}
	var schema string
	if err := owner.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	role = uniqueName("pgstore_role_")
	for _, q := range []string{
		"CREATE ROLE " + role + " LOGIN",
		"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON " + schema + ".sessions TO " + role,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		// Registered after newSchemaPool's cleanup, so it runs first.
		if _, err := admin.Exec(ctx, "DROP OWNED BY "+role); err != nil {
			t.Error(err)
		}
		if _, err := admin.Exec(ctx, "DROP ROLE "+role); err != nil {
			t.Error(err)
		}
	})
	cfg := owner.Config()
	cfg.ConnConfig.User = role
	limited, err := newPoolWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(limited.Close)
	return owner, limited, role
}

// degradedErrors counts the ERROR lines saying a store runs without
// tombstones.
func degradedErrors(logs *testenv.SyncBuffer) int {
	n := 0
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "level=ERROR") && strings.Contains(l, "running without tombstones") {
			n++
		}
	}
	return n
}

// TestNoTombstonePrivilege runs the store as a role that may use the
// sessions table but may not create tables. NewWithConfig refuses;
// AllowNoTombstones and New run without tombstones but say so at ERROR,
// at construction and on every cleanup run; once the owner creates the
// tombstone table, the store uses it within a minute (the test moves the
// clock of the re-check), and logouts hold again, racing or not, whichever
// replica deleted the session.
//
// It is not parallel: it makes slog.Default, which New logs to, its own
// for the time of one call.
func TestNoTombstonePrivilege(t *testing.T) {
	owner, limited, role := limitedRole(t)
	ctx := context.Background()

	_, err := NewWithConfig(limited, Config{CleanupInterval: -1})
	if !errors.Is(err, sessionstore.ErrNoTombstones) {
		t.Fatalf("NewWithConfig as a role without CREATE = %v, want an error matching ErrNoTombstones", err)
	}
	if !strings.HasPrefix(err.Error(), "pgstore: ") || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("error %q does not name the store and the cause", err)
	}

	var allowLogs testenv.SyncBuffer
	allowed, err := NewWithConfig(limited, Config{CleanupInterval: -1, AllowNoTombstones: true,
		Logger: slog.New(slog.NewTextHandler(&allowLogs, nil))})
	if err != nil {
		t.Fatalf("NewWithConfig with AllowNoTombstones: %v", err)
	}
	if n := degradedErrors(&allowLogs); n != 1 {
		t.Errorf("AllowNoTombstones: %d ERROR lines at construction, want 1:\n%s", n, allowLogs.String())
	}

	var logs testenv.SyncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	s := New(limited)
	slog.SetDefault(prev)
	s.StopCleanup() // the test runs cleanup itself
	if n := degradedErrors(&logs); n != 1 {
		t.Errorf("New: %d ERROR lines at construction, want 1:\n%s", n, logs.String())
	}
	exp := time.Now().Add(time.Hour)
	for _, tok := range []string{"a", "b"} { // degraded, but working
		if err := s.Commit(tok, []byte(tok), exp); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(tok); err != nil {
			t.Fatal(err)
		}
		if _, found, err := s.Find(tok); found || err != nil {
			t.Fatalf("Find after Delete = %v, %v", found, err)
		}
	}
	for range 2 {
		if _, err := s.DeleteExpired(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := degradedErrors(&logs); n != 3 {
		t.Errorf("New: %d ERROR lines after two cleanup runs, want 3 (one a run):\n%s", n, logs.String())
	}

	// The owner creates the tombstone table. Within a minute (the clock of
	// the re-check moves by one), the next request uses it.
	for _, q := range []string{
		"CREATE TABLE sessions_tombstones (token TEXT PRIMARY KEY, expiry TIMESTAMPTZ NOT NULL)",
		"CREATE INDEX sessions_tombstones_expiry_idx ON sessions_tombstones (expiry)",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON sessions_tombstones TO " + role,
	} {
		if _, err := owner.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var later atomic.Int64
	s.core.Mono = func() time.Time { return time.Now().Add(time.Duration(later.Load())) }
	later.Store(int64(pgcore.TombRecheck))
	tok := uniqueName("late-")
	if err := s.Commit(tok, []byte("signed-in"), exp); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(tok); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(tok, []byte("signed-in"), time.Now().Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Find(tok); found || err != nil {
		t.Fatalf("Find after Delete and a late Commit, a minute after the tombstone table appeared = %v, %v; want not found", found, err)
	}
	if n := count(t, owner, "SELECT count(*) FROM sessions WHERE token = $1", tok); n != 0 {
		t.Fatalf("the late Commit wrote the session back (%d rows)", n)
	}
	if back := raceDeleteCommit(t, s, 100); len(back) > 0 {
		t.Errorf("%d of 100 racing logouts undone once the tombstone table exists", len(back))
	}
	healthy, err := NewWithConfig(owner, Config{CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if back := raceReplicas(t, healthy, s, 100); len(back) > 0 {
		t.Errorf("%d of 100 logouts on a healthy replica undone by the recovered one", len(back))
	}
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if n := degradedErrors(&logs); n != 3 {
		t.Errorf("%d ERROR lines, want still 3: the store uses the table", n)
	}
	// The other degraded store finds it on its next cleanup run.
	if _, err := allowed.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if back := raceDeleteCommit(t, allowed, 50); len(back) > 0 {
		t.Errorf("%d of 50 racing logouts undone after a cleanup run found the table", len(back))
	}
	if n := degradedErrors(&allowLogs); n != 1 {
		t.Errorf("AllowNoTombstones: %d ERROR lines, want still 1", n)
	}
}

// TestMigrateAsLimitedRole: once the owner has created everything, Migrate
// as a role that may not create anything has nothing to do and succeeds
// (PostgreSQL refuses CREATE TABLE IF NOT EXISTS to such a role even for a
// table that exists), with the index on too; with the tombstone table
// gone it fails with the server's refusal.
func TestMigrateAsLimitedRole(t *testing.T) {
	owner, limited, role := limitedRole(t)
	ctx := context.Background()
	cfg := Config{CleanupInterval: -1, Owner: sessionstore.OwnerKey(scs.GobCodec{}, "user_id"), Logger: slog.New(slog.DiscardHandler)}
	ac := cfg
	ac.CreateTable = true // migrates, index included
	admin, err := NewWithConfig(owner, ac)
	if err != nil {
		t.Fatal(err)
	}
	admin.StopCleanup()
	if _, err := owner.Exec(ctx, "GRANT SELECT, INSERT, UPDATE, DELETE ON sessions_tombstones TO "+role); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Config{{CleanupInterval: -1}, cfg} {
		s, err := NewWithConfig(limited, c)
		if err != nil {
			t.Fatal(err)
		}
		s.StopCleanup()
		if err := s.Migrate(ctx); err != nil {
			t.Errorf("Migrate as a role without CREATE (index on: %v), everything in place: %v", c.Owner != nil, err)
		}
	}
	if _, err := owner.Exec(ctx, "DROP TABLE sessions_tombstones"); err != nil {
		t.Fatal(err)
	}
	s, err := NewWithConfig(limited, Config{CleanupInterval: -1, AllowNoTombstones: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s.StopCleanup()
	if err := s.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("Migrate as a role without CREATE, no tombstone table: %v, want the server's refusal", err)
	}
}
