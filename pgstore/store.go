package pgstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore/internal/cleanup"
	"github.com/sessionstore/sessionstore/internal/pgcore"
)

// DB is what a store runs on: a pgx pool, or a *sql.DB of any PostgreSQL
// driver (lib/pq, pgx's github.com/jackc/pgx/v5/stdlib). The constructors
// take either, so that code written for SCS's pgxstore (a pool) and for its
// postgresstore or SCS v1's pgstore (a *sql.DB) compiles unchanged. Both
// run the same statements with the same guarantees; see the README for
// what differs in cost.
type DB interface {
	*pgxpool.Pool | *sql.DB
}

// PostgresStore is a session store backed by a PostgreSQL table. It has the
// name and methods of SCS's pgxstore.PostgresStore and postgresstore.PostgresStore,
// plus DeleteExpired, Sessions and Migrate. It is safe for concurrent use.
type PostgresStore struct {
	core *pgcore.Store
	loop *cleanup.Loop
}

// New returns a store on SCS's default table "sessions", with a background
// goroutine that deletes expired sessions every 5 minutes. db is a pgx pool
// or a *sql.DB. The table must exist (see Migrate); the tombstone table
// "sessions_tombstones" is created now if it is missing and the role may.
// An application on SCS's pgxstore or postgresstore switches by changing
// its import. New panics if db is nil.
//
// New has no error to return, so when the tombstone table is missing and
// cannot be created it runs without tombstones, as NewWithConfig does with
// Config.AllowNoTombstones: a request in flight at logout can then bring
// the session back. It logs that at ERROR now and on every cleanup run,
// checks again at most once a minute, and uses the table as soon as it
// exists. Prefer NewWithConfig, which refuses to run that way. If the
// database cannot be reached now, the first operation checks instead.
func New[T DB](db T) *PostgresStore {
	return NewWithCleanupInterval(db, DefaultCleanupInterval)
}

// NewWithCleanupInterval is New with another cleanup interval. An interval
// of 0 starts no cleanup goroutine (expired sessions are then never deleted,
// unless you call DeleteExpired yourself). Like New, it panics if db is
// nil; NewWithConfig returns an error instead.
func NewWithCleanupInterval[T DB](db T, cleanupInterval time.Duration) *PostgresStore {
	if cleanupInterval <= 0 {
		cleanupInterval = -1
	}
	s, err := newStore(db, Config{CleanupInterval: cleanupInterval, AllowNoTombstones: true}, true)
	if err != nil { // only a nil db: the default table name is valid
		panic(err)
	}
	return s
}

// NewWithConfig returns a store on db (a pgx pool or a *sql.DB) configured
// by cfg, whose zero fields mean their defaults. It checks the tombstone
// table (creating it if it is missing and the role may; the sessions table
// itself may be created later, by Migrate), so it needs the database. It
// fails if db is nil, if the table name or a duration is invalid, if the
// database cannot be reached, with cfg.CreateTable if the tables cannot be
// created, and with an error matching sessionstore.ErrNoTombstones if the
// tombstone table cannot be used, unless cfg.AllowNoTombstones. The
// cleanup goroutine, if any, is started last; stop it with StopCleanup.
func NewWithConfig[T DB](db T, cfg Config) (*PostgresStore, error) {
	return newStore(db, cfg, false)
}

// newStore is NewWithConfig; lenient (New) leaves the tombstone check to
// the first operation when the database cannot be reached. Tests pass
// setup, which sees the core before its first round trip.
func newStore[T DB](db T, cfg Config, lenient bool, setup ...func(*pgcore.Store)) (*PostgresStore, error) {
	var conn pgcore.DB
	switch db := any(db).(type) {
	case *pgxpool.Pool:
		if db != nil {
			conn = poolDB{db}
		}
	case *sql.DB:
		if db != nil {
			conn = sqlDB{db}
		}
	}
	if conn == nil {
		return nil, errNilDB
	}
	table := cfg.Table
	if table == "" {
		table = DefaultTable
	}
	core, err := pgcore.Open(conn, pgcore.Options{
		Name:              "pgstore",
		Table:             table,
		CreateTable:       cfg.CreateTable,
		AllowNoTombstones: cfg.AllowNoTombstones,
		Lenient:           lenient,
		Timeout:           cfg.Timeout,
		DefaultTimeout:    DefaultTimeout,
		MaxDataSize:       cfg.MaxDataSize,
		CleanupBatchSize:  cfg.CleanupBatchSize,
		PageSize:          DefaultPageSize,
		TombstoneLifetime: cfg.TombstoneLifetime,
		ClockSkew:         cfg.ClockSkew,
		TouchWindow:       cfg.TouchWindow,
		Owner:             cfg.Owner,
		AsyncCommit:       cfg.AsyncCommit,
		Now:               cfg.Now,
		Logger:            cfg.Logger,
	}, setup...)
	if err != nil {
		return nil, err
	}
	interval := cfg.CleanupInterval
	if interval == 0 {
		interval = DefaultCleanupInterval
	}
	s := &PostgresStore{core: core}
	s.loop = cleanup.Start(cleanup.Config{
		Name:      "pgstore",
		Interval:  interval,
		Logger:    cfg.Logger,
		OnCleanup: cfg.OnCleanup,
	}, s.DeleteExpired)
	return s, nil
}

var errNilDB = errors.New("pgstore: nil database handle")

// StopCleanup stops the background cleanup goroutine and waits for it to
// exit, cancelling a run in progress. Stores normally live as long as the
// program; call it when a store is transient, in tests for example. It is
// safe to call more than once, concurrently, or on a store without cleanup.
func (s *PostgresStore) StopCleanup() { s.loop.Stop() }

// Find returns the data of a live session. found is false, with a nil error,
// for an unknown, expired, deleted or malformed token, and for a row whose
// token has a tombstone (one written after the Delete by a writer that
// ignores tombstones); err is only for failures, which are never reported
// as "not found".
func (s *PostgresStore) Find(token string) (b []byte, found bool, err error) {
	return s.core.Find(context.Background(), token)
}

// FindCtx is Find with a context.
func (s *PostgresStore) FindCtx(ctx context.Context, token string) (b []byte, found bool, err error) {
	return s.core.Find(ctx, token)
}

// Commit stores data under token until expiry, replacing any earlier data,
// in one statement. A Commit of a token deleted earlier, while its tombstone
// lasts (see Config.TombstoneLifetime), is a no-op that returns nil, so that
// a request still in flight at logout cannot bring the session back, even
// when the two race. An expiry outside [sessionstore.MinExpiry,
// sessionstore.MaxExpiry], which PostgreSQL would not store exactly, gives
// an error matching sessionstore.ErrExpiryOutOfRange and writes nothing.
func (s *PostgresStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.core.Commit(context.Background(), token, b, expiry)
}

// CommitCtx is Commit with a context.
func (s *PostgresStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	return s.core.Commit(ctx, token, b, expiry)
}

// Delete removes a session and records a tombstone for it, so that a later
// Commit of the same token is a no-op: the tombstone lasts until the later
// of the session's expiry and now (by Config.Now) plus
// Config.TombstoneLifetime. A token without a session gets no tombstone.
// It is idempotent.
func (s *PostgresStore) Delete(token string) error {
	return s.core.Delete(context.Background(), token)
}

// DeleteCtx is Delete with a context. The deletion is not abandoned when ctx
// is cancelled, because a logout that half-happens is a security bug: it
// runs with the store's own timeout (Config.Timeout or DefaultTimeout), and
// one that runs out of time fails with an error matching
// context.DeadlineExceeded. ctx's values (a tracer's span, say) are kept.
// It takes one connection of the pool, and only one.
func (s *PostgresStore) DeleteCtx(ctx context.Context, token string) error {
	return s.core.Delete(ctx, token)
}
