package gormstore

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"log/slog"
	"runtime"
	"time"

	"gorm.io/gorm"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/sqlstore"
	"github.com/sessionstore/sessionstore/internal/tombstone"
	"github.com/sessionstore/sessionstore/internal/touch"
)

// DefaultCleanupInterval is how often New removes expired sessions.
const DefaultCleanupInterval = 5 * time.Minute

// Config configures a GORMStore built with NewWithConfig. The zero value
// means the defaults, field by field.
type Config struct {
	// TableName is the sessions table, "sessions" by default. Tombstones of
	// deleted sessions live in TableName + "_tombstones". It must be an
	// identifier of at most 40 letters, digits and underscores; it is quoted
	// as given.
	TableName string
	// CleanupInterval is how often expired sessions are deleted in the
	// background, jittered by ±20%. Zero means DefaultCleanupInterval; a
	// negative value starts no cleanup goroutine (call DeleteExpired
	// yourself, from a cron job say).
	CleanupInterval time.Duration
	// CleanupBatchSize is the number of rows one cleanup transaction
	// deletes; zero means 1,000.
	CleanupBatchSize int
	// MaxDataSize, if positive, is the largest session data Commit accepts,
	// in bytes. Larger data gives an error matching sessionstore.ErrTooLarge
	// and writes nothing.
	MaxDataSize int
	// DeleteTimeout bounds Delete, which runs detached from the caller's
	// context so that a cancelled request still logs out. Zero means 5s.
	DeleteTimeout time.Duration
	// Logger receives cleanup reports and failures; nil means slog.Default().
	Logger *slog.Logger
	// OnCleanup, if set, is called after every background cleanup run with
	// the number of rows deleted, the time it took and its error.
	OnCleanup func(deleted int64, took time.Duration, err error)
	// Now is the clock that expiry is compared with; nil means time.Now.
	// The database's own clock is never used.
	Now func() time.Time
	// TombstoneLifetime is how long, at least, a Delete's tombstone blocks
	// Commits of its token: the tombstone lasts until the later of the
	// deleted session's expiry and the Delete time plus TombstoneLifetime,
	// so that a request that loaded the session before the logout and
	// commits a new expiry when it ends (SCS's IdleTimeout) cannot bring it
	// back. Zero means sessionstore.DefaultTombstoneLifetime (1 h); a
	// negative value is an error. Keep it above the longest request your
	// servers allow (http.Server's ReadTimeout plus WriteTimeout).
	TombstoneLifetime time.Duration
	// ClockSkew is how far ahead of the other replicas' clocks the clock of
	// a replica running cleanup may be: cleanup removes a tombstone only
	// ClockSkew after its expiry. Zero means sessionstore.DefaultClockSkew
	// (15 min); a negative value is an error.
	ClockSkew time.Duration
	// AllowNoTombstones lets NewWithConfig return a store when the
	// tombstone table is missing and cannot be created (a role without
	// CREATE). Such a store is degraded: a request in flight at logout can
	// bring the session back. It logs at ERROR on every cleanup run, and
	// starts using the table within a minute of it appearing. Without
	// AllowNoTombstones, NewWithConfig returns an error matching
	// sessionstore.ErrNoTombstones instead.
	AllowNoTombstones bool
	// Owner turns on the per-user index (sessionstore.UserIndex): Commit
	// reads each session's owner from its data with Owner, before any round
	// trip, and writes it with created, last seen, user agent and IP
	// (sessionstore.WithClient) into nullable columns of the session's own
	// row, in the same statement. sessionstore.OwnerKey(scs.GobCodec{},
	// "user_id") reads the string an SCS application stores under
	// "user_id". An owner the function cannot read, or one that fails
	// sessionstore.CheckOwner, fails the Commit and writes nothing.
	//
	// With Owner set, NewWithConfig migrates an existing sessions table
	// (see Migrate): it adds the columns and the owner index if they are
	// missing and indexes the sessions no indexed Commit has written yet.
	// When it cannot (a role that may not alter the table), it returns an
	// error matching sessionstore.ErrNoIndex. Nil (the default) leaves the
	// store exactly as without the index: the same table, the same
	// statements, and the UserIndex methods return an error matching
	// sessionstore.ErrNoIndex.
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
	// bytes. Find then reads the expiry with the data. See docs/touch.md.
	// Zero: every Commit is written, and Find runs the statement it runs
	// without the option. A negative value is an error.
	TouchWindow time.Duration

	beforeBackfill func() // for tests: see export_test.go
	// Callbacks runs every statement through db.Exec and db.Raw, so that
	// GORM's logger and plugins (tracing, metrics) see them. By default the
	// store runs its statements on GORM's connection pool directly
	// (db.Statement.ConnPool, which honours PrepareStmt), which halves the
	// Go overhead of each call. Either way values are bind parameters.
	Callbacks bool
}

// GORMStore represents the session store. It is safe for concurrent use.
// With Config.Owner set it keeps an index of each user's sessions
// (sessionstore.UserIndex).
type GORMStore struct {
	db    *gorm.DB
	st    *sqlstore.Statements
	store *sqlstore.Store
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
	if cfg.TableName == "" {
		cfg.TableName = "sessions"
	}
	d, err := dialectOf(db)
	if err != nil {
		return nil, fmt.Errorf("gormstore: %w", err)
	}
	p := sqlstore.Question // what GORM's Exec and Raw expect, and MySQL and SQLite drivers
	if d == sqlstore.Postgres && !cfg.Callbacks {
		p = sqlstore.Dollar
	}
	st, err := sqlstore.New(d, p, cfg.TableName)
	if err != nil {
		return nil, fmt.Errorf("gormstore: %w", err)
	}
	policy, err := tombstone.New(cfg.TombstoneLifetime, cfg.ClockSkew)
	if err != nil {
		return nil, fmt.Errorf("gormstore: %w", err)
	}
	view, err := touch.New(cfg.TouchWindow)
	if err != nil {
		return nil, fmt.Errorf("gormstore: config: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx := context.Background()
	if err := migrateSessions(db.WithContext(ctx), st); err != nil {
		return nil, fmt.Errorf("gormstore: migrate: %w", err)
	}
	c := conn{db: db, callbacks: cfg.Callbacks}
	merr := migrateTombstones(db.WithContext(ctx), st)
	tomb := merr == nil || sqlstore.HasTombstones(ctx, c, st)
	if !tomb && !cfg.AllowNoTombstones {
		return nil, fmt.Errorf("gormstore: table %s_tombstones is missing and cannot be created (%w): %w",
			st.Table, merr, sessionstore.ErrNoTombstones)
	}
	if err := sqlstore.CheckTokenColumns(ctx, c, st); err != nil {
		return nil, fmt.Errorf("gormstore: %w", err)
	}
	g := &GORMStore{db: db, st: st}
	if sqlDB, ok := db.Statement.ConnPool.(*sql.DB); ok && d == sqlstore.MySQL && !cfg.Callbacks {
		// The hot statements only: the cleanup loop, which outlives an
		// abandoned store, runs its statements unprepared.
		c.stmts = sqlstore.NewStmtCache(sqlDB, st.Hot()...)
		runtime.AddCleanup(g, (*sqlstore.StmtCache).Close, c.stmts)
	}
	g.store = sqlstore.NewStore(c, st, sqlstore.Config{
		Name:       "gormstore",
		BatchSize:  cfg.CleanupBatchSize,
		MaxSize:    cfg.MaxDataSize,
		Timeout:    cfg.DeleteTimeout,
		Logger:     cfg.Logger,
		Now:        cfg.Now,
		Tombstones: tomb,
		Policy:     policy,
		Owner:      cfg.Owner,
		Touch:      view,
		Transient:  mysqlDeadlock,

		BeforeBackfill: cfg.beforeBackfill,
	})
	if err := g.openIndex(ctx, cfg.Owner); err != nil {
		return nil, err
	}
	interval := cfg.CleanupInterval
	if interval == 0 {
		interval = DefaultCleanupInterval
	}
	g.store.StartCleanup(interval, cfg.OnCleanup)
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
// cancelled once it has started (it is bounded by Config.DeleteTimeout): a
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
// ctx is cancelled, within Config.DeleteTimeout.
func (g *GORMStore) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	return g.store.DeleteUserSessions(ctx, user)
}

// DeleteUserSessionsExcept is DeleteUserSessions but for the sessions of
// the tokens in keep ("sign out everywhere else": keep the current one).
func (g *GORMStore) DeleteUserSessionsExcept(ctx context.Context, user string, keep ...string) (int, error) {
	return g.store.DeleteUserSessionsExcept(ctx, user, keep...)
}
