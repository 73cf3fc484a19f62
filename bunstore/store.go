package bunstore

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/uptrace/bun"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/sqlstore"
)

//go:generate go run github.com/sessionstore/sessionstore/internal/sqlstore/genconfig bunstore

// BunStore represents the session store. It is safe for concurrent use.
// With Config.Owner set it keeps an index of each user's sessions
// (sessionstore.UserIndex).
type BunStore struct {
	store sqlstore.Backend
}

var _ sessionstore.UserIndex = (*BunStore)(nil)

// New returns a new BunStore instance, with a background cleanup goroutine
// that runs every 5 minutes to remove expired session data. Like the SCS
// bunstore, it does not create the sessions table: call Migrate, or create
// it yourself (see the package documentation). It does create the tombstone
// table when it can; where it cannot, it runs degraded, as
// Config.AllowNoTombstones describes, rather than fail where the SCS store
// would have run.
func New(db *bun.DB) (*BunStore, error) {
	return NewWithConfig(db, Config{AllowNoTombstones: true})
}

// NewWithCleanupInterval returns a new BunStore instance. The
// cleanupInterval parameter controls how frequently expired session data is
// removed by the background cleanup goroutine. Setting it to 0 prevents the
// cleanup goroutine from running (i.e. expired sessions will not be removed).
func NewWithCleanupInterval(db *bun.DB, cleanupInterval time.Duration) (*BunStore, error) {
	if cleanupInterval == 0 {
		cleanupInterval = -1
	}
	return NewWithConfig(db, Config{CleanupInterval: cleanupInterval, AllowNoTombstones: true})
}

// NewWithConfig returns a new BunStore configured by cfg. It creates the
// tombstone table if it does not exist; when that fails (no privilege), it
// returns an error matching sessionstore.ErrNoTombstones, unless
// cfg.AllowNoTombstones. It does not create the sessions table: see
// Migrate. On MySQL and MariaDB it returns an error if an existing token
// column does not compare bytes exactly (see Migrate).
func NewWithConfig(db *bun.DB, cfg Config) (*BunStore, error) {
	o, err := cfg.options()
	if err != nil {
		return nil, fmt.Errorf("bunstore: %w", err)
	}
	d, p, err := dialectOf(db)
	if err != nil {
		return nil, fmt.Errorf("bunstore: %w", err)
	}
	b := &BunStore{}
	b.store, err = sqlstore.Open(b, sqlstore.Module{
		Name:         "bunstore",
		Dialect:      d,
		Placeholders: p,
		Conn: func(stmts *sqlstore.StmtCache) sqlstore.Conn {
			// database/sql directly: Bun's own query methods format
			// arguments into the SQL text, and these keep every value a
			// bind parameter. The price: Bun query hooks do not see them.
			return sqlstore.SQLConn{Pool: db.DB, Stmts: stmts, Begin: sqlstore.BeginTx(db.DB), DB: db.DB}
		},
		Prepare: db.DB,
		DB:      db.DB,
		CreateSessions: func(ctx context.Context, st *sqlstore.Statements) error {
			return execAll(ctx, db, st.CreateSessions)
		},
		CreateTombstones: func(ctx context.Context, st *sqlstore.Statements) error {
			return execAll(ctx, db, st.CreateTombstones)
		},
		Transient: mysqlDeadlock,
		Batch:     pgxBatch,
	}, o)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Find returns the data for a given session token from the BunStore
// instance. If the session token is not found or is expired, the returned
// exists flag will be set to false. A token that no session manager could
// have issued is not found, without a database round trip.
func (b *BunStore) Find(token string) (bb []byte, exists bool, err error) {
	return b.store.Find(context.Background(), token)
}

// FindCtx is Find with a context.
func (b *BunStore) FindCtx(ctx context.Context, token string) (bb []byte, exists bool, err error) {
	return b.store.Find(ctx, token)
}

// Commit adds a session token and data to the BunStore instance with the
// given expiry time. If the session token already exists, then the data and
// expiry time are updated, in one statement. A token that was deleted is not
// brought back: committing it is a no-op that returns nil.
func (b *BunStore) Commit(token string, bb []byte, expiry time.Time) error {
	return b.store.Commit(context.Background(), token, bb, expiry)
}

// CommitCtx is Commit with a context.
func (b *BunStore) CommitCtx(ctx context.Context, token string, bb []byte, expiry time.Time) error {
	return b.store.Commit(ctx, token, bb, expiry)
}

// Delete removes a session token and corresponding data from the BunStore
// instance, and records a tombstone so that a request still in flight
// cannot commit the session again.
func (b *BunStore) Delete(token string) error {
	return b.store.Delete(context.Background(), token)
}

// DeleteCtx is Delete with a context. The deletion completes even if ctx is
// cancelled once it has started (it is bounded by Config.Timeout, or DefaultTimeout): a
// logout must not half-happen.
func (b *BunStore) DeleteCtx(ctx context.Context, token string) error {
	return b.store.Delete(ctx, token)
}

// All returns a map containing the token and data for all active (i.e. not
// expired) sessions in the BunStore instance. For large tables prefer
// Sessions, which does not hold every session in memory.
func (b *BunStore) All() (map[string][]byte, error) {
	return b.store.All(context.Background())
}

// AllCtx is All with a context.
func (b *BunStore) AllCtx(ctx context.Context) (map[string][]byte, error) {
	return b.store.All(ctx)
}

// Sessions yields every live session in token order, reading the table a
// page at a time. The loop body may use the store; an error ends the
// iteration.
func (b *BunStore) Sessions(ctx context.Context) iter.Seq2[sessionstore.Session, error] {
	return b.store.Sessions(ctx)
}

// DeleteExpired deletes expired sessions and tombstones in batches of
// Config.CleanupBatchSize rows, each in its own transaction, and returns
// how many rows it deleted. The cleanup goroutine calls it; call it
// yourself if you disabled that goroutine.
func (b *BunStore) DeleteExpired(ctx context.Context) (int64, error) {
	return b.store.DeleteExpired(ctx)
}

// StopCleanup terminates the background cleanup goroutine for the BunStore
// instance and waits until it has exited. It's rare to terminate this;
// generally BunStore instances and their cleanup goroutines are intended
// to be long-lived and run for the lifetime of your application.
//
// There may be occasions though when your use of the BunStore is
// transient. An example is creating a new BunStore instance in a test
// function. In this scenario, the cleanup goroutine (which will run
// forever) will prevent the BunStore object from being garbage collected
// even after the test function has finished. You can prevent this by
// manually calling StopCleanup. It is safe to call more than once.
func (b *BunStore) StopCleanup() {
	b.store.StopCleanup()
}

// UserSessions returns the live sessions of user, most recently seen
// first, reading the user's rows only (an index on owner). Its error
// matches sessionstore.ErrNoIndex when Config.Owner is nil.
func (b *BunStore) UserSessions(ctx context.Context, user string) ([]sessionstore.UserSession, error) {
	return b.store.UserSessions(ctx, user)
}

// CountUserSessions returns the number of live sessions of user.
func (b *BunStore) CountUserSessions(ctx context.Context, user string) (int, error) {
	return b.store.CountUserSessions(ctx, user)
}

// DeleteUserSession deletes the session of user whose
// sessionstore.UserSession.ID is id, as Delete does (with its tombstone),
// and reports whether there was one. Another user's session is never
// deleted.
func (b *BunStore) DeleteUserSession(ctx context.Context, user, id string) (bool, error) {
	return b.store.DeleteUserSession(ctx, user, id)
}

// DeleteUserSessions deletes every session of user, each with its
// tombstone, in one transaction (one statement on PostgreSQL), and returns
// the number of live sessions it deleted. Like DeleteCtx it completes when
// ctx is cancelled, within Config.Timeout or DefaultTimeout.
func (b *BunStore) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	return b.store.DeleteUserSessions(ctx, user)
}

// DeleteUserSessionsExcept is DeleteUserSessions but for the sessions of
// the tokens in keep ("sign out everywhere else": keep the current one).
func (b *BunStore) DeleteUserSessionsExcept(ctx context.Context, user string, keep ...string) (int, error) {
	return b.store.DeleteUserSessionsExcept(ctx, user, keep...)
}
