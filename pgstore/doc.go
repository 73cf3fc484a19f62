// Package pgstore is a PostgreSQL session store for SCS
// (github.com/alexedwards/scs/v2), on pgx v5's pgxpool or on a *sql.DB
// (lib/pq, pgx's stdlib), built to run with millions of sessions and
// several application replicas.
//
// It is a drop-in replacement for SCS's own pgxstore and postgresstore:
// same type name (PostgresStore), same constructors (New,
// NewWithCleanupInterval, which take a *pgxpool.Pool or a *sql.DB), same
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
// tables (Config.CreateTable, or Migrate), the tombstone lifetime and clock
// skew allowance, timeouts, a size limit, the logger, a cleanup hook and the
// clock.
//
// What it does beyond pgxstore:
//
//   - Logout is final. Delete records a tombstone in <table>_tombstones, and
//     Commit refuses a tombstoned token in the same statement as its upsert,
//     so that a request still in flight at logout cannot bring the session
//     back (Rack's CVE-2025-46336), even when the two race. The tombstone
//     lasts until the later of the session's expiry and the Delete time plus
//     Config.TombstoneLifetime (1 hour by default), so a request that ends
//     with a new expiry (SCS's IdleTimeout) is refused too, and cleanup keeps
//     it Config.ClockSkew (15 minutes) longer, so a replica whose clock runs
//     that far ahead does not remove it early. A row whose token has a
//     tombstone (written by a store that ignores tombstones) is never served,
//     and goes with the tombstone.
//   - No silent degraded mode. The tombstone table is created when the store
//     is made, if the role may; NewWithConfig fails with an error matching
//     sessionstore.ErrNoTombstones if it cannot be used, unless
//     Config.AllowNoTombstones. New then runs without it, logging at ERROR on
//     every cleanup run, and uses the table within a minute of it appearing.
//   - Commit refuses an expiry PostgreSQL cannot store exactly (outside
//     sessionstore.MinExpiry to MaxExpiry) before any round trip.
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
//   - A user's sessions: with Config.Owner set, the store implements
//     sessionstore.UserIndex (list, count and revoke a user's sessions)
//     through owner columns of the sessions table, written by Commit's own
//     statement, and a partial index on the owner; Migrate adds them to an
//     existing table without blocking it or logging anyone out.
//   - Errors say where they come from ("pgstore: commit: ...") and wrap
//     their cause.
//
// Both handles run the same statements, shared with the repository's other
// PostgreSQL stores (docs/postgres.md), with two differences: on lib/pq,
// which reports no row count for a MERGE, Commit runs its INSERT ... ON
// CONFLICT form (the same guarantee); and on a *sql.DB, Config.AsyncCommit
// runs its setting and the Commit in a transaction, where pgx sends them
// in one batch.
//
// Every operation is one statement, prepared once per connection by pgx:
// Find is "SELECT data FROM sessions s WHERE token = $1 AND expiry > $2 AND
// NOT EXISTS (SELECT 1 FROM sessions_tombstones tb WHERE tb.token =
// s.token)".
package pgstore
