package gorillastore

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/pgcore"
	"github.com/sessionstore/sessionstore/internal/testenv"
)

// usesTombstones reports whether s's requests use the tombstone table,
// re-checking it if a check is due, as a request does.
func usesTombstones(t *testing.T, s *PGStore) bool {
	t.Helper()
	on, err := s.b.core.UseTombstones(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return on
}

// roleWithoutCreate creates a login role that may not create tables (the
// public schema grants no CREATE to PUBLIC from PostgreSQL 15) and returns a
// pool connected as it. The role and its grants are dropped with t.Cleanup.
func roleWithoutCreate(t *testing.T, admin *pgxpool.Pool) (*pgxpool.Pool, string) {
	t.Helper()
	ctx := context.Background()
	role := "gs_nocreate_" + strings.TrimPrefix(tableName(), "gs_test_")
	quoted := pgx.Identifier{role}.Sanitize()
	if _, err := admin.Exec(ctx, `CREATE ROLE `+quoted+` LOGIN`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, stmt := range []string{`DROP OWNED BY ` + quoted, `DROP ROLE ` + quoted} {
			if _, err := admin.Exec(ctx, stmt); err != nil {
				t.Errorf("%s: %v", stmt, err)
			}
		}
	})
	// Make sure of it, whatever the server's version and defaults.
	if _, err := admin.Exec(ctx, `REVOKE CREATE ON SCHEMA public FROM PUBLIC, `+quoted); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(testDSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.User = role
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, quoted
}

// TestPGStoreWithoutCreate: a role that can read and write the session table
// but not create the tombstone table. NewPGStoreWithConfig refuses with
// ErrNoTombstones; with AllowNoTombstones the store runs, logs at ERROR on
// every cleanup run, and uses the tombstone table within a minute of its
// appearing.
func TestPGStoreWithoutCreate(t *testing.T) {
	ctx := context.Background()
	admin := testPool(t)
	rolePool, role := roleWithoutCreate(t, admin)
	table := tableName()

	// No table at all: the role cannot create the session table either,
	// and that is a plain error.
	_, err := NewPGStoreWithConfig(rolePool, PGConfig{Config: Config{KeyPairs: [][]byte{key1}}, Table: table})
	if err == nil || errors.Is(err, sessionstore.ErrNoTombstones) || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("no session table, role without CREATE: %v, want permission denied (not ErrNoTombstones)", err)
	}

	// The session table, made by an administrator, without tombstones.
	made := newTestPGStore(t, admin, PGConfig{Table: table})
	for _, stmt := range []string{
		`DROP TABLE ` + made.b.tombs,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ` + made.b.table + ` TO ` + role,
		`GRANT USAGE ON SEQUENCE ` + pgx.Identifier{table + "_id_seq"}.Sanitize() + ` TO ` + role,
	} {
		if _, err := admin.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	_, err = NewPGStoreWithConfig(rolePool, PGConfig{Config: Config{KeyPairs: [][]byte{key1}}, Table: table})
	if !errors.Is(err, sessionstore.ErrNoTombstones) || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("role without CREATE: %v, want an error matching ErrNoTombstones that gives the cause", err)
	}

	// Allowed to run degraded.
	clock := newClock()
	var logs testenv.SyncBuffer
	s, err := newPGStore(rolePool, PGConfig{
		Config:            Config{KeyPairs: [][]byte{key1}, Now: clock.Now},
		Table:             table,
		AllowNoTombstones: true,
		Logger:            slog.New(slog.NewTextHandler(&logs, nil)),
	}, func(c *pgcore.Store) { c.Mono = clock.Now })
	if err != nil {
		t.Fatalf("AllowNoTombstones: %v", err)
	}
	t.Cleanup(s.Close)
	sess, r := load(t, s, "sid")
	sess.Values["user"] = "alice"
	c := save(t, s, r, sess)
	if got, _ := load(t, s, "sid", c); got.IsNew || got.Values["user"] != "alice" {
		t.Fatal("degraded store: the session does not round-trip")
	}
	for range 2 {
		if _, err := s.DeleteExpired(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "level=ERROR msg=\"gorillastore: running without tombstones"); n != 3 {
		t.Fatalf("logged %d ERRORs (construction and two cleanup runs), want 3:\n%s", n, logs.String())
	}

	// The administrator creates the tombstone table, first without grants:
	// a table the role cannot write is no tombstone table either.
	newTestPGStore(t, admin, PGConfig{Table: table})
	_, err = NewPGStoreWithConfig(rolePool, PGConfig{Config: Config{KeyPairs: [][]byte{key1}}, Table: table})
	if !errors.Is(err, sessionstore.ErrNoTombstones) {
		t.Fatalf("tombstone table without grants: %v, want an error matching ErrNoTombstones", err)
	}
	if _, err := admin.Exec(ctx, `GRANT SELECT, INSERT, UPDATE, DELETE ON `+made.b.tombs+` TO `+role); err != nil {
		t.Fatal(err)
	}
	clock.Advance(pgcore.TombRecheck)
	signOut(t, s, c)
	var tombs int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM `+made.b.tombs).Scan(&tombs); err != nil {
		t.Fatal(err)
	}
	if tombs != 1 {
		t.Fatalf("%d tombstones after a sign-out a minute after the table appeared, want 1", tombs)
	}
	before := logs.String()
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if after := logs.String()[len(before):]; strings.Contains(after, "level=ERROR") {
		t.Errorf("cleanup with the tombstone table logged an error:\n%s", after)
	}
}

// TestPGStoreWithoutCreateCleanupRechecks: a degraded store whose requests
// never re-check (the clock does not move) starts using the tombstone table
// on its next cleanup run.
func TestPGStoreWithoutCreateCleanupRechecks(t *testing.T) {
	ctx := context.Background()
	admin := testPool(t)
	rolePool, role := roleWithoutCreate(t, admin)
	made := newTestPGStore(t, admin, PGConfig{})
	table := strings.Trim(made.b.table, `"`)
	for _, stmt := range []string{
		`DROP TABLE ` + made.b.tombs,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ` + made.b.table + ` TO ` + role,
	} {
		if _, err := admin.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	s, err := NewPGStoreWithConfig(rolePool, PGConfig{
		Config:            Config{KeyPairs: [][]byte{key1}, Now: newClock().Now},
		Table:             table,
		AllowNoTombstones: true,
		Logger:            slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if usesTombstones(t, s) {
		t.Fatal("degraded store claims tombstones")
	}
	newTestPGStore(t, admin, PGConfig{Table: table})
	if _, err := admin.Exec(ctx, `GRANT SELECT, INSERT, UPDATE, DELETE ON `+made.b.tombs+` TO `+role); err != nil {
		t.Fatal(err)
	}
	if usesTombstones(t, s) {
		t.Fatal("re-checked on a request within the minute")
	}
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if !usesTombstones(t, s) {
		t.Fatal("cleanup did not start using the tombstone table")
	}
}
