package gormstore

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"time"

	"gorm.io/gorm"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/sqlstore"
)

//go:generate go run github.com/sessionstore/sessionstore/internal/sqlstore/genconfig gormstore

// GORMStore represents the session store. It is safe for concurrent use.
// With Config.Owner set it keeps an index of each user's sessions
// (sessionstore.UserIndex).
type GORMStore struct {
	store sqlstore.Backend
}

var _ sessionstore.UserIndex = (*GORMStore)(nil)

// New returns a new GORMStore instance, with a background cleanup goroutine
// that runs every 5 minutes to remove expired session data. Like the SCS
// gormstore, it creates the sessions table if it does not exist (see
// Migrate). Where the tombstone table is missing and cannot be created, it
// runs degraded, as Config.AllowNoTombstones describes, rather than fail
// where the SCS store would have run.
func New(db *gorm.DB) (*GORMStore, error) {
	return NewWithConfig(db, Config{AllowNoTombstones: true})
}

// NewWithCleanupInterval returns a new GORMStore instance. The
// cleanupInterval parameter controls how frequently expired session data is
// removed by the background cleanup goroutine. Setting it to 0 prevents the
// cleanup goroutine from running (i.e. expired sessions will not be removed).
func NewWithCleanupInterval(db *gorm.DB, cleanupInterval time.Duration) (*GORMStore, error) {
	if cleanupInterval == 0 {
		cleanupInterval = -1
	}
	return NewWithConfig(db, Config{CleanupInterval: cleanupInterval, AllowNoTombstones: true})
}

// NewWithConfig returns a new GORMStore configured by cfg. It creates the
// sessions and tombstone tables if they do not exist. When the tombstone
// table is missing and cannot be created (no privilege), it returns an
// error matching sessionstore.ErrNoTombstones, unless
// cfg.AllowNoTombstones. On MySQL and MariaDB it returns an error if an
// existing token column does not compare bytes exactly (see Migrate).
func NewWithConfig(db *gorm.DB, cfg Config) (*GORMStore, error) {
	o, err := cfg.options()
	if err != nil {
		return nil, fmt.Errorf("gormstore: %w", err)
	}
	d, err := dialectOf(db)
	if err != nil {
		return nil, fmt.Errorf("gormstore: %w", err)
	}
	// The pool under GORM: on PostgreSQL the store's statements run on it
	// (see newConn); on every dialect a connection is held from it where
	// statements must share one (the schema changes' lock wait on MySQL).
	sqlDB, err := db.DB()
	if err != nil && d == sqlstore.Postgres {
		return nil, fmt.Errorf("gormstore: %w", err)
	}
	m := sqlstore.Module{
		Name:         "gormstore",
		Dialect:      d,
		Placeholders: sqlstore.Question, // what GORM's Exec and Raw expect, and MySQL and SQLite drivers
		Conn: func(stmts *sqlstore.StmtCache) sqlstore.Conn {
			return newConn(db, sqlDB, d, cfg.Callbacks, stmts)
		},
		DB: sqlDB,
		CreateSessions: func(ctx context.Context, st *sqlstore.Statements) error {
			return createTable(db.WithContext(ctx), st.Table, &Session{}, st.IndexSessions)
		},
		CreateTombstones: func(ctx context.Context, st *sqlstore.Statements) error {
			return createTable(db.WithContext(ctx), st.Table+"_tombstones", &Tombstone{}, st.IndexTombstones)
		},
		OpenCreatesSessions: true, // as SCS's gormstore does
		Transient:           mysqlDeadlock,
	}
	if pool, ok := db.Statement.ConnPool.(*sql.DB); ok && !cfg.Callbacks {
		m.Prepare = pool
	}
	if !cfg.Callbacks {
		// With Callbacks, AsyncCommit's statements go through GORM, in a
		// transaction, like every other.
		m.Batch = pgxBatch
	}
	g := &GORMStore{}
	if g.store, err = sqlstore.Open(g, m, o); err != nil {
		return nil, err
	}
	return g, nil
}

// Find returns the data for a given session token from the GORMStore
// instance. If the session token is not found or is expired, the returned
// exists flag will be set to false. A token that no session manager could
// have issued is not found, without a database round trip.
func (g *GORMStore) Find(token string) (b []byte, exists bool, err error) {
	return g.store.Find(context.Background(), token)
}

// FindCtx is Find with a context.
func (g *GORMStore) FindCtx(ctx context.Context, token string) (b []byte, exists bool, err error) {
	return g.store.Find(ctx, token)
}

// Commit adds a session token and data to the GORMStore instance with the
// given expiry time. If the session token already exists, then the data and
// expiry time are updated, in one statement. A token that was deleted is not
// brought back: committing it is a no-op that returns nil.
func (g *GORMStore) Commit(token string, b []byte, expiry time.Time) error {
	return g.store.Commit(context.Background(), token, b, expiry)
}

// CommitCtx is Commit with a context.
func (g *GORMStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	return g.store.Commit(ctx, token, b, expiry)
}

// Delete removes a session token and corresponding data from the GORMStore
// instance, and records a tombstone so that a request still in flight
// cannot commit the session again.
func (g *GORMStore) Delete(token string) error {
	return g.store.Delete(context.Background(), token)
}

// DeleteCtx is Delete with a context. The deletion completes even if ctx is
// cancelled once it has started (it is bounded by Config.Timeout, or DefaultTimeout): a
// logout must not half-happen.
func (g *GORMStore) DeleteCtx(ctx context.Context, token string) error {
	return g.store.Delete(ctx, token)
}

// All returns a map containing the token and data for all active (i.e. not
// expired) sessions in the GORMStore instance. For large tables prefer
// Sessions, which does not hold every session in memory.
func (g *GORMStore) All() (map[string][]byte, error) {
	return g.store.All(context.Background())
}

// AllCtx is All with a context.
func (g *GORMStore) AllCtx(ctx context.Context) (map[string][]byte, error) {
	return g.store.All(ctx)
}

// Sessions yields every live session in token order, reading the table a
// page at a time. The loop body may use the store; an error ends the
// iteration.
func (g *GORMStore) Sessions(ctx context.Context) iter.Seq2[sessionstore.Session, error] {
	return g.store.Sessions(ctx)
}

// DeleteExpired deletes expired sessions and tombstones in batches of
// Config.CleanupBatchSize rows, each in its own transaction, and returns
// how many rows it deleted. The cleanup goroutine calls it; call it
// yourself if you disabled that goroutine.
func (g *GORMStore) DeleteExpired(ctx context.Context) (int64, error) {
	return g.store.DeleteExpired(ctx)
}

// StopCleanup terminates the background cleanup goroutine for the GORMStore
// instance and waits until it has exited. It's rare to terminate this;
// generally GORMStore instances and their cleanup goroutines are intended
// to be long-lived and run for the lifetime of your application.
//
// There may be occasions though when your use of the GORMStore is
// transient. An example is creating a new GORMStore instance in a test
// function. In this scenario, the cleanup goroutine (which will run
// forever) will prevent the GORMStore object from being garbage collected
// even after the test function has finished. You can prevent this by
// manually calling StopCleanup. It is safe to call more than once.
func (g *GORMStore) StopCleanup() {
	g.store.StopCleanup()
}

// UserSessions returns the live sessions of user, most recently seen
// first, reading the user's rows only (an index on owner). Its error
// matches sessionstore.ErrNoIndex when Config.Owner is nil.
func (g *GORMStore) UserSessions(ctx context.Context, user string) ([]sessionstore.UserSession, error) {
	return g.store.UserSessions(ctx, user)
}

// CountUserSessions returns the number of live sessions of user.
func (g *GORMStore) CountUserSessions(ctx context.Context, user string) (int, error) {
	return g.store.CountUserSessions(ctx, user)
}

// DeleteUserSession deletes the session of user whose
// sessionstore.UserSession.ID is id, as Delete does (with its tombstone),
// and reports whether there was one. Another user's session is never
// deleted.
func (g *GORMStore) DeleteUserSession(ctx context.Context, user, id string) (bool, error) {
	return g.store.DeleteUserSession(ctx, user, id)
}

// DeleteUserSessions deletes every session of user, each with its
// tombstone, in one transaction (one statement on PostgreSQL), and returns
// the number of live sessions it deleted. Like DeleteCtx it completes when
// ctx is cancelled, within Config.Timeout or DefaultTimeout.
func (g *GORMStore) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	return g.store.DeleteUserSessions(ctx, user)
}

// DeleteUserSessionsExcept is DeleteUserSessions but for the sessions of
// the tokens in keep ("sign out everywhere else": keep the current one).
func (g *GORMStore) DeleteUserSessionsExcept(ctx context.Context, user string, keep ...string) (int, error) {
	return g.store.DeleteUserSessionsExcept(ctx, user, keep...)
}
