// Package pgstore is a PostgreSQL session store for SCS
// (github.com/alexedwards/scs/v2), on pgx v5's pgxpool, built to run with
// millions of sessions and several application replicas.
//
// It is a drop-in replacement for SCS's own pgxstore: same type name
// (PostgresStore), same constructors (New, NewWithCleanupInterval), same
// methods, same table. An application switches by changing its import; its
// existing sessions stay valid:
//
//	CREATE TABLE sessions (
//		token TEXT PRIMARY KEY,
//		data BYTEA NOT NULL,
//		expiry TIMESTAMPTZ NOT NULL
//	);
//	CREATE INDEX sessions_expiry_idx ON sessions (expiry);
//
// NewWithConfig configures the rest: another table name, creating the
// tables (Config.CreateTable, or Migrate), timeouts, a size limit, the
// logger, a cleanup hook and the clock.
//
// What it does beyond pgxstore:
//
//   - Logout is final. Delete records a tombstone in <table>_tombstones, and
//     Commit refuses a tombstoned token in the same statement as its upsert,
//     so that a request still in flight at logout cannot bring the session
//     back (Rack's CVE-2025-46336), even when the two race. The tombstone
//     table is created on first use; a role that may not create it gets one
//     warning and the store runs without the guarantee.
//   - Delete completes even if the request's context is cancelled.
//   - Expiry is decided by the application's clock, passed as a parameter,
//     never by the database's now().
//   - Malformed tokens are answered without a round trip.
//   - Cleanup deletes expired rows oldest first in batches of
//     Config.CleanupBatchSize, each batch its own short transaction, under a
//     pg_try_advisory_xact_lock so that one replica cleans at a time. It
//     never holds a lock on the table or on more rows than one batch, so
//     requests are not stalled by it. DeleteExpired runs it on demand (from
//     cron, say).
//   - Sessions streams all live sessions page by page (keyset pagination).
//   - Errors say where they come from ("pgstore: commit: ...") and wrap
//     their cause.
//
// Every operation is one statement, prepared once per connection by pgx:
// Find is "SELECT data FROM sessions WHERE token = $1 AND expiry > $2".
package pgstore
