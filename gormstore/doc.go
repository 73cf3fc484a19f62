// Package gormstore is a GORM-based session store for SCS
// (github.com/alexedwards/scs/v2), a drop-in replacement for
// github.com/alexedwards/scs/gormstore on PostgreSQL, MySQL/MariaDB and
// SQLite.
//
// The API is the SCS store's: New(db) and NewWithCleanupInterval(db, d)
// return a *GORMStore with Find, Commit, Delete and All, their context forms
// (FindCtx, CommitCtx, DeleteCtx, AllCtx) and StopCleanup. NewWithConfig
// adds the table, cleanup interval and batch size, a timeout, a maximum
// data size, a logger, a cleanup callback, an injectable clock, the
// tombstone lifetime and clock-skew allowance, the per-user index and
// coalesced touches; Config's fields have pgstore.Config's names and
// defaults (Table, Timeout, DefaultTimeout of 10 s), and its former names
// TableName and DeleteTimeout still work. Sessions streams live sessions
// page by page, DeleteExpired runs the cleanup on demand, and Migrate
// creates the tables.
//
// What it does better than the SCS store:
//
//   - Commit is one statement (on PostgreSQL a MERGE, on MySQL INSERT ...
//     ON DUPLICATE KEY UPDATE, on SQLite INSERT ... ON CONFLICT DO UPDATE),
//     so concurrent first commits of one token cannot fail as FirstOrCreate
//     does, and it updates data and expiry on every dialect. On PostgreSQL
//     the store runs the statements pgstore runs, written once in the
//     repository's PostgreSQL core (docs/postgres.md), through GORM's
//     connection (or, with Config.Callbacks, db.Exec and db.Raw).
//   - Delete records a tombstone in <table>_tombstones, and Commit checks it
//     inside the same statement: a request still in flight when the user
//     logged out cannot bring the session back. The tombstone lasts until
//     the later of the session's expiry and the Delete time plus
//     Config.TombstoneLifetime (1 h), since a late Commit carries a new
//     expiry (SCS's IdleTimeout); cleanup removes it only Config.ClockSkew
//     (15 min) after that, so that a replica whose clock runs ahead by less
//     does not remove it early. (A commit already running when the Delete
//     commits can still write the row back; reads ignore any session that
//     has a tombstone, and cleanup deletes such rows with the tombstone.)
//     Delete completes even when the request's context is cancelled,
//     within Config.Timeout (or DefaultTimeout). The
//     remaining bound: a request that outlasts the lifetime after the
//     logout can still commit; keep your server's timeouts well inside it.
//   - Expiry is compared with the application's clock, passed as a bind
//     parameter; values never appear in the SQL text.
//   - Cleanup deletes expired rows in batches of 1,000 (PostgreSQL: by ctid,
//     with FOR UPDATE SKIP LOCKED under pgstore's advisory lock, so that one
//     replica cleans at a time; MySQL: DELETE ... ORDER BY expiry LIMIT; SQLite: by
//     rowid), each batch its own transaction.
//   - Expiries outside sessionstore.MinExpiry to MaxExpiry (years 1000 to
//     9999) are refused with an error matching
//     sessionstore.ErrExpiryOutOfRange, and nothing is written: no backend
//     stores all of time.Time exactly.
//   - Malformed tokens (empty, over 512 bytes, NUL bytes, invalid UTF-8) are
//     not found, without a database round trip.
//
// # Tables
//
// New creates the tables with GORM's migrator when they do not exist (on
// PostgreSQL the sessions table; the tombstone table is the core's), and
// never alters an existing one (SCS's AutoMigrate drops NOT NULL from data
// and adds a second expiry index). The columns per dialect:
//
//	PostgreSQL: token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL
//	MySQL:      token VARBINARY(512) PRIMARY KEY,
//	            data LONGBLOB NOT NULL, expiry DATETIME(6) NOT NULL
//	SQLite:     token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry DATETIME NOT NULL
//
// with an index sessions_expiry_idx on expiry; the tombstone table has the
// token and expiry columns. This is SCS pgstore's PostgreSQL schema, so an
// existing SCS table keeps working. On MySQL and MariaDB the token is
// VARBINARY so that tokens compare byte by byte (utf8mb4_bin is PAD SPACE:
// "abc" = "abc  "); New, NewWithConfig and Migrate refuse an existing token
// column that does not compare bytes exactly (an earlier version's
// VARCHAR(512) utf8mb4_bin, SCS's CHAR(43)), with an error that names the
// fix, ALTER TABLE `sessions` MODIFY token VARBINARY(512) NOT NULL (and the
// same for sessions_tombstones).
//
// Without the tombstone table a logout can be undone. If it cannot be
// created (no privilege), NewWithConfig fails with an error matching
// sessionstore.ErrNoTombstones unless Config.AllowNoTombstones; New (whose
// SCS signature promises to run where the SCS store ran) runs degraded: it
// logs at ERROR on every cleanup run, and starts using the table within a
// minute of it being created (on the next cleanup run, or on the request
// path at most once a minute).
//
// # Operating notes
//
// PostgreSQL: Config.AsyncCommit makes Commit skip its WAL flush wait (Delete
// stays durable); on GORM's postgres driver (pgx's stdlib) the setting and
// the statement are one pgx batch, with Config.Callbacks a GORM transaction.
//
// MySQL and MariaDB: use parseTime=true&loc=UTC in the DSN; expiry is
// stored in UTC with microseconds. The store prepares its frequent
// statements once (database/sql would otherwise prepare, run and close each
// one: three round trips), unless GORM's PrepareStmt already does, and
// closes them when it is garbage collected.
//
// SQLite: SQLite has one writer at a time. Use WAL and a busy timeout
// (with github.com/glebarez/sqlite:
// "file:app.db?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)"), and
// a pool of one connection (SetMaxOpenConns(1)) if many goroutines write.
//
// Connection pools: database/sql keeps only two idle connections by default;
// under concurrent load set SetMaxIdleConns to SetMaxOpenConns, or
// connections are opened and closed on every burst.
//
// GORM callbacks: the store runs its statements on GORM's connection pool
// (db.Statement.ConnPool), which halves the Go overhead per call. Set
// Config.Callbacks to run them through db.Exec and db.Raw instead, so that
// GORM's logger and plugins see them.
package gormstore
