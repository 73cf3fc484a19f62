// Package sqlstore is the session store that gormstore and bunstore share:
// the SQL of MySQL/MariaDB and SQLite and the store logic on top of it,
// written against a small Conn interface that each ORM module adapts, and on
// PostgreSQL the shared PostgreSQL core (internal/pgcore) on the same Conn.
// It uses only the standard library.
//
// Every statement carries its values as bind parameters; only the table name,
// validated and quoted, is part of the SQL text.
package sqlstore

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Dialect is an SQL dialect the store speaks.
type Dialect int

// The dialects.
const (
	Postgres Dialect = iota + 1
	MySQL            // MySQL and MariaDB
	SQLite
)

func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case MySQL:
		return "mysql"
	case SQLite:
		return "sqlite"
	}
	return "unknown dialect " + strconv.Itoa(int(d))
}

// Placeholders is how a statement marks its parameters.
type Placeholders int

// The placeholder styles.
const (
	Question Placeholders = iota // ? for every parameter (GORM rewrites it per dialect)
	Dollar                       // $1, $2, ... (database/sql on PostgreSQL drivers)
)

// MaxTableLen is the longest table name accepted, so that the derived names
// (<table>_tombstones_expiry_idx) stay within every dialect's identifier limit.
const MaxTableLen = 40

var tableRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// CheckTable reports whether name can be used as a table name.
func CheckTable(name string) error {
	if len(name) > MaxTableLen || !tableRE.MatchString(name) {
		return fmt.Errorf("invalid table name %q: want letters, digits and underscores, at most %d bytes, not starting with a digit", name, MaxTableLen)
	}
	return nil
}

// Statements holds every statement of a store, for one dialect and table.
// The comment on each field lists its arguments, in order. On PostgreSQL,
// whose stores run internal/pgcore's statements, only the DDL is set:
// CreateSessions, CreateTombstones, IndexSessions, IndexTombstones and the
// index's AddColumns and CreateOwnerIndex.
type Statements struct {
	Dialect Dialect
	Table   string // unquoted

	// Find, All and Page never return a session that has a tombstone, even
	// one a commit racing with its Delete wrote back; the Plain forms are
	// for stores without a tombstone table.
	Find, FindPlain string // token, now
	// FindExpiry and FindExpiryPlain are Find and FindPlain that yield the
	// expiry after the data, for the local view of coalesced touches
	// (Config.Touch): token, now.
	FindExpiry, FindExpiryPlain string
	All, AllPlain               string // now
	Page, PagePlain             string // now, after token, limit; yields token, data, expiry
	Commit                      string // token, data, expiry, token  (no-op when tombstoned)
	CommitPlain                 string // token, data, expiry         (without tombstones)
	// Tombstone records the tombstone of a row that is about to be
	// deleted, in Delete's transaction: until, token. Its expiry is the
	// later of the deleted row's expiry and until =
	// tombstone.Policy.Until(now), and an existing tombstone's expiry only
	// ever moves later.
	Tombstone string
	Delete    string // token
	// Claim and Unclaim bracket a MySQL Delete: Claim locks the token's
	// tombstone key first (writing a placeholder with expiry Epoch), in the
	// order Commit takes its locks, so that the two cannot deadlock; Unclaim
	// removes the placeholder if no session existed. Args: token, Epoch.
	Claim, Unclaim string
	// ExpireSessions deletes one batch of expired sessions, oldest first:
	// now, limit.
	ExpireSessions string
	// ExpireTombstones takes one batch of the tombstones that cleanup may
	// remove (expiry <= cutoff), oldest first, and yields their tokens:
	// cutoff, limit. On SQLite it deletes them (DELETE ... RETURNING); on
	// MySQL, where DELETE returns no rows, it reads them and
	// PurgeTombstones deletes them.
	ExpireTombstones string
	// PurgeTombstones(n) deletes n of the tombstones ExpireTombstones read,
	// those that still expire by the cutoff (MySQL only; nil elsewhere):
	// cutoff, then n tokens.
	PurgeTombstones func(n int) string
	// PurgeSessions(n) deletes the session rows of n tokens whose
	// tombstones cleanup removes, in the same transaction, so that a row
	// written behind a tombstone never reappears: n tokens.
	PurgeSessions func(n int) string
	// CreateSessions and CreateTombstones create the tables and their
	// expiry indexes if they do not exist yet.
	CreateSessions   []string
	CreateTombstones []string
	// ProbeTombstones and ProbeSessions succeed when the tombstone table
	// and the sessions table exist.
	ProbeTombstones, ProbeSessions string
	// SchemaComplete yields the number of the two tables whose expiry
	// index exists (MySQL only; "" elsewhere): 2 when Migrate has nothing
	// to create. A role without CREATE may then run Migrate: MySQL refuses
	// CREATE TABLE IF NOT EXISTS to it even for a table that exists.
	// SQLite has no privileges, and PostgreSQL runs pgcore's Migrate.
	SchemaComplete string
	// TokenColumns lists the token columns of the two tables (MySQL only;
	// "" elsewhere): no arguments; yields table, data type, character set
	// and collation (the last two "" for a binary type).
	TokenColumns string
	// IndexSessions and IndexTombstones create the expiry indexes (named
	// <table>_expiry_idx), for callers that create the tables themselves.
	IndexSessions, IndexTombstones string
	// Index holds the statements of the per-user index.
	Index IndexStatements
}

// New builds the statements of dialect d for table, which must pass
// CheckTable.
func New(d Dialect, p Placeholders, table string) (*Statements, error) {
	if err := CheckTable(table); err != nil {
		return nil, err
	}
	tomb := table + "_tombstones"
	var q func(string) string
	switch d {
	case MySQL:
		q = func(s string) string { return "`" + s + "`" }
	case Postgres, SQLite:
		q = func(s string) string { return `"` + s + `"` }
	default:
		return nil, fmt.Errorf("unsupported dialect %v", d)
	}
	t, tt := q(table), q(tomb)
	b := builder{p: p}
	s := &Statements{Dialect: d, Table: table}

	s.IndexSessions = "CREATE INDEX " + q(table+"_expiry_idx") + " ON " + t + " (expiry)"
	s.IndexTombstones = "CREATE INDEX " + q(tomb+"_expiry_idx") + " ON " + tt + " (expiry)"
	ifNotExists := func(create string) string {
		return strings.Replace(create, "CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
	}
	if d == Postgres {
		// PostgreSQL runs internal/pgcore, which has its own statements:
		// only the DDL remains, for gormstore's Open (the sessions table
		// through GORM's migrator) and for the tests' tables.
		s.CreateSessions = []string{
			"CREATE TABLE IF NOT EXISTS " + t + " (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL)",
			ifNotExists(s.IndexSessions),
		}
		s.CreateTombstones = []string{
			"CREATE TABLE IF NOT EXISTS " + tt + " (token TEXT PRIMARY KEY, expiry TIMESTAMPTZ NOT NULL)",
			ifNotExists(s.IndexTombstones),
		}
		s.buildIndexDDL(d, q, t)
		return s, nil
	}

	live := " AND NOT EXISTS (SELECT 1 FROM " + tt + " d WHERE d.token = " + t + ".token)"
	s.FindPlain = b.sql("SELECT data FROM "+t+" WHERE token = ", "?", " AND expiry > ", "?")
	s.Find = s.FindPlain + live
	s.FindExpiryPlain = b.sql("SELECT data, expiry FROM "+t+" WHERE token = ", "?", " AND expiry > ", "?")
	s.FindExpiry = s.FindExpiryPlain + live
	s.AllPlain = b.sql("SELECT token, data FROM "+t+" WHERE expiry > ", "?")
	s.All = s.AllPlain + live
	page := "SELECT token, data, expiry FROM " + t + " WHERE expiry > ?"
	order := " AND token > ? ORDER BY token LIMIT ?"
	s.PagePlain = b.sql(split(page + order)...)
	s.Page = b.sql(split(page + live + order)...)
	s.Delete = b.sql("DELETE FROM "+t+" WHERE token = ", "?")
	s.PurgeSessions = func(n int) string { return b.sql(split("DELETE FROM " + t + " WHERE token IN (" + list(n) + ")")...) }
	s.ProbeTombstones = "SELECT 1 FROM " + tt + " WHERE 1 = 0"
	s.ProbeSessions = "SELECT 1 FROM " + t + " WHERE 1 = 0"
	if d == MySQL {
		s.SchemaComplete = "SELECT COUNT(DISTINCT index_name) FROM information_schema.statistics WHERE table_schema = DATABASE()" +
			" AND table_name IN ('" + table + "', '" + tomb + "') AND index_name IN ('" + table + "_expiry_idx', '" + tomb + "_expiry_idx')"
	}

	switch d {
	case MySQL:
		insert := "INSERT INTO " + t + " (token, data, expiry) "
		upsert := " ON DUPLICATE KEY UPDATE data = VALUES(data), expiry = VALUES(expiry)"
		s.Commit = b.sql(insert+"SELECT ", "?", ", ", "?", ", ", "?",
			" FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM "+tt+" WHERE token = ", "?", ")"+upsert)
		s.CommitPlain = b.sql(insert+"VALUES (", "?", ", ", "?", ", ", "?", ")"+upsert)
		s.Tombstone = b.sql("INSERT INTO "+tt+" (token, expiry) SELECT token, GREATEST(expiry, ", "?", ") FROM "+t+
			" WHERE token = ", "?", " ON DUPLICATE KEY UPDATE "+tt+".expiry = GREATEST("+tt+".expiry, VALUES(expiry))")
		s.Claim = b.sql("INSERT INTO "+tt+" (token, expiry) VALUES (", "?", ", ", "?", ") ON DUPLICATE KEY UPDATE expiry = expiry")
		s.Unclaim = b.sql("DELETE FROM "+tt+" WHERE token = ", "?", " AND expiry = ", "?")
		s.ExpireSessions = b.sql("DELETE FROM "+t+" WHERE expiry <= ", "?", " ORDER BY expiry LIMIT ", "?")
		s.ExpireTombstones = b.sql("SELECT token FROM "+tt+" WHERE expiry <= ", "?", " ORDER BY expiry LIMIT ", "?")
		s.PurgeTombstones = func(n int) string {
			return b.sql(split("DELETE FROM " + tt + " WHERE expiry <= ? AND token IN (" + list(n) + ")")...)
		}
		s.TokenColumns = "SELECT table_name, data_type, COALESCE(character_set_name, ''), COALESCE(collation_name, '')" +
			" FROM information_schema.columns WHERE table_schema = DATABASE() AND column_name = 'token'" +
			" AND table_name IN ('" + table + "', '" + tomb + "')"
		const token = "token " + MySQLTokenType + " NOT NULL PRIMARY KEY"
		const opts = ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
		s.CreateSessions = []string{
			"CREATE TABLE IF NOT EXISTS " + t + " (" + token + ", data LONGBLOB NOT NULL, expiry DATETIME(6) NOT NULL, INDEX " +
				q(table+"_expiry_idx") + " (expiry)" + opts,
		}
		s.CreateTombstones = []string{
			"CREATE TABLE IF NOT EXISTS " + tt + " (" + token + ", expiry DATETIME(6) NOT NULL, INDEX " +
				q(tomb+"_expiry_idx") + " (expiry)" + opts,
		}

	case SQLite:
		insert := "INSERT INTO " + t + " (token, data, expiry) "
		upsert := " ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry"
		s.Commit = b.sql(insert+"SELECT ", "?", ", ", "?", ", ", "?",
			" WHERE NOT EXISTS (SELECT 1 FROM "+tt+" WHERE token = ", "?", ")"+upsert)
		s.CommitPlain = b.sql(insert+"VALUES (", "?", ", ", "?", ", ", "?", ")"+upsert)
		s.Tombstone = b.sql("INSERT INTO "+tt+" (token, expiry) SELECT token, max(expiry, ", "?", ") FROM "+t+
			" WHERE token = ", "?", " ON CONFLICT (token) DO UPDATE SET expiry = max(expiry, excluded.expiry)")
		expire := func(table string) string {
			return b.sql("DELETE FROM "+table+" WHERE rowid IN (SELECT rowid FROM "+table+
				" WHERE expiry <= ", "?", " ORDER BY expiry LIMIT ", "?", ")")
		}
		s.ExpireSessions = expire(t)
		s.ExpireTombstones = expire(tt) + " RETURNING token"
		s.CreateSessions = []string{
			"CREATE TABLE IF NOT EXISTS " + t + " (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry DATETIME NOT NULL)",
			ifNotExists(s.IndexSessions),
		}
		s.CreateTombstones = []string{
			"CREATE TABLE IF NOT EXISTS " + tt + " (token TEXT PRIMARY KEY, expiry DATETIME NOT NULL)",
			ifNotExists(s.IndexTombstones),
		}
	}
	s.buildIndex(d, b, q, t, tt)
	return s, nil
}

// Hot returns the statements worth preparing once (see StmtCache): those
// of every request, not those of cleanup, which runs unprepared because its
// loop outlives an abandoned store.
func (s *Statements) Hot() []string {
	hot := []string{s.Find, s.FindPlain, s.FindExpiry, s.FindExpiryPlain, s.Commit, s.CommitPlain, s.Delete,
		s.Claim, s.Tombstone, s.Unclaim, s.All, s.AllPlain, s.Page, s.PagePlain,
		s.Index.Commit, s.Index.CommitPlain, s.Index.List, s.Index.ListPlain,
		s.Index.Count, s.Index.CountPlain, s.Index.Lock, s.Index.LockPlain}
	if s.Index.Owned != "" {
		hot = append(hot, s.Index.Owned)
	}
	for _, n := range padSizes {
		hot = append(hot, s.Index.Tombstones(n), s.Index.Delete(n))
		if s.Index.Claim != nil {
			hot = append(hot, s.Index.Claim(n), s.Index.Unclaim(n))
		}
	}
	return hot
}

// MySQLTokenType is the type of the token columns on MySQL and MariaDB:
// bytes compared exactly. A VARCHAR with utf8mb4_bin, MariaDB's and MySQL
// 5.7's binary collation, is PAD SPACE: "abc" and "abc  " would be one row.
// VARBINARY has no padding and no collation on either server.
const MySQLTokenType = "VARBINARY(512)"

var sqlNameRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// ExactProbe returns a MySQL query that yields one row with two integers,
// both 0 when the collation compares strings of the character set byte by
// byte: 'a' = 'a ' (PAD SPACE) and 'a' = 'A' (case-insensitive).
func ExactProbe(charset, collation string) (string, error) {
	if !sqlNameRE.MatchString(charset) || !sqlNameRE.MatchString(collation) {
		return "", fmt.Errorf("unexpected character set %q or collation %q", charset, collation)
	}
	v := func(s string) string { return "CONVERT('" + s + "' USING " + charset + ") COLLATE " + collation }
	return "SELECT " + v("a") + " = " + v("a ") + ", " + v("a") + " = " + v("A"), nil
}

// list is a list of n placeholders: "?, ?, ?".
func list(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// split cuts q at each "?" into the parts builder.sql takes.
func split(q string) []string {
	var parts []string
	for {
		i := strings.IndexByte(q, '?')
		if i < 0 {
			return append(parts, q)
		}
		parts = append(parts, q[:i], "?")
		q = q[i+1:]
	}
}

// builder numbers placeholders: each "?" part becomes the next parameter.
type builder struct{ p Placeholders }

func (b builder) sql(parts ...string) string {
	var sb strings.Builder
	n := 0
	for _, p := range parts {
		if p == "?" {
			n++
			if b.p == Dollar {
				sb.WriteString("$" + strconv.Itoa(n))
			} else {
				sb.WriteByte('?')
			}
			continue
		}
		sb.WriteString(p)
	}
	return sb.String()
}

// sqliteTime is the text form of a time in SQLite: fixed width, UTC, so that
// text comparison orders times correctly. SQLite's date functions, GORM's
// SQLite driver and Bun's SQLite dialect all read it.
const sqliteTime = "2006-01-02 15:04:05.000000+00:00"

// Time returns t as the parameter the dialect compares expiry with: UTC at
// microsecond precision, as text on SQLite.
func (s *Statements) Time(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if s.Dialect == SQLite {
		return t.Format(sqliteTime)
	}
	return t
}

// Epoch is the expiry of a tombstone placeholder (see Statements.Claim).
var Epoch = time.Unix(0, 0).UTC()
