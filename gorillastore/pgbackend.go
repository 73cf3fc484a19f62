package gorillastore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/tombstone"
	"github.com/sessionstore/sessionstore/internal/touch"
)

// pgBackend is the session table of a PGStore, with the SCS context methods
// and the store contract of this repository: keys are SHA-256 digests of
// session IDs, expired rows are never returned, and a deleted key is
// tombstoned (see the tombstone rule in the package documentation) so that
// a late Commit cannot recreate it. UpdateCtx, which PGStore uses to save a
// session it loaded, never creates a row at all.
type pgBackend struct {
	db      DBConn
	now     func() time.Time
	timeout time.Duration // PGConfig.Timeout: see withTimeout and bounded
	// deleteTimeout is the deprecated PGConfig.DeleteTimeout, which bounds
	// what bounded bounds while timeout is zero; 0 for DefaultTimeout.
	deleteTimeout time.Duration
	policy        tombstone.Policy
	log           *slog.Logger
	lockKey       int64 // advisory lock that serialises cleanup across replicas

	// tombsOn is set once the tombstone table is known to be usable; until
	// then (PGConfig.AllowNoTombstones) the *Plain statements run, and
	// nextCheck (Unix ns, by now) is when tombstones may look again.
	tombsOn   atomic.Bool
	nextCheck atomic.Int64

	// owner, when set (PGConfig.Owner), turns the per-user index on: see
	// pgindex.go for the columns and statements.
	owner sessionstore.OwnerFunc

	// touch is the engine's local view (Config.TouchWindow), nil for 0:
	// loadValues then reads each session's expiry too and records it.
	touch             *touch.View
	findTouchSQL      string // findSQL reading expires_on too
	findTouchPlainSQL string

	findSQL, commitSQL, updateSQL, deleteSQL         string
	findPlainSQL, commitPlainSQL, updatePlainSQL     string
	deletePlainSQL                                   string
	cleanSessionsSQL, cleanTombsSQL, countExpiredSQL string
	table, tombs, tableIdx, tombsIndex               string
	rawTable                                         string // unquoted

	// The per-user index (setOwner); empty while it is off.
	ownerIdx                                       string
	listSQL, listPlainSQL, countSQL, countPlainSQL string
	keysSQL, keysPlainSQL                          string
	deleteOwnedSQL, deleteOwnedPlainSQL            string
	deleteAllSQL, deleteAllPlainSQL                string

	// backfillHook, if set (by tests), runs between the read and the write
	// of each backfill batch, with the keys the batch read.
	backfillHook func(keys []string)
}

func newPGBackend(db DBConn, table string, now func() time.Time, timeout time.Duration, policy tombstone.Policy, log *slog.Logger) *pgBackend {
	if log == nil {
		log = slog.Default()
	}
	b := &pgBackend{
		db:         db,
		now:        now,
		timeout:    timeout,
		policy:     policy,
		log:        log,
		table:      pgx.Identifier{table}.Sanitize(),
		rawTable:   table,
		tombs:      pgx.Identifier{table + "_tombstones"}.Sanitize(),
		tableIdx:   pgx.Identifier{table + "_expires_on_idx"}.Sanitize(),
		tombsIndex: pgx.Identifier{table + "_tombstones_expires_on_idx"}.Sanitize(),
	}
	h := fnv.New64a()
	h.Write([]byte("gorillastore:" + table))
	b.lockKey = int64(h.Sum64())

	// A row whose key has a tombstone is never served, even one that a
	// writer ignoring tombstones put there after the Delete.
	b.findPlainSQL = `SELECT data FROM ` + b.table + ` WHERE key = $1 AND expires_on > $2`
	b.findSQL = b.findPlainSQL + ` AND NOT EXISTS (SELECT 1 FROM ` + b.tombs + ` WHERE key = $1)`
	b.findTouchPlainSQL = `SELECT data, expires_on FROM ` + b.table + ` WHERE key = $1 AND expires_on > $2`
	b.findTouchSQL = b.findTouchPlainSQL + ` AND NOT EXISTS (SELECT 1 FROM ` + b.tombs + ` WHERE key = $1)`
	// The tombstone check is part of the upsert: one statement, no read
	// before the write. A Delete that commits after this statement took its
	// snapshot is caught by the second condition: the row the snapshot sees
	// is gone once FOR NO KEY UPDATE has waited for the Delete, and nothing
	// is written. A row that had expired restarts its created_on.
	upsert := `ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, modified_on = EXCLUDED.modified_on, expires_on = EXCLUDED.expires_on,
created_on = CASE WHEN s.expires_on <= EXCLUDED.modified_on THEN EXCLUDED.created_on ELSE s.created_on END`
	b.commitSQL = `INSERT INTO ` + b.table + ` AS s (key, data, created_on, modified_on, expires_on)
SELECT $1, $2, $3, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM ` + b.tombs + ` WHERE key = $1)
AND EXISTS (SELECT 1 FROM ` + b.table + ` WHERE key = $1) = EXISTS (SELECT 1 FROM ` + b.table + ` WHERE key = $1 FOR NO KEY UPDATE)
` + upsert
	b.commitPlainSQL = `INSERT INTO ` + b.table + ` AS s (key, data, created_on, modified_on, expires_on)
VALUES ($1, $2, $3, $3, $4) ` + upsert
	// The update of a loaded session touches only a live row: an UPDATE
	// that waits for a concurrent DELETE finds no row once it commits, and
	// an expired or deleted row stays gone.
	b.updatePlainSQL = `UPDATE ` + b.table + ` SET data = $2, modified_on = $3, expires_on = $4 WHERE key = $1 AND expires_on > $3`
	b.updateSQL = b.updatePlainSQL + ` AND NOT EXISTS (SELECT 1 FROM ` + b.tombs + ` WHERE key = $1)`
	// The tombstone lasts until the later of the row's expiry and $2, the
	// Delete time plus the tombstone lifetime.
	b.deleteSQL = `WITH d AS (DELETE FROM ` + b.table + ` WHERE key = $1 RETURNING expires_on)
INSERT INTO ` + b.tombs + ` AS t (key, expires_on) SELECT $1, GREATEST(expires_on, $2) FROM d
ON CONFLICT (key) DO UPDATE SET expires_on = GREATEST(t.expires_on, EXCLUDED.expires_on)`
	b.deletePlainSQL = `DELETE FROM ` + b.table + ` WHERE key = $1`
	// One bounded batch per statement (its own transaction), oldest first,
	// skipping rows another transaction holds, and only while this
	// connection holds the cleanup lock: one replica cleans at a time. The
	// rows are deleted by ctid (a TID scan), not by a join that the planner
	// may turn into a scan of the whole table per batch.
	b.cleanSessionsSQL = `WITH l AS (SELECT pg_try_advisory_xact_lock($3) AS ok)
DELETE FROM ` + b.table + ` WHERE ctid = ANY (ARRAY(SELECT ctid FROM ` + b.table + `
WHERE expires_on <= $1 AND (SELECT ok FROM l) ORDER BY expires_on LIMIT $2 FOR UPDATE SKIP LOCKED))
AND expires_on <= $1`
	// Tombstones go once expired by $1, the cleaner's clock less the clock
	// skew allowance; any session row under a removed tombstone's key (one
	// written behind it) goes in the same statement, by its unique key, so
	// it can never be served once the tombstone is gone.
	b.cleanTombsSQL = `WITH l AS (SELECT pg_try_advisory_xact_lock($3) AS ok),
t AS (DELETE FROM ` + b.tombs + ` WHERE ctid = ANY (ARRAY(SELECT ctid FROM ` + b.tombs + `
WHERE expires_on <= $1 AND (SELECT ok FROM l) ORDER BY expires_on LIMIT $2 FOR UPDATE SKIP LOCKED))
AND expires_on <= $1 RETURNING key),
s AS (DELETE FROM ` + b.table + ` WHERE key IN (SELECT key FROM t))
SELECT count(*) FROM t`
	b.countExpiredSQL = `SELECT count(*) FROM ` + b.table + ` WHERE expires_on <= $1`
	return b
}

// withTimeout bounds ctx by PGConfig.Timeout, if it is positive; otherwise
// the operation runs on the caller's context alone.
func (b *pgBackend) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if b.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, b.timeout)
}

// bounded is the timeout of the operations that must not depend on the
// caller's context (deletes, which ignore its cancellation, and cleanup
// batches): PGConfig.Timeout if positive, else the deprecated
// DeleteTimeout if positive, else DefaultTimeout.
func (b *pgBackend) bounded() time.Duration {
	switch {
	case b.timeout > 0:
		return b.timeout
	case b.deleteTimeout > 0:
		return b.deleteTimeout
	}
	return DefaultTimeout
}

// micro returns t in UTC at the microsecond precision PostgreSQL stores.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// FindCtx returns the data of a live session.
func (b *pgBackend) FindCtx(ctx context.Context, key string) ([]byte, bool, error) {
	if !sessionstore.ValidToken(key) {
		return nil, false, nil
	}
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	var data []byte
	err := b.db.QueryRow(ctx, b.find(ctx), key, micro(b.now())).Scan(&data)
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
	// With Config.TouchWindow: the expiry, scanned after data.
	expiry pgtype.Timestamptz
	dstExp [2]any // &data, &expiry
}

// maxPooledData is the largest session data buffer a loadArgs keeps.
const maxPooledData = 64 << 10

var loadArgsPool = sync.Pool{New: func() any {
	a := &loadArgs{buf: make([]byte, 0, 512)}
	a.args = [2]any{a.key[:], &a.now}
	a.dst = [1]any{&a.data}
	a.dstExp = [2]any{&a.data, &a.expiry}
	return a
}}

// loadValues decodes the values of the live session with ID id into values,
// or returns errNotFound. It is FindCtx and decodeValues without their
// allocations: the row is scanned into a pooled buffer and decoded from
// there (decodeValues copies what it keeps).
func (b *pgBackend) loadValues(ctx context.Context, id string, values map[any]any) error {
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	a := loadArgsPool.Get().(*loadArgs)
	defer loadArgsPool.Put(a)
	putToken(&a.key, id)
	a.now = pgtype.Timestamptz{Time: micro(b.now()), Valid: true}
	a.data = a.buf[:cap(a.buf)]
	var err error
	if b.touch == nil {
		err = b.db.QueryRow(ctx, b.find(ctx), a.args[:]...).Scan(a.dst[:]...)
	} else {
		err = b.db.QueryRow(ctx, b.findTouch(ctx), a.args[:]...).Scan(a.dstExp[:]...)
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		b.touch.Forget(string(a.key[:]))
		return errNotFound
	case err != nil:
		b.touch.Forget(string(a.key[:]))
		return fmt.Errorf("find in %s: %w", b.table, err)
	}
	if cap(a.data) > cap(a.buf) && cap(a.data) <= maxPooledData {
		a.buf = a.data[:0]
	}
	if b.touch != nil {
		b.touch.Saw(string(a.key[:]), a.data, a.expiry.Time)
	}
	return decodeValues(values, a.data)
}

// findTouch is the statement loadValues runs with Config.TouchWindow.
func (b *pgBackend) findTouch(ctx context.Context) string {
	if b.tombstones(ctx) {
		return b.findTouchSQL
	}
	return b.findTouchPlainSQL
}

// find is the statement FindCtx runs.
func (b *pgBackend) find(ctx context.Context) string {
	if b.tombstones(ctx) {
		return b.findSQL
	}
	return b.findPlainSQL
}

// CommitCtx inserts or replaces a session, unless its key was deleted. An
// expiry outside [sessionstore.MinExpiry, sessionstore.MaxExpiry] is an
// error matching sessionstore.ErrExpiryOutOfRange, and nothing is written.
func (b *pgBackend) CommitCtx(ctx context.Context, key string, data []byte, expiry time.Time) error {
	if !sessionstore.ValidToken(key) {
		return fmt.Errorf("commit to %s: %w", b.table, sessionstore.ErrInvalidToken)
	}
	if _, err := b.write(ctx, b.commitSQL, b.commitPlainSQL, key, data, expiry); err != nil {
		return fmt.Errorf("commit to %s: %w", b.table, err)
	}
	return nil
}

// UpdateCtx replaces the data and expiry of the live session key and
// reports whether there was one; it never inserts a row (see CtxUpdater).
// An expiry out of range is an error, as for CommitCtx.
func (b *pgBackend) UpdateCtx(ctx context.Context, key string, data []byte, expiry time.Time) (bool, error) {
	if !sessionstore.ValidToken(key) {
		return false, nil
	}
	tag, err := b.write(ctx, b.updateSQL, b.updatePlainSQL, key, data, expiry)
	if err != nil {
		return false, fmt.Errorf("update in %s: %w", b.table, err)
	}
	return tag.RowsAffected() > 0, nil
}

// write runs the Commit or Update statement of key: withTombs while the
// tombstone table is in use, plain otherwise. Both take the same arguments
// ($1 key, $2 data, $3 now, $4 expiry and, with the per-user index, $5
// owner, $6 user agent, $7 IP), and both refuse an expiry out of range and
// an owner Owner cannot read before any round trip.
func (b *pgBackend) write(ctx context.Context, withTombs, plain, key string, data []byte, expiry time.Time) (pgconn.CommandTag, error) {
	if err := sessionstore.CheckExpiry(expiry); err != nil {
		return pgconn.CommandTag{}, err
	}
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	if data == nil {
		data = []byte{} // the column is NOT NULL
	}
	var owner, ua, ip any
	if b.owner != nil {
		var err error
		if owner, ua, ip, err = b.indexArgs(ctx, data); err != nil {
			return pgconn.CommandTag{}, err
		}
	}
	sql := plain
	if b.tombstones(ctx) {
		sql = withTombs
	}
	if b.owner == nil {
		return b.db.Exec(ctx, sql, key, data, micro(b.now()), micro(expiry))
	}
	return b.db.Exec(ctx, sql, key, data, micro(b.now()), micro(expiry), owner, ua, ip)
}

// DeleteCtx deletes a session and tombstones its key until the later of its
// expiry and now plus the tombstone lifetime. It runs to completion even if
// ctx is cancelled, within the store's bounded timeout (PGConfig.Timeout,
// or DefaultTimeout).
func (b *pgBackend) DeleteCtx(ctx context.Context, key string) error {
	if !sessionstore.ValidToken(key) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.bounded())
	defer cancel()
	var err error
	if b.tombstones(ctx) {
		_, err = b.db.Exec(ctx, b.deleteSQL, key, micro(b.policy.Until(b.now())))
	} else {
		_, err = b.db.Exec(ctx, b.deletePlainSQL, key)
	}
	if err != nil {
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
