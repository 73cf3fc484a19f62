package pgcore

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
	Migrate, Probe, AddColumns    string
	IndexLock, IndexUnlock        string
	CreateIndex, DropInvalidIndex string
	BackfillRead, BackfillWrite   string
	// Commit, CommitLegacy, CommitPlain, Update and UpdatePlain are those
	// of Queries, writing the index columns too: their arguments are $1
	// token, $2 data, $3 expiry, $4 owner (NULL for none), $5 the store's
	// clock, $6 user agent and $7 IP (NULL to keep the stored ones).
	Commit, CommitLegacy, CommitPlain string
	Update, UpdatePlain               string
}

// BuildIndexQueries returns the per-user index statements of the tables n
// names.
func BuildIndexQueries(n Names) IndexQueries {
	r := n.replacer()
	c := n.Cols
	st := newStamps(c, "$5")
	// LastSeen is written as the index's own column, unless it is
	// Modified, which the stamps write.
	ownLS := c.LastSeen != c.Modified
	const hidden = ` AND NOT EXISTS (SELECT 1 FROM {tt} tb WHERE tb.{tok} = s.{tok})`
	const live = ` FROM {t} s WHERE owner = $1 AND {exp} > $2`
	const list = `SELECT {tok}, created, {ls}, {exp}, user_agent, ip` + live
	const order = ` ORDER BY {ls} DESC NULLS LAST, {tok}`
	const count = `SELECT count(*)` + live
	const tokens = `SELECT {tok}` + live
	// The owner columns are written by the same statement as the session,
	// as the session's own: created is kept while the owner stays the same
	// (IS NOT DISTINCT FROM: NULL is no owner), user agent and IP are kept
	// when the Commit's context carries none ($6, $7 NULL).
	updateIndex := `
created = CASE WHEN s.owner IS NOT DISTINCT FROM $4::text AND s.created IS NOT NULL THEN s.created ELSE $5::timestamptz END,
owner = $4::text,`
	upsertIndex := `
created = CASE WHEN s.owner IS NOT DISTINCT FROM EXCLUDED.owner AND s.created IS NOT NULL THEN s.created ELSE EXCLUDED.created END,
owner = EXCLUDED.owner,`
	insertCols := `({tok}, {data}, {exp}, owner, created, `
	insertVals := `$1::text, $2::bytea, $3::timestamptz, $4::text, $5::timestamptz, `
	tableCols := `,
owner TEXT, created TIMESTAMPTZ, `
	addColumns := `ALTER TABLE {t} ADD COLUMN IF NOT EXISTS owner TEXT, ADD COLUMN IF NOT EXISTS created TIMESTAMPTZ,
`
	if ownLS {
		updateIndex += ` {ls} = $5::timestamptz,`
		upsertIndex += ` {ls} = EXCLUDED.{ls},`
		insertCols += `{ls}, `
		insertVals += `$5::timestamptz, `
		tableCols += `{ls} TIMESTAMPTZ, `
		addColumns += `ADD COLUMN IF NOT EXISTS {ls} TIMESTAMPTZ, `
	}
	updateIndex += `
user_agent = COALESCE($6::text, s.user_agent), ip = COALESCE($7::text, s.ip)`
	upsertIndex += `
user_agent = COALESCE(EXCLUDED.user_agent, s.user_agent), ip = COALESCE(EXCLUDED.ip, s.ip)`
	insertCols += `user_agent, ip` + st.cols + `)`
	insertVals += `$6::text, $7::text` + st.vals
	tableCols += `user_agent TEXT, ip TEXT`
	addColumns += `ADD COLUMN IF NOT EXISTS user_agent TEXT, ADD COLUMN IF NOT EXISTS ip TEXT`
	const ownerIndex = `{toi} ON {t} (owner, {exp}) WHERE owner IS NOT NULL`
	lockKey := func(what string) string {
		return `hashtextextended('pgstore ` + what + ` ' || ` + quoteLiteral(n.Sessions) + `::regclass::oid::text, 0)`
	}
	update := `UPDATE {t} s SET {data} = $2, {exp} = $3,` + updateIndex + st.update + `
WHERE {tok} = $1 AND {exp} > $5::timestamptz`
	upsert := `
ON CONFLICT ({tok}) DO UPDATE SET {data} = EXCLUDED.{data}, {exp} = EXCLUDED.{exp},` + upsertIndex + st.upsert
	return IndexQueries{
		List:        r.Replace(list + hidden + order),
		ListPlain:   r.Replace(list + order),
		Count:       r.Replace(count + hidden),
		CountPlain:  r.Replace(count),
		Tokens:      r.Replace(tokens + hidden),
		TokensPlain: r.Replace(tokens),
		DelOwned: r.Replace(`WITH d AS (DELETE FROM {t} WHERE {tok} = $1 AND owner = $3 RETURNING {exp})
INSERT INTO {tt} AS tb ({tok}, {exp}) SELECT $1, GREATEST({exp}, $2) FROM d
ON CONFLICT ({tok}) DO UPDATE SET {exp} = GREATEST(tb.{exp}, EXCLUDED.{exp})`),
		DelOwnedPlain: r.Replace(`DELETE FROM {t} WHERE {tok} = $1 AND owner = $2`),
		// The DELETE locks each row it removes, exactly as del does, so a
		// Commit of one of the tokens racing it behaves as against Delete:
		// either it wrote first (and its row, still the user's, is deleted
		// after it) or it waits, finds the row gone and, on its next
		// snapshot, the tombstone. The final SELECT sees the snapshot the
		// statement started with, so the tombstones it inserts do not hide
		// the rows they are for.
		Revoke: r.Replace(`WITH d AS (DELETE FROM {t} WHERE owner = $1 AND {tok} <> ALL ($2::text[]) RETURNING {tok}, {exp}),
i AS (INSERT INTO {tt} AS tb ({tok}, {exp}) SELECT {tok}, GREATEST({exp}, $3) FROM d
ON CONFLICT ({tok}) DO UPDATE SET {exp} = GREATEST(tb.{exp}, EXCLUDED.{exp}))
SELECT count(*) FROM d WHERE {exp} > $4 AND NOT EXISTS (SELECT 1 FROM {tt} x WHERE x.{tok} = d.{tok})`),
		RevokePlain: r.Replace(`WITH d AS (DELETE FROM {t} WHERE owner = $1 AND {tok} <> ALL ($2::text[]) RETURNING {exp})
SELECT count(*) FROM d WHERE {exp} > $3`),
		Commit: r.Replace(`MERGE INTO {t} AS s USING (SELECT $1::text AS token) AS c ON s.{tok} = c.token
WHEN MATCHED THEN UPDATE SET {data} = $2, {exp} = $3,` + updateIndex + st.merge + `
WHEN NOT MATCHED AND NOT EXISTS (SELECT 1 FROM {t} WHERE {tok} = $1)
AND NOT EXISTS (SELECT 1 FROM {tt} WHERE {tok} = $1)
THEN INSERT ` + insertCols + ` VALUES (` + insertVals + `)`),
		CommitLegacy: r.Replace(`INSERT INTO {t} AS s ` + insertCols + ` SELECT ` + insertVals + `
WHERE NOT EXISTS (SELECT 1 FROM {tt} WHERE {tok} = $1)
AND EXISTS (SELECT 1 FROM {t} WHERE {tok} = $1) = EXISTS (SELECT 1 FROM {t} WHERE {tok} = $1 FOR NO KEY UPDATE)` + upsert),
		CommitPlain: r.Replace(`INSERT INTO {t} AS s ` + insertCols + ` VALUES (` + insertVals + `)` + upsert),
		Update:      r.Replace(update + hidden),
		UpdatePlain: r.Replace(update),
		// A table that does not exist yet is created with the columns and
		// both indexes, in the migration's transaction (an index on an empty
		// table costs nothing). An existing one is left to addColumns and
		// createIndex, which do not block its traffic.
		Migrate: ensure(n, sessionsDDL(c, tableCols), "\nCREATE INDEX "+ownerIndex+";"),
		Probe: `SELECT (SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0
AND NOT attisdropped AND attname = ANY ($2::text[])), (SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($3))`,
		// Nullable columns without a default: a catalog change, no rewrite.
		// ALTER TABLE needs an ACCESS EXCLUSIVE lock, which queues every
		// request behind it while it waits: lock_timeout bounds that wait,
		// and Migrate fails rather than stall the table behind a long
		// transaction.
		AddColumns: `SELECT pg_advisory_xact_lock(hashtextextended('pgstore migrate', 0)), set_config('lock_timeout', '2s', true);
` + r.Replace(addColumns),
		IndexLock:        `SELECT pg_try_advisory_lock(` + lockKey("owner index") + `)`,
		IndexUnlock:      `SELECT pg_advisory_unlock(` + lockKey("owner index") + `)`,
		CreateIndex:      r.Replace(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ` + ownerIndex),
		DropInvalidIndex: r.Replace(`DROP INDEX CONCURRENTLY IF EXISTS {toiq}`),
		// Every live row, with the owner it is indexed under ('' for none),
		// so that a rerun also corrects the rows an index-off replica
		// rewrote for another owner.
		BackfillRead: r.Replace(`SELECT {tok}, {data}, COALESCE(owner, '') FROM {t} WHERE {tok} > $1 AND {exp} > $2
ORDER BY {tok} LIMIT $3`),
		// Only a row that still holds the data the owner was read from (a
		// Commit since then wrote its own owner) and whose owner differs;
		// $2 holds '' for no owner.
		BackfillWrite: r.Replace(`UPDATE {t} s SET owner = NULLIF(u.owner, ''), created = $4` + backfillLS(ownLS) + `
FROM unnest($1::text[], $2::text[], $3::bytea[]) AS u(token, owner, data)
WHERE s.{tok} = u.token AND s.{data} = u.data AND s.owner IS DISTINCT FROM NULLIF(u.owner, '')`),
	}
}

// backfillLS is the backfill's assignment of the index's own LastSeen
// column, if it has one: a row that never had one gets the backfill's time.
func backfillLS(own bool) string {
	if !own {
		return ""
	}
	return ", {ls} = COALESCE(s.{ls}, $4)"
}
