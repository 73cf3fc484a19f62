package pgstore

import (
	"log/slog"
	"time"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/pgcore"
)

// Defaults used where a Config field is left at its zero value.
const (
	// DefaultTable is SCS's own table name, so that an application already
	// on SCS's pgxstore or postgresstore keeps its sessions.
	DefaultTable = "sessions"
	// DefaultCleanupInterval is how often New cleans up expired sessions.
	DefaultCleanupInterval = 5 * time.Minute
	// DefaultTimeout bounds operations that cannot rely on the caller's
	// context: Delete (which ignores cancellation, so that a logout always
	// completes), each cleanup batch and the schema check.
	DefaultTimeout = 10 * time.Second
	// DefaultPageSize is the number of sessions Sessions and All read per
	// query.
	DefaultPageSize = 1000
)

// Config configures a store made with NewWithConfig. The zero value of every
// field means its default, so Config{} gives the same store as New.
type Config struct {
	// Table is the sessions table, optionally schema-qualified
	// ("app.sessions"). Each part must be a plain identifier (letters,
	// digits, underscores, at most 41 bytes); it is quoted, so it is used
	// with its case as given. Tombstones live in Table + "_tombstones".
	// Default: "sessions".
	Table string

	// CreateTable makes NewWithConfig create the tables and indexes if they
	// do not exist (see Migrate). Leave it false when the schema is managed
	// by migrations.
	CreateTable bool

	// CleanupInterval is how often the background goroutine deletes expired
	// sessions and tombstones. Zero means DefaultCleanupInterval; a negative
	// value starts no goroutine (run DeleteExpired yourself, from cron).
	CleanupInterval time.Duration

	// CleanupBatchSize is the most rows one cleanup transaction deletes.
	// Default: 1000.
	CleanupBatchSize int

	// Timeout, if positive, bounds every database operation. Zero leaves
	// Find, Commit and iteration to the caller's context and bounds Delete
	// and cleanup batches by DefaultTimeout.
	Timeout time.Duration

	// MaxDataSize, if positive, is the largest session (in bytes) Commit
	// accepts; larger data gives an error matching sessionstore.ErrTooLarge
	// and writes nothing.
	MaxDataSize int

	// TombstoneLifetime is how long after a Delete, at least, its tombstone
	// blocks Commits of the token: the tombstone lasts until the later of
	// the deleted session's expiry and the Delete time plus
	// TombstoneLifetime. It must be longer than any request may run, since
	// a request that loaded the session before the logout and ends later
	// than that can bring the session back. Zero means
	// sessionstore.DefaultTombstoneLifetime (1 hour); a negative value is an
	// error.
	TombstoneLifetime time.Duration

	// ClockSkew is how far ahead of the other replicas' clocks this
	// replica's clock may run without its cleanup removing a tombstone they
	// still need: cleanup removes a tombstone only once it has been expired
	// for ClockSkew by this replica's clock. Zero means
	// sessionstore.DefaultClockSkew (15 minutes); a negative value is an
	// error.
	ClockSkew time.Duration

	// AllowNoTombstones lets NewWithConfig return a store that runs without
	// tombstones when the tombstone table is missing and cannot be created
	// (a role without CREATE, say), instead of an error matching
	// sessionstore.ErrNoTombstones. Such a store can have a logout undone
	// by a request in flight; it logs at ERROR on every cleanup run, checks
	// again at most once a minute whether the table exists, and uses it
	// from then on. New runs this way.
	AllowNoTombstones bool

	// Logger receives cleanup results and the errors of running without
	// tombstones. Default: slog.Default().
	Logger *slog.Logger

	// OnCleanup, if set, is called after every background cleanup run with
	// the number of rows deleted, the time taken and the error, if any. Use
	// it to export metrics.
	OnCleanup func(deleted int64, took time.Duration, err error)

	// Owner, if set, turns on the per-user index: Commit records each
	// session's owner as Owner reads it from the session data (with SCS:
	// sessionstore.OwnerKey(scs.GobCodec{}, "user_id")), with its created
	// and last-seen times and the client WithClient put in the context, in
	// columns of the sessions table written by the Commit's own statement,
	// and the store's sessionstore.UserIndex methods list, count and delete
	// a user's sessions through a partial index on the owner. The table
	// needs the columns: NewWithConfig fails with an error matching
	// sessionstore.ErrNoIndex without them, unless CreateTable (see
	// Migrate, which adds them to an existing table). Nil: the index is off
	// and the store runs exactly the statements it runs without it.
	Owner sessionstore.OwnerFunc

	// TouchWindow, if positive, coalesces touches: a Commit whose data is
	// the same as what this store last read (Find) or wrote for the token,
	// and whose expiry moves later by less than TouchWindow, writes nothing
	// and makes no round trip. With SCS's IdleTimeout, which commits every
	// session a request loads, it turns the write per request into at most
	// one per session per window. A session's stored expiry is then up to
	// TouchWindow earlier than the last requested one, never later; a change
	// of data, an expiry that moves earlier, or a session with less than
	// TouchWindow left is always written; and the per-user index's last-seen
	// time is as old as the last write. Data of SCS's GobCodec is compared
	// by its values, whatever order gob wrote them in; other data by its
	// bytes. See docs/touch.md. Zero: every Commit is written. A negative
	// value is an error.
	TouchWindow time.Duration

	// AsyncCommit makes Commit not wait for its WAL record to reach disk
	// (synchronous_commit off, for the Commit's own transaction only, in the
	// same round trip): a crash of the database server can lose the session
	// updates of its last moments (up to three times wal_writer_delay, 600
	// ms by default), never corrupt them. Delete, tombstones and the
	// per-user index's revocations stay durable, so a crash never undoes a
	// logout; a lost Commit leaves the session as it was before it. Default:
	// false, every Commit is durable.
	AsyncCommit bool

	// Now is the clock that decides which sessions have expired. It is
	// passed to PostgreSQL as a parameter; the database's now() is never
	// used. Default: time.Now.
	Now func() time.Time
}

// parseTable is pgcore.ParseTable with DefaultTable for "".
func parseTable(name string) (pgcore.Names, error) {
	if name == "" {
		name = DefaultTable
	}
	return pgcore.ParseTable("pgstore", name)
}
