package gorillastore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/jackc/pgx/v5"
	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/pgcore"
	"github.com/sessionstore/sessionstore/internal/testenv"
	"github.com/sessionstore/sessionstore/memstore"
)

var testOwner = OwnerKey("user_id")

func TestOwnerKey(t *testing.T) {
	enc := func(values map[any]any) []byte {
		t.Helper()
		b, err := encodeValues(values)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	compact := enc(map[any]any{"user_id": "alice", "n": 3})
	gobbed := enc(map[any]any{"user_id": "alice", "flashes": []any{"hi"}}) // a slice: gob
	if compact[0] != formatCompact || gobbed[0] != formatGob {
		t.Fatalf("formats %d, %d; want compact, then gob", compact[0], gobbed[0])
	}
	for name, data := range map[string][]byte{"compact": compact, "gob": gobbed} {
		if got, err := testOwner(data); err != nil || got != "alice" {
			t.Errorf("%s: owner = %q, %v; want alice", name, got, err)
		}
	}
	if got, err := testOwner(enc(map[any]any{"n": 3})); err != nil || got != "" {
		t.Errorf("no user_id: %q, %v; want no owner", got, err)
	}
	for name, v := range map[string]any{"int": 42, "bytes": []byte("alice"), "too long": strings.Repeat("a", 256), "not UTF-8": "\xff"} {
		if _, err := testOwner(enc(map[any]any{"user_id": v})); !errors.Is(err, sessionstore.ErrInvalidOwner) {
			t.Errorf("user_id that is %s: %v, want ErrInvalidOwner", name, err)
		}
	}
	if _, err := testOwner([]byte("garbage")); err == nil || errors.Is(err, sessionstore.ErrInvalidOwner) {
		t.Errorf("undecodable data: %v, want a decode error", err)
	}
}

// TestIndexOff: with Owner nil the table has its old columns and indexes,
// the statements never name the index columns, and every UserIndex method,
// of PGStore and of the adapter over a store without an index, returns an
// error matching ErrNoIndex.
func TestIndexOff(t *testing.T) {
	pool := testPool(t)
	s := newTestPGStore(t, pool, PGConfig{})
	var cols, idx []string
	if err := pool.QueryRow(context.Background(), `SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`, s.b.table).Scan(&cols); err != nil {
		t.Fatal(err)
	}
	if want := []string{"id", "key", "data", "created_on", "modified_on", "expires_on"}; !slices.Equal(cols, want) {
		t.Errorf("columns %v, want %v", cols, want)
	}
	if err := pool.QueryRow(context.Background(), `SELECT array_agg(indexrelid::regclass::text ORDER BY 1) FROM pg_index
WHERE indrelid = $1::regclass`, s.b.table).Scan(&idx); err != nil {
		t.Fatal(err)
	}
	if len(idx) != 3 || slices.ContainsFunc(idx, func(n string) bool { return strings.Contains(n, "owner") }) {
		t.Errorf("indexes %v, want the primary key, the key and expires_on", idx)
	}
	q := s.b.core.Q
	for _, sql := range []string{q.Find, q.FindPlain, q.Commit, q.CommitLegacy, q.CommitPlain, q.Update, q.UpdatePlain, q.Del, q.DelUpsert} {
		for _, col := range []string{"owner", "created", "user_agent", "ip"} {
			if strings.Contains(sql, col+" ") || strings.Contains(sql, col+",") || strings.Contains(sql, col+")") {
				t.Errorf("a statement of a store without the index names %s: %s", col, sql)
			}
		}
	}
	sess, r := load(t, s, "sid")
	sess.Values["user_id"] = 42 // not a string: fine without the index
	save(t, s, r, sess)

	m := newMemstore(t, memstore.Config{CleanupInterval: -1})
	t.Cleanup(m.StopCleanup)
	overMem, err := New(m, key1)
	if err != nil {
		t.Fatal(err)
	}
	overTable, err := New(newTestBackend(t, pool, time.Now), key1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, ix := range map[string]sessionstore.UserIndex{"PGStore": s, "adapter over memstore": overMem, "adapter over the PG table": overTable} {
		_, err1 := ix.UserSessions(ctx, "alice")
		_, err2 := ix.CountUserSessions(ctx, "alice")
		_, err3 := ix.DeleteUserSession(ctx, "alice", "x")
		_, err4 := ix.DeleteUserSessions(ctx, "alice")
		_, err5 := ix.DeleteUserSessionsExcept(ctx, "alice", "x")
		for i, err := range []error{err1, err2, err3, err4, err5} {
			if !errors.Is(err, sessionstore.ErrNoIndex) {
				t.Errorf("%s: method %d: %v, want ErrNoIndex", name, i+1, err)
			}
		}
	}
}

// indexedSave saves a new session with values and returns its ID.
func indexedSave(t *testing.T, s gorillaStore, values map[any]any) *sessions.Session {
	t.Helper()
	sess, r := load(t, s, "sid")
	for k, v := range values {
		sess.Values[k] = v
	}
	save(t, s, r, sess)
	return sess
}

func TestPGStoreRefusesUnmigratedTable(t *testing.T) {
	pool := testPool(t)
	old := newTestPGStore(t, pool, PGConfig{})
	_, err := NewPGStoreWithConfig(pool, PGConfig{Config: Config{KeyPairs: [][]byte{key1}}, Table: old.cfg.Table, Owner: testOwner})
	if !errors.Is(err, sessionstore.ErrNoIndex) || !strings.Contains(err.Error(), "MigratePGStore") {
		t.Fatalf("NewPGStoreWithConfig with Owner on an unmigrated table: %v, want ErrNoIndex naming MigratePGStore", err)
	}
	if err := MigratePGStore(context.Background(), pool, PGConfig{Table: old.cfg.Table}); err == nil {
		t.Error("MigratePGStore without Owner succeeded")
	}
}

// TestMigratePGStore migrates a populated table of live sessions, saved
// without the index, while they are being loaded and saved: they stay found
// throughout, the backfill indexes their owners in several batches, a Save
// racing the backfill wins (by a store with the index, and by one without),
// unreadable owners are logged once and left unindexed, and the store
// without the index keeps working on the migrated table.
func TestMigratePGStore(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	clock := newClock()
	old := newTestPGStore(t, pool, PGConfig{Config: Config{Now: clock.Now}})
	table := old.cfg.Table

	alice := []*sessions.Session{
		indexedSave(t, old, map[any]any{"user_id": "alice"}),
		indexedSave(t, old, map[any]any{"user_id": "alice", "theme": "dark"}),
	}
	raced := indexedSave(t, old, map[any]any{"user_id": "alice"})   // becomes carol's during the backfill
	signedOut := indexedSave(t, old, map[any]any{"user_id": "bob"}) // signed out by an old replica during it
	bob := indexedSave(t, old, map[any]any{"user_id": "bob"})
	anon := indexedSave(t, old, map[any]any{"theme": "light"})
	intOwner := indexedSave(t, old, map[any]any{"user_id": 42}) // unreadable as an owner
	old.MaxAge(60)
	expired := indexedSave(t, old, map[any]any{"user_id": "alice"})
	old.MaxAge(DefaultMaxAge)
	clock.Advance(time.Minute)
	// Enough other users' sessions for several batches.
	const bulk = 2500
	var keys []string
	var datas [][]byte
	for i := range bulk {
		data, _ := encodeValues(map[any]any{"user_id": fmt.Sprintf("u%d", i%5)})
		keys, datas = append(keys, token(newID())), append(datas, data)
	}
	now := micro(clock.Now())
	if _, err := pool.Exec(ctx, `INSERT INTO `+old.b.table+` (key, data, created_on, modified_on, expires_on)
SELECT k, d, $3, $3, $4 FROM unnest($1::text[], $2::bytea[]) AS u(k, d)`, keys, datas, now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	all := append(append([]*sessions.Session{}, alice...), raced, signedOut, bob, anon, intOwner)
	cookies := make(map[string]string)
	for _, sess := range all {
		c, err := old.Codecs[0].Encode("sid", []byte(sess.ID))
		if err != nil {
			t.Fatal(err)
		}
		cookies[sess.ID] = c
	}
	found := func(s gorillaStore, sess *sessions.Session) *sessions.Session {
		t.Helper()
		r := request()
		r.AddCookie(&http.Cookie{Name: "sid", Value: cookies[sess.ID]})
		got, err := s.New(r, "sid")
		if err != nil || got.IsNew {
			t.Fatalf("session %v not found (err %v) during or after the migration", sess.Values, err)
		}
		return got
	}

	var logs testenv.SyncBuffer
	cfg := PGConfig{Config: Config{KeyPairs: [][]byte{key1}, Now: clock.Now}, Table: table, Owner: testOwner,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	batches := 0
	var indexed *PGStore
	migrate := func(hook func([]string)) error { // MigratePGStore, with a hook
		return migratePGStore(ctx, pool, cfg, func(c *pgcore.Store) {
			c.OnBackfill = func(_ int, read []string) { hook(read) }
		})
	}
	racedDone := false
	err := migrate(func(read []string) {
		batches++
		for _, sess := range all {
			found(old, sess) // the store without the index, on the altered table
		}
		if batches == 1 {
			// The columns exist now: a store with the index can start.
			var err error
			if indexed, err = NewPGStoreWithConfig(pool, cfg); err != nil {
				t.Fatal(err)
			}
		}
		// Saves of sessions the backfill has just read, before it writes.
		if slices.Contains(read, token(raced.ID)) {
			got := found(indexed, raced)
			got.Values["user_id"] = "carol"
			save(t, indexed, request(), got)
			racedDone = true
		}
		if slices.Contains(read, token(signedOut.ID)) {
			got := found(old, signedOut)
			delete(got.Values, "user_id")
			save(t, old, request(), got)
		}
	})
	if !racedDone {
		t.Fatal("the backfill never read the raced session")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer indexed.Close()
	if batches < 3 {
		t.Errorf("backfill ran %d batches, want at least 3 for %d rows", batches, bulk+8)
	}
	listed := func(user string, want ...*sessions.Session) {
		t.Helper()
		got, err := indexed.UserSessions(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		var ids, wantIDs []string
		for _, us := range got {
			ids = append(ids, us.ID)
		}
		for _, s := range want {
			wantIDs = append(wantIDs, indexed.SessionID(s))
		}
		slices.Sort(ids)
		slices.Sort(wantIDs)
		if !slices.Equal(ids, wantIDs) {
			t.Errorf("UserSessions(%q) = %v, want %v", user, ids, wantIDs)
		}
	}
	listed("alice", alice...) // not the expired one, not the one now carol's
	listed("carol", raced)
	listed("bob", bob) // not the one signed out during the backfill
	for i := range 5 {
		if n, err := indexed.CountUserSessions(ctx, fmt.Sprintf("u%d", i)); err != nil || n != bulk/5 {
			t.Errorf("CountUserSessions(u%d) = %d, %v; want %d", i, n, err, bulk/5)
		}
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "sessions=1 ") {
		t.Errorf("no WARN counting the one unreadable owner:\n%s", logs.String())
	}
	for _, sess := range all {
		found(indexed, sess)
	}
	_ = expired

	// Run again (idempotent), after a replica without the index signed a
	// session in and another out: the rerun corrects both.
	got := found(old, anon)
	got.Values["user_id"] = "alice"
	save(t, old, request(), got)
	got = found(old, alice[0])
	delete(got.Values, "user_id")
	save(t, old, request(), got)
	if err := MigratePGStore(ctx, pool, cfg); err != nil {
		t.Fatal(err)
	}
	listed("alice", alice[1], anon)
}

// TestDeleteUserSessionsKilled kills the connection of a DeleteUserSessions
// while its one statement has deleted some of the user's rows and waits for
// a lock on the next: nothing is deleted, every listed session is live, and
// a retry deletes them all.
func TestDeleteUserSessionsKilled(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	s := newTestPGStore(t, pool, PGConfig{Owner: testOwner})
	var devs []*sessions.Session
	for range 5 {
		devs = append(devs, indexedSave(t, s, map[any]any{"user_id": "alice"}))
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM `+s.b.table+` WHERE key = $1 FOR UPDATE`, token(devs[4].ID)); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, testDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var pid int
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	victim, err := NewPGStoreWithConfig(conn, PGConfig{Config: Config{KeyPairs: [][]byte{key1}}, Table: s.cfg.Table, Owner: testOwner})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := victim.DeleteUserSessions(ctx, "alice")
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting bool
		if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock')`, pid).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("DeleteUserSessions never waited for the locked row")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("DeleteUserSessions on a killed connection returned nil")
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	list, err := s.UserSessions(ctx, "alice")
	if err != nil || len(list) != len(devs) {
		t.Fatalf("after the kill: %d sessions listed (%v), want all %d: the revoke is all or nothing", len(list), err, len(devs))
	}
	var tombs int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+s.b.tombs).Scan(&tombs); err != nil || tombs != 0 {
		t.Fatalf("after the kill: %d tombstones (%v), want none", tombs, err)
	}
	for _, d := range devs {
		if _, ok, err := s.b.Find(token(d.ID)); err != nil || !ok {
			t.Fatalf("a listed session is not live after the kill: %v", err)
		}
	}
	if n, err := s.DeleteUserSessions(ctx, "alice"); err != nil || n != len(devs) {
		t.Fatalf("retry: %d, %v; want %d", n, err, len(devs))
	}
	for _, d := range devs {
		if _, ok, _ := s.b.Find(token(d.ID)); ok {
			t.Fatal("a revoked session is still found")
		}
	}
}

// TestSaveRecordClientOff: without Config.RecordClient, Save puts no client
// in the context the backend sees.
func TestSaveRecordClientOff(t *testing.T) {
	m := newMemstore(t, memstore.Config{CleanupInterval: -1})
	t.Cleanup(m.StopCleanup)
	var seen []bool
	spy := &ctxSpy{CtxStore: m, seen: &seen}
	for _, rec := range []bool{false, true} {
		s, err := NewWithConfig(spy, Config{KeyPairs: [][]byte{key1}, RecordClient: rec})
		if err != nil {
			t.Fatal(err)
		}
		sess, r := load(t, s, "sid")
		save(t, s, r, sess)
	}
	if !slices.Equal(seen, []bool{false, true}) {
		t.Fatalf("client in the Commit's context: %v, want [false true]", seen)
	}
}

// ctxSpy records whether each Commit's context carries a client.
type ctxSpy struct {
	CtxStore
	seen *[]bool
}

func (c *ctxSpy) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	_, ok := sessionstore.ClientFromContext(ctx)
	*c.seen = append(*c.seen, ok)
	return c.CtxStore.CommitCtx(ctx, token, b, expiry)
}
