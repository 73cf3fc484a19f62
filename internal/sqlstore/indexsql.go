package sqlstore

import "strings"

// IndexColumns are the columns the per-user index adds to the sessions
// table, in the order AddIndexColumns adds them.
var IndexColumns = []string{"owner", "created", "last_seen", "user_agent", "ip"}

// IndexStatements holds the statements of the per-user index (Config.Owner
// set). The index is five nullable columns of the sessions table, so that
// it is written by the same statement as the session and dies with its row,
// and an index on owner only, so that a Commit that keeps its owner changes
// no indexed column but expiry. The comment on each field lists its
// arguments, in order.
type IndexStatements struct {
	// Commit and CommitPlain are Statements.Commit and CommitPlain that
	// also write the index columns: owner (NULL: not indexed), created
	// (kept unless the owner changes), last_seen, and user_agent and ip
	// (NULL keeps the stored value). Commit stays a no-op for a tombstoned
	// token. Args: token, data, expiry, owner, now, now, user agent, ip,
	// then (Commit only) token.
	Commit, CommitPlain string
	// List and ListPlain yield the live sessions of an owner, in no
	// order (the store sorts them): owner, now; yield token, created,
	// last_seen, expiry, user_agent, ip. List skips tokens with a
	// tombstone, by an outer join that probes the tombstones' primary key
	// for each of the owner's rows. On MariaDB 10.11 with a million
	// sessions, the filesort of ORDER BY cost about 250 µs a listing (a
	// Find takes 200) and NOT EXISTS, which MariaDB rewrites as a
	// materialized NOT IN, 100 to 350 µs more than the join.
	List, ListPlain string
	// Count and CountPlain count them: owner, now.
	Count, CountPlain string
	// Lock and LockPlain read (on MySQL: lock, FOR UPDATE)
	// every row of an owner inside a revoke transaction: Lock takes Epoch
	// and owner and yields token, expiry and whether the token has a
	// tombstone (a Claim placeholder, whose expiry is Epoch, is none);
	// LockPlain takes owner and yields token, expiry.
	Lock, LockPlain string
	// Owned yields the tokens of an owner's rows without locking them
	// (MySQL only; "" elsewhere): owner.
	Owned string
	// Claim(n) and Unclaim(n) are Statements.Claim and Unclaim for n tokens
	// (MySQL only; nil elsewhere): a MySQL revoke claims the tombstone keys
	// of the tokens Owned read before it locks their rows, in the order
	// Commit and Delete take their locks, so that none of them deadlock.
	// Claim: n pairs of token, Epoch. Unclaim: Epoch, n tokens.
	Claim, Unclaim func(n int) string
	// Tombstones(n) records the tombstones of n of an owner's rows about to
	// be deleted, like Statements.Tombstone: until, owner, n tokens.
	Tombstones func(n int) string
	// Delete(n) deletes n of an owner's rows: owner, n tokens.
	Delete func(n int) string
	// Columns yields the names of the index columns the sessions table has;
	// no arguments.
	Columns string
	// AddColumns returns the DDL that adds the missing columns, all
	// nullable and without a default, so that no dialect rewrites the table.
	AddColumns func(missing []string) []string
	// HasOwnerIndex yields a row if an index named <table>_owner_idx (the
	// owner index) exists, whatever its columns; no arguments.
	// CreateOwnerIndex creates it on OwnerIndexKey (partial, WHERE owner
	// IS NOT NULL, where the dialect has partial indexes).
	HasOwnerIndex, CreateOwnerIndex string
	OwnerIndexKey                   []string
	// OwnerIndexColumns yields the key columns of the owner index, in
	// order; no arguments. ReplaceOwnerIndex replaces an owner index whose
	// key is not OwnerIndexKey with the one CreateOwnerIndex creates, in
	// one statement (the table is never without an owner index) that the
	// server must run in place, without blocking writes. MySQL only ("" on
	// the others): its owner index was (owner, expiry) before it covered
	// the listing.
	OwnerIndexColumns, ReplaceOwnerIndex string
	// BackfillPage reads a page of the rows no indexed Commit has written
	// yet (last_seen IS NULL), in token order: now, after token, limit;
	// yields token, data.
	BackfillPage string
	// Backfill indexes one such row, unless a Commit has changed it since
	// the page was read: owner, now, now, token, data.
	Backfill string
}

// indexColumnTypes are the types of the index columns per dialect.
var indexColumnTypes = map[Dialect]map[string]string{
	Postgres: {"owner": "TEXT", "created": "TIMESTAMPTZ", "last_seen": "TIMESTAMPTZ", "user_agent": "TEXT", "ip": "TEXT"},
	// VARBINARY: owners compare byte for byte, never under a PAD SPACE or
	// case-insensitive collation ("alice" != "Alice" != "alice ").
	MySQL: {"owner": "VARBINARY(255)", "created": "DATETIME(6)", "last_seen": "DATETIME(6)",
		"user_agent": "VARBINARY(512)", "ip": "VARCHAR(45) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"},
	SQLite: {"owner": "TEXT", "created": "DATETIME", "last_seen": "DATETIME", "user_agent": "TEXT", "ip": "TEXT"},
}

// IndexColumnType returns the type of index column col on dialect d.
func IndexColumnType(d Dialect, col string) string { return indexColumnTypes[d][col] }

// padSizes are the list lengths the revoke statements are built for: a
// list of tokens is padded to the next size by repeating its last token
// (IN (a, b, b, b) is IN (a, b)), so that a few statements, prepared once,
// serve every revoke.
var padSizes = []int{1, 4, 16, 64, 256}

// MaxList is the most tokens one revoke statement lists.
var MaxList = padSizes[len(padSizes)-1]

// PadSizes returns the list lengths the revoke statements are prepared for.
func PadSizes() []int { return append([]int(nil), padSizes...) }

// pad returns tokens (at most MaxList) padded to the next of padSizes.
func pad(tokens []any) []any {
	if len(tokens) == 0 {
		return tokens
	}
	for _, n := range padSizes {
		if n >= len(tokens) {
			out := append(make([]any, 0, n), tokens...)
			for len(out) < n {
				out = append(out, tokens[len(tokens)-1])
			}
			return out
		}
	}
	return tokens
}

// buildIndex fills s.Index for dialect d; t and tt are the quoted table
// names and q quotes an identifier.
func (s *Statements) buildIndex(d Dialect, b builder, q func(string) string, t, tt string) {
	ix := &s.Index
	table := s.Table
	live := " AND NOT EXISTS (SELECT 1 FROM " + tt + " d WHERE d.token = s.token)"
	cols := "(token, data, expiry, owner, created, last_seen, user_agent, ip)"
	listCols := "SELECT s.token, s.created, s.last_seen, s.expiry, s.user_agent, s.ip FROM " + t + " s"
	ix.ListPlain = b.sql(split(listCols + " WHERE s.owner = ? AND s.expiry > ?")...)
	ix.List = b.sql(split(listCols + " LEFT JOIN " + tt + " d ON d.token = s.token WHERE s.owner = ? AND s.expiry > ? AND d.token IS NULL")...)
	count := "SELECT count(*) FROM " + t + " s WHERE owner = ? AND expiry > ?"
	ix.CountPlain = b.sql(split(count)...)
	ix.Count = b.sql(split(count + live)...)
	lock := "SELECT token, expiry FROM " + t + " s WHERE owner = ?"
	lockTomb := "SELECT token, expiry, EXISTS (SELECT 1 FROM " + tt + " d WHERE d.token = s.token AND d.expiry > ?) FROM " + t + " s WHERE owner = ?"
	switch d {
	case MySQL:
		lock, lockTomb = lock+" FOR UPDATE", lockTomb+" FOR UPDATE"
	}
	ix.LockPlain = b.sql(split(lock)...)
	ix.Lock = b.sql(split(lockTomb)...)
	ix.Delete = func(n int) string {
		return b.sql(split("DELETE FROM " + t + " WHERE owner = ? AND token IN (" + list(n) + ")")...)
	}
	ix.BackfillPage = b.sql(split("SELECT token, data FROM " + t + " WHERE last_seen IS NULL AND expiry > ? AND token > ? ORDER BY token LIMIT ?")...)
	ix.Backfill = b.sql(split("UPDATE " + t + " SET owner = ?, created = ?, last_seen = ? WHERE token = ? AND last_seen IS NULL AND data = ?")...)
	s.buildIndexDDL(d, q, t)
	in := "('" + strings.Join(IndexColumns, "', '") + "')"

	switch d {
	case MySQL:
		// ON DUPLICATE KEY UPDATE assigns left to right, each assignment
		// seeing the ones before it: created is decided before owner
		// changes.
		upsert := " ON DUPLICATE KEY UPDATE data = VALUES(data), expiry = VALUES(expiry)," +
			" created = IF(owner <=> VALUES(owner) AND created IS NOT NULL, created, VALUES(created))," +
			" owner = VALUES(owner), last_seen = VALUES(last_seen)," +
			" user_agent = COALESCE(VALUES(user_agent), user_agent), ip = COALESCE(VALUES(ip), ip)"
		ix.Commit = b.sql(split("INSERT INTO " + t + " " + cols + " SELECT ?, ?, ?, ?, ?, ?, ?, ? FROM DUAL" +
			" WHERE NOT EXISTS (SELECT 1 FROM " + tt + " WHERE token = ?)" + upsert)...)
		ix.CommitPlain = b.sql(split("INSERT INTO " + t + " " + cols + " VALUES (?, ?, ?, ?, ?, ?, ?, ?)" + upsert)...)
		ix.Tombstones = func(n int) string {
			return b.sql(split("INSERT INTO " + tt + " (token, expiry) SELECT token, GREATEST(expiry, ?) FROM " + t +
				" WHERE owner = ? AND token IN (" + list(n) + ") ON DUPLICATE KEY UPDATE " + tt + ".expiry = GREATEST(" +
				tt + ".expiry, VALUES(expiry))")...)
		}
		ix.Owned = b.sql(split("SELECT token FROM " + t + " WHERE owner = ?")...)
		ix.Claim = func(n int) string {
			return b.sql(split("INSERT INTO " + tt + " (token, expiry) VALUES " +
				strings.TrimSuffix(strings.Repeat("(?, ?), ", n), ", ") + " ON DUPLICATE KEY UPDATE expiry = expiry")...)
		}
		ix.Unclaim = func(n int) string {
			return b.sql(split("DELETE FROM " + tt + " WHERE expiry = ? AND token IN (" + list(n) + ")")...)
		}
		ix.Columns = "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE()" +
			" AND table_name = '" + table + "' AND column_name IN " + in
		ix.HasOwnerIndex = "SELECT 1 FROM information_schema.statistics WHERE table_schema = DATABASE()" +
			" AND table_name = '" + table + "' AND index_name = '" + table + "_owner_idx'"
		ix.OwnerIndexColumns = "SELECT column_name FROM information_schema.statistics WHERE table_schema = DATABASE()" +
			" AND table_name = '" + table + "' AND index_name = '" + table + "_owner_idx' ORDER BY seq_in_index"

	case SQLite:
		upsert := " ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry, owner = excluded.owner," +
			" created = CASE WHEN " + t + ".owner IS excluded.owner AND " + t + ".created IS NOT NULL THEN " + t + ".created ELSE excluded.created END," +
			" last_seen = excluded.last_seen, user_agent = COALESCE(excluded.user_agent, " + t + ".user_agent)," +
			" ip = COALESCE(excluded.ip, " + t + ".ip)"
		ix.Commit = b.sql(split("INSERT INTO " + t + " " + cols + " SELECT ?, ?, ?, ?, ?, ?, ?, ?" +
			" WHERE NOT EXISTS (SELECT 1 FROM " + tt + " WHERE token = ?)" + upsert)...)
		ix.CommitPlain = b.sql(split("INSERT INTO " + t + " " + cols + " VALUES (?, ?, ?, ?, ?, ?, ?, ?)" + upsert)...)
		ix.Tombstones = func(n int) string {
			return b.sql(split("INSERT INTO " + tt + " (token, expiry) SELECT token, max(expiry, ?) FROM " + t +
				" WHERE owner = ? AND token IN (" + list(n) + ") ON CONFLICT (token) DO UPDATE SET expiry = max(expiry, excluded.expiry)")...)
		}
		ix.Columns = "SELECT name FROM pragma_table_info('" + table + "') WHERE name IN " + in
		ix.HasOwnerIndex = "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = '" + table + "_owner_idx'"
	}
}

// buildIndexDDL fills the DDL of s.Index, the one part of the index's
// statements that PostgreSQL has too: AddColumns, CreateOwnerIndex
// (partial where the dialect has partial indexes) and its OwnerIndexKey,
// and on MySQL ReplaceOwnerIndex.
func (s *Statements) buildIndexDDL(d Dialect, q func(string) string, t string) {
	ix := &s.Index
	key, where := []string{"owner", "expiry"}, " WHERE owner IS NOT NULL"
	if d == MySQL {
		// InnoDB keeps rows in token order, so a user's sessions are on
		// as many pages as they are: an index that holds every column a
		// listing reads (the token is in every secondary index) answers
		// it from one range. With a million sessions and the default
		// 128 MB buffer pool, the listing's p99 went from 3.2 to 3.4
		// times a Find's to 1.2. MySQL has no partial indexes.
		key, where = []string{"owner", "expiry", "last_seen", "created", "user_agent", "ip"}, ""
	}
	ix.OwnerIndexKey = key
	idx, cols := q(s.Table+"_owner_idx"), " ("+strings.Join(key, ", ")+")"
	ix.CreateOwnerIndex = "CREATE INDEX " + idx + " ON " + t + cols + where
	if d == MySQL {
		// One ALTER TABLE: the old index serves until the new one is
		// built. INPLACE, LOCK=NONE: the server refuses rather than copy
		// the table under a lock that blocks every Commit.
		ix.ReplaceOwnerIndex = "ALTER TABLE " + t + " DROP INDEX " + idx + ", ADD INDEX " + idx + cols +
			", ALGORITHM=INPLACE, LOCK=NONE"
	}
	ix.AddColumns = func(missing []string) []string {
		var add []string
		for _, c := range missing {
			add = append(add, "ADD COLUMN "+c+" "+IndexColumnType(d, c))
		}
		if len(add) == 0 {
			return nil
		}
		if d == SQLite { // one column per ALTER TABLE
			out := make([]string, len(add))
			for i, a := range add {
				out[i] = "ALTER TABLE " + t + " " + a
			}
			return out
		}
		return []string{"ALTER TABLE " + t + " " + strings.Join(add, ", ")}
	}
}
