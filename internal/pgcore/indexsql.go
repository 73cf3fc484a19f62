package pgcore

import "strings"

// indexColumns are the columns the per-user index adds to the sessions
// table. They are nullable, so that adding them to an existing table
// rewrites nothing.
var indexColumns = []string{"owner", "created", "last_seen", "user_agent", "ip"}

// IndexQueries are the statements of a store whose per-user index is on
// (Options.Owner set), built once from the table names. Those ending in
// Plain are run while the store has no tombstone table.
type IndexQueries struct {
	// List, Count and Tokens read a user's live sessions: expiry > $2 and,
	// like Find, no tombstone for the token. The partial owner index
	// serves owner = $1, since = proves owner IS NOT NULL.
	List, Count, Tokens                string
	ListPlain, CountPlain, TokensPlain string
	// DelOwned is Del restricted to a row still owned by $3, so that a
	// session whose owner changed since it was listed is not deleted.
	DelOwned, DelOwnedPlain string
	// Revoke deletes every session of $1 but the tokens of $2 and records
	// their tombstones, in one statement; it returns how many of the rows
	// it deleted were live (expiry > $4, no tombstone before it ran).
	Revoke, RevokePlain string
	// Schema: the migration of a fresh table (creating the owner index
	// with it), the catalog probe of the columns and the index, adding
	// the columns to an existing table, and the owner index built
	// concurrently under a session advisory lock.
	Migrate, Probe, AddColumns        string
	IndexLock, IndexUnlock            string
	CreateIndex, DropInvalidIndex     string
	BackfillRead, BackfillWrite       string
	Commit, CommitLegacy, CommitPlain string
}

// BuildIndexQueries returns the per-user index statements of the tables n
// names.
func BuildIndexQueries(n Names) IndexQueries {
	r := strings.NewReplacer("{t}", n.Sessions, "{tt}", n.Tombstones, "{ti}", n.SessionsIdx,
		"{toi}", n.OwnerIdx, "{toiq}", n.OwnerIdxQualified)
	const hidden = ` AND NOT EXISTS (SELECT 1 FROM {tt} tb WHERE tb.token = s.token)`
	const live = ` FROM {t} s WHERE owner = $1 AND expiry > $2`
	const list = `SELECT token, created, last_seen, expiry, user_agent, ip` + live
	const order = ` ORDER BY last_seen DESC NULLS LAST, token`
	const count = `SELECT count(*)` + live
	const tokens = `SELECT token` + live
	// The owner columns are written by the same statement as the session,
	// as the session's own: created is kept while the owner stays the same
	// (IS NOT DISTINCT FROM: NULL is no owner), user agent and IP are kept
	// when the Commit's context carries none ($6, $7 NULL).
	const updateIndex = `
created = CASE WHEN s.owner IS NOT DISTINCT FROM $4::text AND s.created IS NOT NULL THEN s.created ELSE $5::timestamptz END,
owner = $4::text, last_seen = $5::timestamptz,
user_agent = COALESCE($6::text, s.user_agent), ip = COALESCE($7::text, s.ip)`
	const upsertIndex = `
created = CASE WHEN s.owner IS NOT DISTINCT FROM EXCLUDED.owner AND s.created IS NOT NULL THEN s.created ELSE EXCLUDED.created END,
owner = EXCLUDED.owner, last_seen = EXCLUDED.last_seen,
user_agent = COALESCE(EXCLUDED.user_agent, s.user_agent), ip = COALESCE(EXCLUDED.ip, s.ip)`
	const insertCols = `(token, data, expiry, owner, created, last_seen, user_agent, ip)`
	const insertVals = `$1::text, $2::bytea, $3::timestamptz, $4::text, $5::timestamptz, $5::timestamptz, $6::text, $7::text`
	const table = `(token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL,
owner TEXT, created TIMESTAMPTZ, last_seen TIMESTAMPTZ, user_agent TEXT, ip TEXT)`
	const ownerIndex = `{toi} ON {t} (owner, expiry) WHERE owner IS NOT NULL`
	lockKey := func(what string) string {
		return `hashtextextended('pgstore ` + what + ` ' || ` + quoteLiteral(n.Sessions) + `::regclass::oid::text, 0)`
	}
	return IndexQueries{
		List:        r.Replace(list + hidden + order),
		ListPlain:   r.Replace(list + order),
		Count:       r.Replace(count + hidden),
		CountPlain:  r.Replace(count),
		Tokens:      r.Replace(tokens + hidden),
		TokensPlain: r.Replace(tokens),
		DelOwned: r.Replace(`WITH d AS (DELETE FROM {t} WHERE token = $1 AND owner = $3 RETURNING expiry)
INSERT INTO {tt} AS tb (token, expiry) SELECT $1, GREATEST(expiry, $2) FROM d
ON CONFLICT (token) DO UPDATE SET expiry = GREATEST(tb.expiry, EXCLUDED.expiry)`),
		DelOwnedPlain: r.Replace(`DELETE FROM {t} WHERE token = $1 AND owner = $2`),
		// The DELETE locks each row it removes, exactly as del does, so a
		// Commit of one of the tokens racing it behaves as against Delete:
		// either it wrote first (and its row, still the user's, is deleted
		// after it) or it waits, finds the row gone and, on its next
		// snapshot, the tombstone. The final SELECT sees the snapshot the
		// statement started with, so the tombstones it inserts do not hide
		// the rows they are for.
		Revoke: r.Replace(`WITH d AS (DELETE FROM {t} WHERE owner = $1 AND token <> ALL ($2::text[]) RETURNING token, expiry),
i AS (INSERT INTO {tt} AS tb (token, expiry) SELECT token, GREATEST(expiry, $3) FROM d
ON CONFLICT (token) DO UPDATE SET expiry = GREATEST(tb.expiry, EXCLUDED.expiry))
SELECT count(*) FROM d WHERE expiry > $4 AND NOT EXISTS (SELECT 1 FROM {tt} x WHERE x.token = d.token)`),
		RevokePlain: r.Replace(`WITH d AS (DELETE FROM {t} WHERE owner = $1 AND token <> ALL ($2::text[]) RETURNING expiry)
SELECT count(*) FROM d WHERE expiry > $3`),
		Commit: r.Replace(`MERGE INTO {t} AS s USING (SELECT $1::text AS token) AS c ON s.token = c.token
WHEN MATCHED THEN UPDATE SET data = $2, expiry = $3,` + updateIndex + `
WHEN NOT MATCHED AND NOT EXISTS (SELECT 1 FROM {t} WHERE token = $1)
AND NOT EXISTS (SELECT 1 FROM {tt} WHERE token = $1)
THEN INSERT ` + insertCols + ` VALUES (` + insertVals + `)`),
		CommitLegacy: r.Replace(`INSERT INTO {t} AS s ` + insertCols + ` SELECT ` + insertVals + `
WHERE NOT EXISTS (SELECT 1 FROM {tt} WHERE token = $1)
AND EXISTS (SELECT 1 FROM {t} WHERE token = $1) = EXISTS (SELECT 1 FROM {t} WHERE token = $1 FOR NO KEY UPDATE)
ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry,` + upsertIndex),
		CommitPlain: r.Replace(`INSERT INTO {t} AS s ` + insertCols + ` VALUES (` + insertVals + `)
ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry,` + upsertIndex),
		// A table that does not exist yet is created with the columns and
		// both indexes, in the migration's transaction (an index on an empty
		// table costs nothing). An existing one is left to addColumns and
		// createIndex, which do not block its traffic.
		Migrate: `SELECT pg_advisory_xact_lock(hashtextextended('pgstore migrate', 0));
DO $$BEGIN IF to_regclass(` + quoteLiteral(n.Sessions) + `) IS NULL THEN
` + r.Replace(`CREATE TABLE {t} `+table+`;
CREATE INDEX {ti} ON {t} (expiry);
CREATE INDEX `+ownerIndex+`;`) + `
END IF; END$$;`,
		Probe: `SELECT (SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0
AND NOT attisdropped AND attname = ANY ($2::text[])), (SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($3))`,
		// Nullable columns without a default: a catalog change, no rewrite.
		// ALTER TABLE needs an ACCESS EXCLUSIVE lock, which queues every
		// request behind it while it waits: lock_timeout bounds that wait,
		// and Migrate fails rather than stall the table behind a long
		// transaction.
		AddColumns: `SELECT pg_advisory_xact_lock(hashtextextended('pgstore migrate', 0)), set_config('lock_timeout', '2s', true);
` + r.Replace(`ALTER TABLE {t} ADD COLUMN IF NOT EXISTS owner TEXT, ADD COLUMN IF NOT EXISTS created TIMESTAMPTZ,
ADD COLUMN IF NOT EXISTS last_seen TIMESTAMPTZ, ADD COLUMN IF NOT EXISTS user_agent TEXT, ADD COLUMN IF NOT EXISTS ip TEXT`),
		IndexLock:        `SELECT pg_try_advisory_lock(` + lockKey("owner index") + `)`,
		IndexUnlock:      `SELECT pg_advisory_unlock(` + lockKey("owner index") + `)`,
		CreateIndex:      r.Replace(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ` + ownerIndex),
		DropInvalidIndex: r.Replace(`DROP INDEX CONCURRENTLY IF EXISTS {toiq}`),
		BackfillRead: r.Replace(`SELECT token, data FROM {t} WHERE token > $1 AND owner IS NULL AND expiry > $2
ORDER BY token LIMIT $3`),
		// Only a row that is still unindexed and still holds the data the
		// owner was read from: a Commit since then wrote its own owner.
		BackfillWrite: r.Replace(`UPDATE {t} s SET owner = u.owner, created = $4, last_seen = $4
FROM unnest($1::text[], $2::text[], $3::bytea[]) AS u(token, owner, data)
WHERE s.token = u.token AND s.owner IS NULL AND s.data = u.data`),
	}
}
