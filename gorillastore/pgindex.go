package gorillastore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sessionstore/sessionstore"
)

// The per-user index of a PGStore (PGConfig.Owner) is four nullable columns
// of the session table, written by the same statement as the session, so
// that the index lives and dies with the row:
//
//   - owner: the OwnerFunc's answer, NULL for "" (not indexed), under a
//     partial index WHERE owner IS NOT NULL. TEXT compared with =: byte for
//     byte under PostgreSQL's deterministic collations, no pattern.
//   - created: when the row was first written with its current owner
//     (UserSession.Created).
//   - user_agent, ip: those of the last Save whose context carried a
//     sessionstore.Client (Config.RecordClient); kept otherwise.
//
// UserSession.LastSeen is modified_on, which every Save already sets.
//
// With Owner nil none of this runs: the table keeps its columns and the
// store its statements, byte for byte.

// indexColumns are the columns the index adds to the session table.
var indexColumns = []string{"owner", "created", "user_agent", "ip"}

// errIndexOff is the cause of every UserIndex error of a store whose
// PGConfig.Owner is nil.
var errIndexOff = fmt.Errorf("PGConfig.Owner is nil: %w", sessionstore.ErrNoIndex)

// setOwner turns the index on with owner: Commit and Update write the index
// columns, and the UserIndex statements are built. A nil owner leaves the
// store as it was.
func (b *pgBackend) setOwner(owner sessionstore.OwnerFunc) {
	if owner == nil {
		return
	}
	b.owner = owner
	b.ownerIdx = pgx.Identifier{b.rawTable + "_owner_idx"}.Sanitize()
	tomb := func(key string) string {
		return ` AND NOT EXISTS (SELECT 1 FROM ` + b.tombs + ` WHERE key = ` + key + `)`
	}
	// created restarts when the owner changes and when an expired row is
	// reused; a Save without a client keeps the last one (COALESCE), but an
	// expired row forgets it. $5 is NULL for no owner, $6 and $7 for no
	// client.
	upsert := `ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, modified_on = EXCLUDED.modified_on, expires_on = EXCLUDED.expires_on,
created_on = CASE WHEN s.expires_on <= EXCLUDED.modified_on THEN EXCLUDED.created_on ELSE s.created_on END,
owner = EXCLUDED.owner,
created = CASE WHEN s.expires_on <= EXCLUDED.modified_on OR s.owner IS DISTINCT FROM EXCLUDED.owner OR s.created IS NULL
	THEN EXCLUDED.created ELSE s.created END,
user_agent = CASE WHEN s.expires_on <= EXCLUDED.modified_on THEN EXCLUDED.user_agent ELSE COALESCE(EXCLUDED.user_agent, s.user_agent) END,
ip = CASE WHEN s.expires_on <= EXCLUDED.modified_on THEN EXCLUDED.ip ELSE COALESCE(EXCLUDED.ip, s.ip) END`
	cols := `(key, data, created_on, modified_on, expires_on, owner, created, user_agent, ip)`
	// The same tombstone check as the unindexed commitSQL (see there).
	b.commitSQL = `INSERT INTO ` + b.table + ` AS s ` + cols + `
SELECT $1, $2, $3, $3, $4, $5::text, $3, $6::text, $7::text WHERE NOT EXISTS (SELECT 1 FROM ` + b.tombs + ` WHERE key = $1)
AND EXISTS (SELECT 1 FROM ` + b.table + ` WHERE key = $1) = EXISTS (SELECT 1 FROM ` + b.table + ` WHERE key = $1 FOR NO KEY UPDATE)
` + upsert
	b.commitPlainSQL = `INSERT INTO ` + b.table + ` AS s ` + cols + `
VALUES ($1, $2, $3, $3, $4, $5::text, $3, $6::text, $7::text) ` + upsert
	b.updatePlainSQL = `UPDATE ` + b.table + ` SET data = $2, modified_on = $3, expires_on = $4, owner = $5::text,
created = CASE WHEN owner IS DISTINCT FROM $5::text OR created IS NULL THEN $3 ELSE created END,
user_agent = COALESCE($6::text, user_agent), ip = COALESCE($7::text, ip)
WHERE key = $1 AND expires_on > $3`
	b.updateSQL = b.updatePlainSQL + tomb("$1")

	// Live rows of one owner: not expired by $2, the store's clock, and
	// without a tombstone (the anti-join Find uses). An index scan of the
	// owner's rows only.
	live := ` FROM ` + b.table + ` AS s WHERE owner = $1 AND expires_on > $2`
	b.listPlainSQL = `SELECT key, COALESCE(created, created_on), modified_on, expires_on, COALESCE(user_agent, ''), COALESCE(ip, '')` +
		live + ` ORDER BY modified_on DESC`
	b.listSQL = `SELECT key, COALESCE(created, created_on), modified_on, expires_on, COALESCE(user_agent, ''), COALESCE(ip, '')` +
		live + tomb("s.key") + ` ORDER BY modified_on DESC`
	b.countPlainSQL = `SELECT count(*)` + live
	b.countSQL = b.countPlainSQL + tomb("s.key")
	b.keysPlainSQL = `SELECT key` + live
	b.keysSQL = b.keysPlainSQL + tomb("s.key")

	// One session of one owner, deleted as deleteSQL deletes it; the owner
	// is checked again by the DELETE itself, so a session that changed
	// hands since it was listed is never deleted.
	b.deleteOwnedSQL = `WITH d AS (DELETE FROM ` + b.table + ` WHERE key = $1 AND owner = $3 RETURNING expires_on),
t AS (INSERT INTO ` + b.tombs + ` AS t (key, expires_on) SELECT $1, GREATEST(expires_on, $2) FROM d
ON CONFLICT (key) DO UPDATE SET expires_on = GREATEST(t.expires_on, EXCLUDED.expires_on))
SELECT count(*) FROM d`
	b.deleteOwnedPlainSQL = `DELETE FROM ` + b.table + ` WHERE key = $1 AND owner = $2`
	// Every session of one owner but the tokens in $2, in one statement:
	// each deleted row gets its tombstone as deleteSQL gives it (until the
	// later of its expiry and $3), and the statement counts the rows that
	// were live by $4. A Commit racing it is caught exactly as one racing
	// Delete: the row it waits for is gone. The tombstone check in
	// RETURNING reads the statement's snapshot, without the tombstones the
	// statement itself inserts.
	b.deleteAllSQL = `WITH d AS (DELETE FROM ` + b.table + ` AS s WHERE owner = $1 AND NOT (key = ANY ($2::text[]))
RETURNING key, expires_on, expires_on > $4 AND NOT EXISTS (SELECT 1 FROM ` + b.tombs + ` WHERE key = s.key) AS live),
t AS (INSERT INTO ` + b.tombs + ` AS t (key, expires_on) SELECT key, GREATEST(expires_on, $3) FROM d
ON CONFLICT (key) DO UPDATE SET expires_on = GREATEST(t.expires_on, EXCLUDED.expires_on))
SELECT count(*) FILTER (WHERE live) FROM d`
	b.deleteAllPlainSQL = `WITH d AS (DELETE FROM ` + b.table + ` WHERE owner = $1 AND NOT (key = ANY ($2::text[]))
RETURNING expires_on > $3 AS live)
SELECT count(*) FILTER (WHERE live) FROM d`
}

// indexArgs returns the owner and client arguments ($5, $6, $7) of an
// indexed Commit or Update of data, or an error matching
// sessionstore.ErrInvalidOwner (or the OwnerFunc's) before any round trip.
func (b *pgBackend) indexArgs(ctx context.Context, data []byte) (owner, ua, ip any, err error) {
	o, err := b.owner.Read(data)
	if err != nil {
		return nil, nil, nil, err
	}
	if o != "" {
		owner = o
	}
	if c, ok := sessionstore.ClientFromContext(ctx); ok {
		ua, ip = c.UserAgent, c.IP
	}
	return owner, ua, ip, nil
}

// hasIndexColumns reports whether the session table has every column of
// the index.
func (b *pgBackend) hasIndexColumns(ctx context.Context) (bool, error) {
	var n int
	err := b.db.QueryRow(ctx, `SELECT count(*) FROM pg_attribute
WHERE attrelid = $1::regclass AND attname = ANY ($2) AND attnum > 0 AND NOT attisdropped`, b.table, indexColumns).Scan(&n)
	return n == len(indexColumns), err
}

// checkIndex returns an error matching sessionstore.ErrNoIndex if the index
// is on and the session table lacks its columns.
func (b *pgBackend) checkIndex(ctx context.Context) error {
	if b.owner == nil {
		return nil
	}
	ok, err := b.hasIndexColumns(ctx)
	if err != nil {
		return fmt.Errorf("check the index columns of %s: %w", b.table, err)
	}
	if !ok {
		return fmt.Errorf("table %s lacks the columns of the per-user index (PGConfig.Owner is set): "+
			"run gorillastore.MigratePGStore, or the SQL in the README, first: %w", b.table, sessionstore.ErrNoIndex)
	}
	return nil
}

// pick returns the statement with tombstones or the plain one.
func (b *pgBackend) pick(ctx context.Context, tombs, plain string) string {
	if b.tombstones(ctx) {
		return tombs
	}
	return plain
}

// UserSessions lists the live sessions of user by their index entries,
// most recently seen first. UserSession.ID is sessionstore.SessionID of the
// row's key.
func (b *pgBackend) UserSessions(ctx context.Context, user string) ([]sessionstore.UserSession, error) {
	if b.owner == nil {
		return nil, fmt.Errorf("list sessions in %s: %w", b.table, errIndexOff)
	}
	if user == "" {
		return nil, nil // "" is no owner: never indexed
	}
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	rows, err := b.db.Query(ctx, b.pick(ctx, b.listSQL, b.listPlainSQL), user, micro(b.now()))
	if err != nil {
		return nil, fmt.Errorf("list sessions in %s: %w", b.table, err)
	}
	var list []sessionstore.UserSession
	var key string
	var us sessionstore.UserSession
	_, err = pgx.ForEachRow(rows, []any{&key, &us.Created, &us.LastSeen, &us.Expiry, &us.UserAgent, &us.IP}, func() error {
		us.ID = sessionstore.SessionID(key)
		list = append(list, us)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list sessions in %s: %w", b.table, err)
	}
	return list, nil
}

// CountUserSessions counts the live sessions of user.
func (b *pgBackend) CountUserSessions(ctx context.Context, user string) (int, error) {
	if b.owner == nil {
		return 0, fmt.Errorf("count sessions in %s: %w", b.table, errIndexOff)
	}
	if user == "" {
		return 0, nil
	}
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	var n int
	if err := b.db.QueryRow(ctx, b.pick(ctx, b.countSQL, b.countPlainSQL), user, micro(b.now())).Scan(&n); err != nil {
		return 0, fmt.Errorf("count sessions in %s: %w", b.table, err)
	}
	return n, nil
}

// DeleteUserSession deletes the live session of user whose
// sessionstore.SessionID is id: it reads the user's keys, and deletes the
// matching one with its tombstone, as DeleteCtx does, if it still belongs
// to user. Two round trips.
func (b *pgBackend) DeleteUserSession(ctx context.Context, user, id string) (bool, error) {
	if b.owner == nil {
		return false, fmt.Errorf("delete a session in %s: %w", b.table, errIndexOff)
	}
	if user == "" || id == "" {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.bounded())
	defer cancel()
	rows, err := b.db.Query(ctx, b.pick(ctx, b.keysSQL, b.keysPlainSQL), user, micro(b.now()))
	if err != nil {
		return false, fmt.Errorf("delete a session in %s: %w", b.table, err)
	}
	var key, match string
	_, err = pgx.ForEachRow(rows, []any{&key}, func() error {
		if sessionstore.SessionID(key) == id {
			match = key
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("delete a session in %s: %w", b.table, err)
	}
	if match == "" {
		return false, nil
	}
	var n int64
	if b.tombstones(ctx) {
		err = b.db.QueryRow(ctx, b.deleteOwnedSQL, match, micro(b.policy.Until(b.now())), user).Scan(&n)
	} else {
		var tag pgconn.CommandTag
		tag, err = b.db.Exec(ctx, b.deleteOwnedPlainSQL, match, user)
		n = tag.RowsAffected()
	}
	if err != nil {
		return false, fmt.Errorf("delete a session in %s: %w", b.table, err)
	}
	return n > 0, nil
}

// DeleteUserSessions deletes every session of user, with their tombstones,
// in one statement.
func (b *pgBackend) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	return b.DeleteUserSessionsExcept(ctx, user)
}

// DeleteUserSessionsExcept deletes every session of user but those of the
// keys in keep, with their tombstones, in one statement (one round trip),
// and returns the number of live sessions it deleted; the user's expired
// rows go too, uncounted. It runs to completion if ctx is cancelled, within
// the store's bounded timeout.
func (b *pgBackend) DeleteUserSessionsExcept(ctx context.Context, user string, keep ...string) (int, error) {
	if b.owner == nil {
		return 0, fmt.Errorf("delete sessions in %s: %w", b.table, errIndexOff)
	}
	if user == "" {
		return 0, nil
	}
	if keep == nil {
		keep = []string{} // an empty array, not NULL: NOT (key = ANY (NULL)) is NULL
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.bounded())
	defer cancel()
	now := b.now()
	var n int
	var err error
	if b.tombstones(ctx) {
		err = b.db.QueryRow(ctx, b.deleteAllSQL, user, keep, micro(b.policy.Until(now)), micro(now)).Scan(&n)
	} else {
		err = b.db.QueryRow(ctx, b.deleteAllPlainSQL, user, keep, micro(now)).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("delete sessions in %s: %w", b.table, err)
	}
	return n, nil
}

// indexDDL returns the statements that add the index columns and the
// owner index to the session table, if they are missing.
func (b *pgBackend) indexDDL() []string {
	return []string{
		`ALTER TABLE ` + b.table + ` ADD COLUMN IF NOT EXISTS owner TEXT, ADD COLUMN IF NOT EXISTS created TIMESTAMPTZ,
ADD COLUMN IF NOT EXISTS user_agent TEXT, ADD COLUMN IF NOT EXISTS ip TEXT`,
		`CREATE INDEX IF NOT EXISTS ` + b.ownerIdx + ` ON ` + b.table + ` (owner, expires_on) WHERE owner IS NOT NULL`,
	}
}

// backfillBatch is the number of rows one backfill statement indexes.
const backfillBatch = 1000

// migrateIndex adds the index columns and the owner index to the session
// table if they are missing, then backfills the owner of existing live rows
// (see MigratePGStore).
func (b *pgBackend) migrateIndex(ctx context.Context) error {
	// Adding nullable columns without a default rewrites nothing; the lock
	// timeout keeps the ALTER from queueing every session query behind it
	// while it waits for a long transaction.
	if err := b.create(ctx, append([]string{`SET LOCAL lock_timeout = '10s'`}, b.indexDDL()...)...); err != nil {
		return fmt.Errorf("add the index columns to %s: %w", b.table, err)
	}
	return b.backfill(ctx)
}

// backfill indexes the live rows, in batches of backfillBatch keyed by
// key: it reads a batch, decodes each row's data with the OwnerFunc, and
// writes the owners that differ from the row's in one UPDATE that touches a
// row only if its data is still what the backfill read, so that a Save
// racing the backfill is never overwritten (it wrote the owner of its own
// data). A row whose owner changes gets created = now. Rows whose owner
// cannot be read are left as they are, counted in one WARN. Run again, it
// corrects the rows that replicas without the index saved meanwhile.
func (b *pgBackend) backfill(ctx context.Context) error {
	sel := `SELECT key, data, COALESCE(owner, '') FROM ` + b.table + ` WHERE key > $1 AND expires_on > $2 ORDER BY key LIMIT $3`
	upd := `UPDATE ` + b.table + ` AS s SET owner = NULLIF(u.owner, ''), created = $4
FROM unnest($1::text[], $2::text[], $3::bytea[]) AS u(key, owner, data)
WHERE s.key = u.key AND s.data = u.data AND s.owner IS DISTINCT FROM NULLIF(u.owner, '')`
	var after string
	var indexed, unreadable int64
	var firstErr error
	start := time.Now()
	for {
		rows, err := b.db.Query(ctx, sel, after, micro(b.now()), backfillBatch)
		if err != nil {
			return fmt.Errorf("backfill %s: %w", b.table, err)
		}
		var keys, owners []string
		var datas [][]byte
		var key, current string
		var data []byte
		var read []string // the keys read, for backfillHook
		n := 0
		_, err = pgx.ForEachRow(rows, []any{&key, &data, &current}, func() error {
			n++
			after = key
			if b.backfillHook != nil {
				read = append(read, key)
			}
			owner, err := b.owner.Read(data)
			switch {
			case err != nil:
				unreadable++
				if firstErr == nil {
					firstErr = err
				}
			case owner != current:
				keys, owners, datas = append(keys, key), append(owners, owner), append(datas, data)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("backfill %s: %w", b.table, err)
		}
		if b.backfillHook != nil {
			b.backfillHook(read)
		}
		if len(keys) > 0 {
			tag, err := b.db.Exec(ctx, upd, keys, owners, datas, micro(b.now()))
			if err != nil {
				return fmt.Errorf("backfill %s: %w", b.table, err)
			}
			indexed += tag.RowsAffected()
		}
		if n < backfillBatch {
			break
		}
	}
	if unreadable > 0 {
		b.log.Warn("gorillastore: the per-user index backfill left the sessions whose owner it cannot read as they were",
			"table", b.table, "unreadable", unreadable, "first_err", firstErr)
	}
	b.log.Info("gorillastore: backfilled the per-user index", "table", b.table, "updated", indexed, "took", time.Since(start))
	return nil
}

// errNoOwner is MigratePGStore's answer for a PGConfig without Owner.
var errNoOwner = errors.New("PGConfig.Owner is nil: there is no owner to index by")
