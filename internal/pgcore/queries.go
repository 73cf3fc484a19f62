package pgcore

import "strings"

// Queries holds every statement the store runs, built once from the table
// names. pgx prepares each one once per connection. The statements ending
// in Plain are the ones a store without tombstones runs (see
// Options.AllowNoTombstones).
type Queries struct {
	// Find, All and Page never return a row whose token has a tombstone:
	// such a row was written behind the store's back (by a writer that
	// ignores tombstones) after its Delete.
	Find, All, Page                string
	FindPlain, AllPlain, PagePlain string
	// FindExpiry and FindExpiryPlain are Find and FindPlain that also
	// return the expiry, for the local view of Options.TouchWindow.
	FindExpiry, FindExpiryPlain string
	// Commit is one MERGE (PostgreSQL 15 and later): it updates the row
	// this statement's snapshot sees, or inserts one if that snapshot holds
	// neither the row nor its tombstone (see Store.Commit). CommitLegacy does
	// the same on older servers at the price of a row lock and two more
	// index probes, and on drivers that report no MERGE row count (see
	// MergeReporter). CommitPlain is the bare upsert.
	Commit, CommitLegacy, CommitPlain string
	// Del removes the row and records its tombstone in one statement, with
	// the later of the row's expiry and $2 (the Delete time plus the
	// tombstone lifetime); DelUpsert also replaces a tombstone that is
	// already there, the rare case of a session recreated after its Delete
	// by a writer that ignores tombstones, keeping the later expiry.
	// DelPlain is the bare DELETE.
	Del, DelUpsert, DelPlain string
	// Cleanup: the per-table advisory lock and one batch per table; a
	// tombstone batch also deletes the session rows of the tokens whose
	// tombstones it deletes.
	TryLock, CleanSessions, CleanTombstones string
	// Schema: the migration, and what the store checks about the tombstone
	// table (at construction, and while it runs without it).
	Migrate, Probe, CreateTombstones string
}

// BuildQueries returns the statements of the tables n names.
func BuildQueries(n Names) Queries {
	r := strings.NewReplacer("{t}", n.Sessions, "{tt}", n.Tombstones, "{ti}", n.SessionsIdx, "{tti}", n.TombstonesIdx)
	createTombstones := r.Replace(`CREATE TABLE IF NOT EXISTS {tt} (token TEXT PRIMARY KEY, expiry TIMESTAMPTZ NOT NULL);
CREATE INDEX IF NOT EXISTS {tti} ON {tt} (expiry);`)
	// The advisory lock keys are derived from the table's OID, so that
	// stores on different tables never contend and replicas on the same
	// table always do, however they spell its name.
	const migrateLock = `SELECT pg_advisory_xact_lock(hashtextextended('pgstore migrate', 0));`
	const hidden = ` AND NOT EXISTS (SELECT 1 FROM {tt} tb WHERE tb.token = s.token)`
	find := `SELECT data FROM {t} s WHERE token = $1 AND expiry > $2`
	all := `SELECT token, data FROM {t} s WHERE expiry > $1`
	page := `SELECT token, data, expiry FROM {t} s WHERE token > $1 AND expiry > $2`
	const pageOrder = ` ORDER BY token LIMIT $3`
	return Queries{
		Find:            r.Replace(find + hidden),
		FindPlain:       r.Replace(find),
		FindExpiry:      r.Replace(strings.Replace(find, "SELECT data", "SELECT data, expiry", 1) + hidden),
		FindExpiryPlain: r.Replace(strings.Replace(find, "SELECT data", "SELECT data, expiry", 1)),
		All:             r.Replace(all + hidden),
		AllPlain:        r.Replace(all),
		Page:            r.Replace(page + hidden + pageOrder),
		PagePlain:       r.Replace(page + pageOrder),
		// MERGE joins the token with the row the statement's snapshot sees.
		// A row that a concurrent Delete (or cleanup) removes after that
		// snapshot is no longer MATCHED once the UPDATE has waited for the
		// deleting transaction; PostgreSQL then tries the NOT MATCHED
		// branch, whose condition is evaluated on the same snapshot, still
		// sees the row and so inserts nothing.
		Commit: r.Replace(`MERGE INTO {t} AS s USING (SELECT $1::text AS token) AS c ON s.token = c.token
WHEN MATCHED THEN UPDATE SET data = $2, expiry = $3
WHEN NOT MATCHED AND NOT EXISTS (SELECT 1 FROM {t} WHERE token = $1)
AND NOT EXISTS (SELECT 1 FROM {tt} WHERE token = $1)
THEN INSERT (token, data, expiry) VALUES ($1, $2, $3)`),
		CommitLegacy: r.Replace(`INSERT INTO {t} (token, data, expiry) SELECT $1, $2, $3
WHERE NOT EXISTS (SELECT 1 FROM {tt} WHERE token = $1)
AND EXISTS (SELECT 1 FROM {t} WHERE token = $1) = EXISTS (SELECT 1 FROM {t} WHERE token = $1 FOR NO KEY UPDATE)
ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry`),
		CommitPlain: r.Replace(`INSERT INTO {t} (token, data, expiry) VALUES ($1, $2, $3)
ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry`),
		// A plain INSERT: a speculative insertion (ON CONFLICT) costs an
		// index probe and a WAL record more, for a conflict that needs a
		// session recreated behind the store's back.
		Del: r.Replace(`WITH d AS (DELETE FROM {t} WHERE token = $1 RETURNING expiry)
INSERT INTO {tt} (token, expiry) SELECT $1, GREATEST(expiry, $2) FROM d`),
		DelUpsert: r.Replace(`WITH d AS (DELETE FROM {t} WHERE token = $1 RETURNING expiry)
INSERT INTO {tt} AS tb (token, expiry) SELECT $1, GREATEST(expiry, $2) FROM d
ON CONFLICT (token) DO UPDATE SET expiry = GREATEST(tb.expiry, EXCLUDED.expiry)`),
		DelPlain: r.Replace(`DELETE FROM {t} WHERE token = $1`),
		// A cleanup batch need not be durable (after a crash it is simply
		// done again), so it does not wait for its WAL to reach disk and
		// does not queue behind the requests' own commits.
		TryLock: `SELECT pg_try_advisory_xact_lock(hashtextextended('pgstore cleanup ' || ` +
			quoteLiteral(n.Sessions) + `::regclass::oid::text, 0)), set_config('synchronous_commit', 'off', true)`,
		CleanSessions: r.Replace(`DELETE FROM {t} WHERE ctid = ANY (ARRAY(
SELECT ctid FROM {t} WHERE expiry <= $1 ORDER BY expiry LIMIT $2 FOR UPDATE SKIP LOCKED)) AND expiry <= $1`),
		// The session rows go by primary key (= ANY of an array of at most
		// $2 tokens), in the same statement as their tombstones: a row
		// written behind a tombstone never outlives it.
		CleanTombstones: r.Replace(`WITH d AS (DELETE FROM {tt} WHERE ctid = ANY (ARRAY(
SELECT ctid FROM {tt} WHERE expiry <= $1 ORDER BY expiry LIMIT $2 FOR UPDATE SKIP LOCKED)) AND expiry <= $1
RETURNING token),
h AS (DELETE FROM {t} WHERE token = ANY (ARRAY(SELECT token FROM d)) RETURNING 1)
SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM h)`),
		Migrate: migrateLock + r.Replace(`
CREATE TABLE IF NOT EXISTS {t} (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL);
CREATE INDEX IF NOT EXISTS {ti} ON {t} (expiry);
`) + createTombstones,
		// has_table_privilege is true if any of the privileges it is given
		// is held, hence one call per privilege.
		Probe: `SELECT r IS NOT NULL, COALESCE(has_table_privilege(r, 'SELECT') AND has_table_privilege(r, 'INSERT')
AND has_table_privilege(r, 'UPDATE') AND has_table_privilege(r, 'DELETE'), false),
current_setting('server_version_num')::int >= 150000
FROM (SELECT to_regclass(` + quoteLiteral(n.Tombstones) + `) AS r) t`,
		CreateTombstones: migrateLock + "\n" + createTombstones,
	}
}
