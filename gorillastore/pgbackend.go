package gorillastore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/sessionstore/sessionstore"
)

// pgBackend is the session table of a PGStore, with the SCS context methods
// and the store contract of this repository: keys are SHA-256 digests of
// session IDs, expired rows are never returned, and a deleted key is
// tombstoned until its old expiry so that a late Save cannot recreate it.
type pgBackend struct {
	db            DBConn
	now           func() time.Time
	deleteTimeout time.Duration
	lockKey       int64 // advisory lock that serialises cleanup across replicas

	findSQL, commitSQL, deleteSQL      string
	cleanSessionsSQL, cleanTombsSQL    string
	countExpiredSQL                    string
	table, tombs, tableIdx, tombsIndex string
}

func newPGBackend(db DBConn, table string, now func() time.Time, deleteTimeout time.Duration) *pgBackend {
	b := &pgBackend{
		db:            db,
		now:           now,
		deleteTimeout: deleteTimeout,
		table:         pgx.Identifier{table}.Sanitize(),
		tombs:         pgx.Identifier{table + "_tombstones"}.Sanitize(),
		tableIdx:      pgx.Identifier{table + "_expires_on_idx"}.Sanitize(),
		tombsIndex:    pgx.Identifier{table + "_tombstones_expires_on_idx"}.Sanitize(),
	}
	h := fnv.New64a()
	h.Write([]byte("gorillastore:" + table))
	b.lockKey = int64(h.Sum64())

	b.findSQL = `SELECT data FROM ` + b.table + ` WHERE key = $1 AND expires_on > $2`
	// The tombstone check is part of the upsert: one statement, no read
	// before the write. A Delete that commits after this statement took its
	// snapshot is caught by the second condition: the row the snapshot sees
	// is gone once FOR NO KEY UPDATE has waited for the Delete, and nothing
	// is written. A row that had expired restarts its created_on.
	b.commitSQL = `INSERT INTO ` + b.table + ` AS s (key, data, created_on, modified_on, expires_on)
SELECT $1, $2, $3, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM ` + b.tombs + ` WHERE key = $1)
AND EXISTS (SELECT 1 FROM ` + b.table + ` WHERE key = $1) = EXISTS (SELECT 1 FROM ` + b.table + ` WHERE key = $1 FOR NO KEY UPDATE)
ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, modified_on = EXCLUDED.modified_on, expires_on = EXCLUDED.expires_on,
created_on = CASE WHEN s.expires_on <= EXCLUDED.modified_on THEN EXCLUDED.created_on ELSE s.created_on END`
	b.deleteSQL = `WITH d AS (DELETE FROM ` + b.table + ` WHERE key = $1 RETURNING expires_on)
INSERT INTO ` + b.tombs + ` AS t (key, expires_on) SELECT $1, expires_on FROM d
ON CONFLICT (key) DO UPDATE SET expires_on = GREATEST(t.expires_on, EXCLUDED.expires_on)`
	// One bounded batch per statement (its own transaction), oldest first,
	// skipping rows another transaction holds, and only while this
	// connection holds the cleanup lock: one replica cleans at a time. The
	// rows are deleted by ctid (a TID scan), not by a join that the planner
	// may turn into a scan of the whole table per batch.
	b.cleanSessionsSQL = `WITH l AS (SELECT pg_try_advisory_xact_lock($3) AS ok)
DELETE FROM ` + b.table + ` WHERE ctid = ANY (ARRAY(SELECT ctid FROM ` + b.table + `
WHERE expires_on <= $1 AND (SELECT ok FROM l) ORDER BY expires_on LIMIT $2 FOR UPDATE SKIP LOCKED))
AND expires_on <= $1`
	b.cleanTombsSQL = `WITH l AS (SELECT pg_try_advisory_xact_lock($3) AS ok)
DELETE FROM ` + b.tombs + ` WHERE ctid = ANY (ARRAY(SELECT ctid FROM ` + b.tombs + `
WHERE expires_on <= $1 AND (SELECT ok FROM l) ORDER BY expires_on LIMIT $2 FOR UPDATE SKIP LOCKED))
AND expires_on <= $1`
	b.countExpiredSQL = `SELECT count(*) FROM ` + b.table + ` WHERE expires_on <= $1`
	return b
}

// createSchema creates the session and tombstone tables and their indexes if
// they are missing. Replicas starting together serialise on an advisory lock.
func (b *pgBackend) createSchema(ctx context.Context) error {
	var exists bool
	err := b.db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL`, b.table, b.tombs).Scan(&exists)
	if err != nil {
		return err
	}
	if exists {
		return b.checkSchema(ctx)
	}
	tx, err := b.db.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	stmts := []string{
		`SELECT pg_advisory_xact_lock($1)`,
		`CREATE TABLE IF NOT EXISTS ` + b.table + ` (
	id BIGSERIAL PRIMARY KEY,
	key TEXT NOT NULL UNIQUE,
	data BYTEA NOT NULL,
	created_on TIMESTAMPTZ NOT NULL,
	modified_on TIMESTAMPTZ NOT NULL,
	expires_on TIMESTAMPTZ NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS ` + b.tableIdx + ` ON ` + b.table + ` (expires_on)`,
		`CREATE TABLE IF NOT EXISTS ` + b.tombs + ` (
	key TEXT PRIMARY KEY,
	expires_on TIMESTAMPTZ NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS ` + b.tombsIndex + ` ON ` + b.tombs + ` (expires_on)`,
	}
	for i, stmt := range stmts {
		var args []any
		if i == 0 {
			args = []any{b.lockKey}
		}
		if _, err := tx.Exec(ctx, stmt, args...); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	return b.checkSchema(ctx)
}

// checkSchema verifies that the session table has a unique key column, which
// the upsert needs. An antonlindstrom/pgstore table has not.
func (b *pgBackend) checkSchema(ctx context.Context) error {
	var ok bool
	err := b.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indnkeyatts = 1 AND a.attname = 'key')`, b.table).Scan(&ok)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("table %s has no unique key column (is it an antonlindstrom/pgstore table?): "+
			"drop it, or choose another PGConfig.TableName", b.table)
	}
	return nil
}

// dropSchema drops both tables; tests use it.
func (b *pgBackend) dropSchema(ctx context.Context) error {
	_, err := b.db.Exec(ctx, `DROP TABLE IF EXISTS `+b.table+`, `+b.tombs)
	return err
}

// micro returns t in UTC at the microsecond precision PostgreSQL stores.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// FindCtx returns the data of a live session.
func (b *pgBackend) FindCtx(ctx context.Context, key string) ([]byte, bool, error) {
	if !sessionstore.ValidToken(key) {
		return nil, false, nil
	}
	var data []byte
	err := b.db.QueryRow(ctx, b.findSQL, key, micro(b.now())).Scan(&data)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("find in %s: %w", b.table, err)
	}
	return data, true, nil
}

// loadArgs are the query arguments and the scan target of one loadValues,
// pooled so that a load allocates nothing of its own: the arguments are boxed
// once, when a loadArgs is made, and point into it.
type loadArgs struct {
	key  [tokenLen]byte
	now  pgtype.Timestamptz
	data pgtype.PreallocBytes // scanned into buf, which grows up to maxPooledData
	buf  []byte
	args [2]any // key[:], &now
	dst  [1]any // &data
}

// maxPooledData is the largest session data buffer a loadArgs keeps.
const maxPooledData = 64 << 10

var loadArgsPool = sync.Pool{New: func() any {
	a := &loadArgs{buf: make([]byte, 0, 512)}
	a.args = [2]any{a.key[:], &a.now}
	a.dst = [1]any{&a.data}
	return a
}}

// loadValues decodes the values of the live session with ID id into values,
// or returns errNotFound. It is FindCtx and decodeValues without their
// allocations: the row is scanned into a pooled buffer and decoded from
// there (decodeValues copies what it keeps).
func (b *pgBackend) loadValues(ctx context.Context, id string, values map[any]any) error {
	a := loadArgsPool.Get().(*loadArgs)
	defer loadArgsPool.Put(a)
	putToken(&a.key, id)
	a.now = pgtype.Timestamptz{Time: micro(b.now()), Valid: true}
	a.data = a.buf[:cap(a.buf)]
	err := b.db.QueryRow(ctx, b.findSQL, a.args[:]...).Scan(a.dst[:]...)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return errNotFound
	case err != nil:
		return fmt.Errorf("find in %s: %w", b.table, err)
	}
	if cap(a.data) > cap(a.buf) && cap(a.data) <= maxPooledData {
		a.buf = a.data[:0]
	}
	return decodeValues(values, a.data)
}

// CommitCtx inserts or replaces a session, unless its key was deleted.
func (b *pgBackend) CommitCtx(ctx context.Context, key string, data []byte, expiry time.Time) error {
	if !sessionstore.ValidToken(key) {
		return fmt.Errorf("commit to %s: %w", b.table, sessionstore.ErrInvalidToken)
	}
	if data == nil {
		data = []byte{} // the column is NOT NULL
	}
	if _, err := b.db.Exec(ctx, b.commitSQL, key, data, micro(b.now()), micro(expiry)); err != nil {
		return fmt.Errorf("commit to %s: %w", b.table, err)
	}
	return nil
}

// DeleteCtx deletes a session and tombstones its key. It runs to completion
// even if ctx is cancelled, within the store's delete timeout.
func (b *pgBackend) DeleteCtx(ctx context.Context, key string) error {
	if !sessionstore.ValidToken(key) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.deleteTimeout)
	defer cancel()
	if _, err := b.db.Exec(ctx, b.deleteSQL, key); err != nil {
		return fmt.Errorf("delete from %s: %w", b.table, err)
	}
	return nil
}

// Find, Commit and Delete are the context-free SCS methods, with
// context.Background.
func (b *pgBackend) Find(key string) ([]byte, bool, error) {
	return b.FindCtx(context.Background(), key)
}

// Commit is CommitCtx with context.Background.
func (b *pgBackend) Commit(key string, data []byte, expiry time.Time) error {
	return b.CommitCtx(context.Background(), key, data, expiry)
}

// Delete is DeleteCtx with context.Background.
func (b *pgBackend) Delete(key string) error {
	return b.DeleteCtx(context.Background(), key)
}
