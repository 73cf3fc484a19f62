package pgcore

import (
	"strconv"
	"strings"
)

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
	// MergeReporter). CommitPlain is the bare upsert. Their arguments are
	// $1 token, $2 data, $3 expiry and, on a table with Columns.Created or
	// Modified, $4 the store's clock.
	Commit, CommitLegacy, CommitPlain string
	// Update replaces the data and expiry of the row of $1 only if it is
	// live by $4, the store's clock: not expired and, for Update, without a
	// tombstone. It never inserts a row (see Store.Update).
	Update, UpdatePlain string
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
	// Schema: the migration, what the store checks about the tombstone
	// table (at construction, and while it runs without it), and Ensure,
	// which creates the sessions table only if it does not exist (see
	// Options.EnsureTable).
	Migrate, Probe, CreateTombstones, Ensure string
	// Complete yields true when both tables and their expiry indexes
	// exist: Migrate then runs no CREATE, which PostgreSQL refuses to a
	// role without CREATE on the schema even with IF NOT EXISTS and the
	// table there.
	Complete string
}

// migrateLock serialises the schema changes of every store, on any table.
const migrateLock = `SELECT pg_advisory_xact_lock(hashtextextended('pgstore migrate', 0));`

// stamps are the fragments of the write statements that maintain
// Columns.Created and Modified, with now the parameter of the store's
// clock; every fragment is empty for a table without them.
type stamps struct {
	as         string // " AS s": the upserts name the old row
	cols, vals string // the INSERT's columns and values
	merge      string // MERGE's UPDATE SET
	upsert     string // ON CONFLICT's UPDATE SET
	update     string // Update's SET
}

// newStamps returns the stamp fragments of the columns c, the clock being
// the parameter now ("$4", "$5"). A Commit that replaces an expired row
// restarts Created: the row is a new session.
func newStamps(c Columns, now string) stamps {
	var st stamps
	now += "::timestamptz"
	if c.Created != "" {
		st.cols += ", {cre}"
		st.vals += ", " + now
		st.merge += ", {cre} = CASE WHEN s.{exp} <= " + now + " THEN " + now + " ELSE s.{cre} END"
		st.upsert += ", {cre} = CASE WHEN s.{exp} <= EXCLUDED.{cre} THEN EXCLUDED.{cre} ELSE s.{cre} END"
	}
	if c.Modified != "" {
		st.cols += ", {mod}"
		st.vals += ", " + now
		st.merge += ", {mod} = " + now
		st.upsert += ", {mod} = EXCLUDED.{mod}"
		st.update += ", {mod} = " + now
	}
	if st.cols != "" {
		st.as = " AS s"
	}
	return st
}

// stamped reports whether the table has columns that writes stamp.
func (c Columns) stamped() bool { return c.Created != "" || c.Modified != "" }

// sessionsDDL returns the column list of a new sessions table, with extra
// (the index columns, or "") after the others.
func sessionsDDL(c Columns, extra string) string {
	cols := "({tok} TEXT PRIMARY KEY, {data} BYTEA NOT NULL"
	if c.Serial != "" {
		cols = "(" + c.Serial + " BIGSERIAL PRIMARY KEY, {tok} TEXT NOT NULL UNIQUE, {data} BYTEA NOT NULL"
	}
	if c.Created != "" {
		cols += ", {cre} TIMESTAMPTZ NOT NULL"
	}
	if c.Modified != "" {
		cols += ", {mod} TIMESTAMPTZ NOT NULL"
	}
	return cols + ", {exp} TIMESTAMPTZ NOT NULL" + extra + ")"
}

// ensure returns the statement that creates the sessions table with the
// column list cols and the statements after, only if it does not exist: on
// an existing table it runs no DDL, so a role that may use the tables but
// not create them can run it.
func ensure(n Names, cols, after string) string {
	body := `BEGIN IF to_regclass(` + quoteLiteral(n.Sessions) + `) IS NULL THEN
` + n.replacer().Replace(`CREATE TABLE {t} `+cols+`;
CREATE INDEX {ti} ON {t} ({exp});`+after) + `
END IF; END`
	// The body is dollar-quoted with a tag it does not contain: a whole
	// table name may hold "$$".
	tag := "$$"
	for i := 0; strings.Contains(body, tag); i++ {
		tag = "$q" + strconv.Itoa(i) + "$"
	}
	return migrateLock + "\nDO " + tag + body + tag + ";"
}

// BuildQueries returns the statements of the tables n names.
func BuildQueries(n Names) Queries {
	r := n.replacer()
	c := n.Cols
	st := newStamps(c, "$4")
	createTombstones := r.Replace(`CREATE TABLE IF NOT EXISTS {tt} ({tok} TEXT PRIMARY KEY, {exp} TIMESTAMPTZ NOT NULL);
CREATE INDEX IF NOT EXISTS {tti} ON {tt} ({exp});`)
	const hidden = ` AND NOT EXISTS (SELECT 1 FROM {tt} tb WHERE tb.{tok} = s.{tok})`
	const find = `SELECT {data} FROM {t} s WHERE {tok} = $1 AND {exp} > $2`
	const findExpiry = `SELECT {data}, {exp} FROM {t} s WHERE {tok} = $1 AND {exp} > $2`
	const all = `SELECT {tok}, {data} FROM {t} s WHERE {exp} > $1`
	const page = `SELECT {tok}, {data}, {exp} FROM {t} s WHERE {tok} > $1 AND {exp} > $2`
	const pageOrder = ` ORDER BY {tok} LIMIT $3`
	update := `UPDATE {t} s SET {data} = $2, {exp} = $3` + st.update + ` WHERE {tok} = $1 AND {exp} > $4::timestamptz`
	upsert := `
ON CONFLICT ({tok}) DO UPDATE SET {data} = EXCLUDED.{data}, {exp} = EXCLUDED.{exp}` + st.upsert
	return Queries{
		Find:            r.Replace(find + hidden),
		FindPlain:       r.Replace(find),
		FindExpiry:      r.Replace(findExpiry + hidden),
		FindExpiryPlain: r.Replace(findExpiry),
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
		Commit: r.Replace(`MERGE INTO {t} AS s USING (SELECT $1::text AS token) AS c ON s.{tok} = c.token
WHEN MATCHED THEN UPDATE SET {data} = $2, {exp} = $3` + st.merge + `
WHEN NOT MATCHED AND NOT EXISTS (SELECT 1 FROM {t} WHERE {tok} = $1)
AND NOT EXISTS (SELECT 1 FROM {tt} WHERE {tok} = $1)
THEN INSERT ({tok}, {data}, {exp}` + st.cols + `) VALUES ($1, $2, $3` + st.vals + `)`),
		CommitLegacy: r.Replace(`INSERT INTO {t}` + st.as + ` ({tok}, {data}, {exp}` + st.cols + `) SELECT $1, $2, $3` + st.vals + `
WHERE NOT EXISTS (SELECT 1 FROM {tt} WHERE {tok} = $1)
AND EXISTS (SELECT 1 FROM {t} WHERE {tok} = $1) = EXISTS (SELECT 1 FROM {t} WHERE {tok} = $1 FOR NO KEY UPDATE)` + upsert),
		CommitPlain: r.Replace(`INSERT INTO {t}` + st.as + ` ({tok}, {data}, {exp}` + st.cols + `) VALUES ($1, $2, $3` + st.vals + `)` + upsert),
		// An UPDATE that waits for a concurrent Delete finds no row once
		// the Delete commits, and a deleted or expired row stays gone.
		Update:      r.Replace(update + hidden),
		UpdatePlain: r.Replace(update),
		// A plain INSERT: a speculative insertion (ON CONFLICT) costs an
		// index probe and a WAL record more, for a conflict that needs a
		// session recreated behind the store's back.
		Del: r.Replace(`WITH d AS (DELETE FROM {t} WHERE {tok} = $1 RETURNING {exp})
INSERT INTO {tt} ({tok}, {exp}) SELECT $1, GREATEST({exp}, $2) FROM d`),
		DelUpsert: r.Replace(`WITH d AS (DELETE FROM {t} WHERE {tok} = $1 RETURNING {exp})
INSERT INTO {tt} AS tb ({tok}, {exp}) SELECT $1, GREATEST({exp}, $2) FROM d
ON CONFLICT ({tok}) DO UPDATE SET {exp} = GREATEST(tb.{exp}, EXCLUDED.{exp})`),
		DelPlain: r.Replace(`DELETE FROM {t} WHERE {tok} = $1`),
		// The advisory lock keys are derived from the table's OID, so that
		// stores on different tables never contend and replicas on the same
		// table always do, however they spell its name. A cleanup batch
		// need not be durable (after a crash it is simply
		// done again), so it does not wait for its WAL to reach disk and
		// does not queue behind the requests' own commits.
		TryLock: `SELECT pg_try_advisory_xact_lock(hashtextextended('pgstore cleanup ' || ` +
			quoteLiteral(n.Sessions) + `::regclass::oid::text, 0)), set_config('synchronous_commit', 'off', true)`,
		CleanSessions: r.Replace(`DELETE FROM {t} WHERE ctid = ANY (ARRAY(
SELECT ctid FROM {t} WHERE {exp} <= $1 ORDER BY {exp} LIMIT $2 FOR UPDATE SKIP LOCKED)) AND {exp} <= $1`),
		// The session rows go by primary key (= ANY of an array of at most
		// $2 tokens), in the same statement as their tombstones: a row
		// written behind a tombstone never outlives it.
		CleanTombstones: r.Replace(`WITH d AS (DELETE FROM {tt} WHERE ctid = ANY (ARRAY(
SELECT ctid FROM {tt} WHERE {exp} <= $1 ORDER BY {exp} LIMIT $2 FOR UPDATE SKIP LOCKED)) AND {exp} <= $1
RETURNING {tok}),
h AS (DELETE FROM {t} WHERE {tok} = ANY (ARRAY(SELECT {tok} FROM d)) RETURNING 1)
SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM h)`),
		Migrate: migrateLock + r.Replace(`
CREATE TABLE IF NOT EXISTS {t} `+sessionsDDL(c, "")+`;
CREATE INDEX IF NOT EXISTS {ti} ON {t} ({exp});
`) + createTombstones,
		// has_table_privilege is true if any of the privileges it is given
		// is held, hence one call per privilege.
		Probe: `SELECT r IS NOT NULL, COALESCE(has_table_privilege(r, 'SELECT') AND has_table_privilege(r, 'INSERT')
AND has_table_privilege(r, 'UPDATE') AND has_table_privilege(r, 'DELETE'), false),
current_setting('server_version_num')::int >= 150000
FROM (SELECT to_regclass(` + quoteLiteral(n.Tombstones) + `) AS r) t`,
		CreateTombstones: migrateLock + "\n" + createTombstones,
		Complete: `SELECT to_regclass(` + quoteLiteral(n.Sessions) + `) IS NOT NULL AND to_regclass(` + quoteLiteral(n.SessionsIdxQualified) +
			`) IS NOT NULL AND to_regclass(` + quoteLiteral(n.Tombstones) + `) IS NOT NULL AND to_regclass(` + quoteLiteral(n.TombstonesIdxQualified) + `) IS NOT NULL`,
		Ensure: ensure(n, sessionsDDL(c, ""), ""),
	}
}
