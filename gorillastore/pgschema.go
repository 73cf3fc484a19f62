package gorillastore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionstore/sessionstore"
)

// maxTableName is the longest PGConfig.Table, in bytes: PostgreSQL cuts
// identifiers at 63 bytes, and the longest name derived from the table,
// Table+"_tombstones_expires_on_idx", must fit.
const maxTableName = 63 - len("_tombstones_expires_on_idx")

// checkTableName returns an error for a table name that PostgreSQL would
// truncate, itself or in a name derived from it: two such names would share
// a table.
func checkTableName(table string) error {
	if len(table) > maxTableName {
		return fmt.Errorf("PGConfig.Table %q is %d bytes, over the %d bytes that leave room for %q within PostgreSQL's "+
			"63-byte identifiers (a longer name is truncated, so two names could share a table)",
			table, len(table), maxTableName, "_tombstones_expires_on_idx")
	}
	return nil
}

// createSchema creates the session and tombstone tables and their indexes if
// they are missing (the session table with the columns of the per-user
// index if it is on; an existing table is never altered here, see
// MigratePGStore), each table in its own transaction: a role that can use
// but not create tables works on tables made for it. Replicas starting
// together serialise on an advisory lock. If the tombstone table is missing
// and cannot be created, createSchema returns an error matching
// sessionstore.ErrNoTombstones, after the session table is in place.
func (b *pgBackend) createSchema(ctx context.Context) error {
	var sessions, tombs bool
	err := b.db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL`, b.table, b.tombs).Scan(&sessions, &tombs)
	if err != nil {
		return err
	}
	if !sessions {
		stmts := []string{`CREATE TABLE IF NOT EXISTS ` + b.table + ` (
	id BIGSERIAL PRIMARY KEY,
	key TEXT NOT NULL UNIQUE,
	data BYTEA NOT NULL,
	created_on TIMESTAMPTZ NOT NULL,
	modified_on TIMESTAMPTZ NOT NULL,
	expires_on TIMESTAMPTZ NOT NULL)`,
			`CREATE INDEX IF NOT EXISTS ` + b.tableIdx + ` ON ` + b.table + ` (expires_on)`}
		if b.owner != nil { // a new table gets the index columns at once: nothing to backfill
			stmts = append(stmts, b.indexDDL()...)
		}
		if err := b.create(ctx, stmts...); err != nil {
			return err
		}
	}
	if err := b.checkSchema(ctx); err != nil {
		return err
	}
	if !tombs {
		if err := b.create(ctx, `CREATE TABLE IF NOT EXISTS `+b.tombs+` (
	key TEXT PRIMARY KEY,
	expires_on TIMESTAMPTZ NOT NULL)`,
			`CREATE INDEX IF NOT EXISTS `+b.tombsIndex+` ON `+b.tombs+` (expires_on)`); err != nil {
			return fmt.Errorf("%w: cannot create %s: %w", sessionstore.ErrNoTombstones, b.tombs, err)
		}
	}
	return b.useTombstones(ctx)
}

// create runs stmts in one transaction under the schema lock.
func (b *pgBackend) create(ctx context.Context, stmts ...string) error {
	tx, err := b.db.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, b.lockKey); err != nil {
		return err
	}
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
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
			"drop it, or choose another PGConfig.Table", b.table)
	}
	return nil
}

// errTombstonesUnusable is useTombstones' answer for a tombstone table that
// exists but that the store's role cannot read and write.
var errTombstonesUnusable = errors.New("the tombstone table is missing or not readable and writable by this role")

// useTombstones switches the store to its tombstone statements if the
// tombstone table exists and the role may read and write it, or returns an
// error matching sessionstore.ErrNoTombstones.
func (b *pgBackend) useTombstones(ctx context.Context) error {
	var ok bool
	err := b.db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL
AND has_table_privilege(to_regclass($1), 'SELECT, INSERT, UPDATE, DELETE')`, b.tombs).Scan(&ok)
	if err != nil {
		return fmt.Errorf("%w: check %s: %w", sessionstore.ErrNoTombstones, b.tombs, err)
	}
	if !ok {
		return fmt.Errorf("%w: %s: %w", sessionstore.ErrNoTombstones, b.tombs, errTombstonesUnusable)
	}
	b.tombsOn.Store(true)
	return nil
}

// recheckInterval is how often, at most, a store running without tombstones
// checks on the request path whether the tombstone table has appeared.
const recheckInterval = time.Minute

// tombstones reports whether the store uses its tombstone table. A store
// running without it (PGConfig.AllowNoTombstones) checks, at most once per
// recheckInterval by its clock, whether the table now exists, and uses it
// from then on.
func (b *pgBackend) tombstones(ctx context.Context) bool {
	if b.tombsOn.Load() {
		return true
	}
	now := b.now().UnixNano()
	next := b.nextCheck.Load()
	if now < next || !b.nextCheck.CompareAndSwap(next, now+int64(recheckInterval)) {
		return false
	}
	if b.useTombstones(ctx) == nil {
		b.log.Info("gorillastore: the tombstone table is available; logouts are final again", "table", b.tombs)
		return true
	}
	return false
}

// dropSchema drops both tables; tests use it.
func (b *pgBackend) dropSchema(ctx context.Context) error {
	_, err := b.db.Exec(ctx, `DROP TABLE IF EXISTS `+b.table+`, `+b.tombs)
	return err
}
