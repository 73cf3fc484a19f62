// Package bunstore is a Bun-based session store for SCS
// (github.com/alexedwards/scs/v2), a drop-in replacement for
// github.com/alexedwards/scs/bunstore on PostgreSQL, MySQL/MariaDB and
// SQLite.
//
// The API is the SCS store's: New(db) and NewWithCleanupInterval(db, d)
// return a *BunStore with Find, Commit, Delete and All, their context forms
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
//     ON DUPLICATE KEY UPDATE, on SQLite INSERT ... ON CONFLICT DO UPDATE)
//     that updates data and expiry on every dialect: SCS bunstore never
//     extends a session's expiry on PostgreSQL, and panics in its
//     context-free methods. On PostgreSQL the store runs the statements
//     pgstore runs, written once in the repository's PostgreSQL core
//     (docs/postgres.md), on database/sql.
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
//   - Values are bind parameters. Bun's query builder formats values into
//     the SQL text, so the store runs its statements on the *sql.DB under
//     the *bun.DB (Bun query hooks do not see them; Migrate's DDL, which
//     holds no values, goes through Bun).
//   - Expiry is compared with the application's clock, not the database's.
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
// Like the SCS store, New does not create the sessions table: call Migrate
// once, or create it yourself. New does create the tombstone table if it
// can. Without it a logout can be undone, so NewWithConfig fails with an
// error matching sessionstore.ErrNoTombstones unless
// Config.AllowNoTombstones; New (whose SCS signature promises to run where
// the SCS store ran) runs degraded: it logs at ERROR on every cleanup run,
// and starts using the table within a minute of it being created (on the
// next cleanup run, or on the request path at most once a minute).
// Migrate runs, per dialect (for the default table name):
//
//	PostgreSQL:
//	CREATE TABLE IF NOT EXISTS "sessions" (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL);
//	CREATE INDEX IF NOT EXISTS "sessions_expiry_idx" ON "sessions" (expiry);
//	CREATE TABLE IF NOT EXISTS "sessions_tombstones" (token TEXT PRIMARY KEY, expiry TIMESTAMPTZ NOT NULL);
//	CREATE INDEX IF NOT EXISTS "sessions_tombstones_expiry_idx" ON "sessions_tombstones" (expiry);
//
//	MySQL / MariaDB:
//	CREATE TABLE IF NOT EXISTS `sessions` (
//		token VARBINARY(512) NOT NULL PRIMARY KEY,
//		data LONGBLOB NOT NULL, expiry DATETIME(6) NOT NULL,
//		INDEX `sessions_expiry_idx` (expiry)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
//	CREATE TABLE IF NOT EXISTS `sessions_tombstones` (
//		token VARBINARY(512) NOT NULL PRIMARY KEY,
//		expiry DATETIME(6) NOT NULL,
//		INDEX `sessions_tombstones_expiry_idx` (expiry)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
//
//	SQLite:
//	CREATE TABLE IF NOT EXISTS "sessions" (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry DATETIME NOT NULL);
//	CREATE INDEX IF NOT EXISTS "sessions_expiry_idx" ON "sessions" (expiry);
//	CREATE TABLE IF NOT EXISTS "sessions_tombstones" (token TEXT PRIMARY KEY, expiry DATETIME NOT NULL);
//	CREATE INDEX IF NOT EXISTS "sessions_tombstones_expiry_idx" ON "sessions_tombstones" (expiry);
//
// The PostgreSQL table is SCS pgstore's, so an existing SCS table keeps
// working. On MySQL and MariaDB the token is VARBINARY so that tokens
// compare byte by byte: utf8mb4_bin is PAD SPACE ("abc" = "abc  "), and
// SCS's CHAR(43) too. New, NewWithConfig and Migrate refuse an existing
// token column that does not compare bytes exactly, with an error that
// names the fix:
//
//	ALTER TABLE `sessions` MODIFY token VARBINARY(512) NOT NULL;
//	ALTER TABLE `sessions_tombstones` MODIFY token VARBINARY(512) NOT NULL;
//
// On SQLite, expiry is stored as fixed-width UTC text
// ("2006-01-02 15:04:05.000000+00:00"), which sorts as time does.
//
// # Operating notes
//
// PostgreSQL: use pgx's database/sql driver (github.com/jackc/pgx/v5/stdlib)
// with pgdialect; pgx caches the prepared statements, and with
// Config.AsyncCommit a Commit's setting and statement are one pgx batch
// (one round trip; three more on another driver).
//
// MySQL and MariaDB: use parseTime=true&loc=UTC in the DSN; expiry is
// stored in UTC with microseconds. The store prepares its frequent
// statements once (database/sql would otherwise prepare, run and close each
// one: three round trips), and closes them when it is garbage collected.
//
// SQLite: SQLite has one writer at a time. Use WAL and a busy timeout (with
// modernc.org/sqlite:
// "file:app.db?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)"), and
// a pool of one connection (SetMaxOpenConns(1)) if many goroutines write.
//
// Connection pools: database/sql keeps only two idle connections by default;
// under concurrent load set SetMaxIdleConns to SetMaxOpenConns, or
// connections are opened and closed on every burst.
package bunstore
