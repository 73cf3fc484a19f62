package gorillastore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/pgcore"
	"github.com/sessionstore/sessionstore/internal/tombstone"
)

// DBConn is the database handle a PGStore runs on. *pgxpool.Pool, *pgx.Conn
// and pgx.Tx satisfy it.
type DBConn interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, arguments ...interface{}) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, optionsAndArgs ...interface{}) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, optionsAndArgs ...interface{}) pgx.Row
	CopyFrom(ctx context.Context, tableName pgx.Identifier, columnNames []string, rowSrc pgx.CopyFromSource) (int64, error)
}

// PGSession is one row of the http_sessions table. Key is
// base64url(SHA-256(session ID)), never the ID itself; Data holds the encoded
// session values (see the package documentation).
type PGSession struct {
	ID        int64
	Key       string
	Data      string
	CreatedAt time.Time
	UpdatedAt time.Time
	ExpiresOn time.Time
}

// Defaults of PGConfig.
const (
	// DefaultTable is the session table of a PGStore, antonlindstrom/pgstore's
	// http_sessions.
	DefaultTable = "http_sessions"
	// DefaultTableName is DefaultTable.
	//
	// Deprecated: use DefaultTable, named after PGConfig.Table.
	DefaultTableName = DefaultTable
	// DefaultTimeout bounds the operations of a PGStore that cannot rely on
	// the caller's context: deletes (which ignore its cancellation, so that a
	// logout always completes) and each cleanup batch. pgstore and
	// redisstore have the same default.
	DefaultTimeout = 10 * time.Second
)

// defaultConstructTimeout bounds each statement of the schema check and
// creation of the constructors while PGConfig.Timeout is zero.
const defaultConstructTimeout = 30 * time.Second

// PGConfig configures a PGStore (through NewPGStoreWithConfig). The zero
// value of every field means its default.
type PGConfig struct {
	Config
	// Table is the session table; the tombstones live in
	// Table+"_tombstones". Default DefaultTable ("http_sessions"). Both
	// tables and their indexes are created on construction if they are
	// missing. It may be at most 37 bytes long, so that every name derived
	// from it (the longest is Table+"_tombstones_expires_on_idx") fits in
	// PostgreSQL's 63-byte identifiers; a longer name is an error rather
	// than a name PostgreSQL would silently truncate, and share. It is one
	// identifier, quoted whole (a dot is part of the name), and may hold
	// any UTF-8 but a NUL byte.
	Table string
	// TableName is Table, under its former name. If both are set they must
	// be equal, or the constructors return an error.
	//
	// Deprecated: use Table, the name every store of this repository uses.
	TableName string
	// Timeout, if positive, bounds every database operation: each load,
	// save, delete, per-user index call, cleanup batch and
	// CountExpiredSessions, and the constructors' schema check. Zero leaves
	// loads, saves and the index's reads to the caller's context, and
	// bounds deletes (which run to completion even if the request is
	// cancelled) and each cleanup batch by DefaultTimeout (10 seconds), and
	// each statement of the schema check by 30 seconds. MigratePGStore's
	// index part runs on the context it is given. A negative value is an
	// error.
	Timeout time.Duration
	// TombstoneLifetime is how long, at least, a deleted session's
	// tombstone blocks inserts of its key after the Delete: the tombstone
	// expires at the later of the session's expiry and the Delete time plus
	// TombstoneLifetime. Zero means sessionstore.DefaultTombstoneLifetime
	// (1 hour); a negative value is an error. A session that PGStore loaded
	// is saved by an update of its row only, so no request that loaded a
	// session before its logout brings it back, however long it runs; the
	// tombstone guards the other writers of the table (the adapter, other
	// tools).
	TombstoneLifetime time.Duration
	// ClockSkew is how far ahead of the others a replica's clock may run
	// without its cleanup removing tombstones they still need: cleanup
	// removes a tombstone once it has been expired for ClockSkew by the
	// cleaner's clock. Zero means sessionstore.DefaultClockSkew (15
	// minutes); a negative value is an error.
	ClockSkew time.Duration
	// AllowNoTombstones lets the store run when its tombstone table is
	// missing and cannot be created (say, for a role without CREATE),
	// instead of refusing with an error matching
	// sessionstore.ErrNoTombstones. Without tombstones, saves of loaded
	// sessions still never recreate a deleted row, but other writers can,
	// and a row written behind a Delete is served. While it runs without
	// them, the store logs at ERROR on every cleanup run and checks (on
	// cleanup, and at most once a minute on requests) whether the table
	// has appeared, using it from then on.
	AllowNoTombstones bool
	// CleanupBatchSize is the number of rows one cleanup statement deletes.
	// Default 1000.
	CleanupBatchSize int
	// DeleteTimeout, if positive and Timeout is zero, bounds deletes and
	// cleanup batches in place of DefaultTimeout, as it bounded deletes
	// before Timeout existed; loads and saves keep the caller's context. If
	// both are set they must be equal, or the constructors return an error.
	//
	// Deprecated: use Timeout, which bounds every operation.
	DeleteTimeout time.Duration
	// Logger receives cleanup errors and counts. nil means slog.Default().
	Logger *slog.Logger
	// OnCleanup, if set, is called after every background cleanup run.
	OnCleanup func(deleted int64, took time.Duration, err error)
	// Owner, if set, turns on the per-user index (sessionstore.UserIndex:
	// UserSessions, DeleteUserSessionsExcept, ...): every Save records the
	// session's owner, read from its values by Owner, in the same statement
	// as the session. Use gorillastore.OwnerKey("user_id") for the string
	// under Values["user_id"]. A Save whose owner Owner cannot read (a
	// value that is not a string, say) fails with an error matching
	// sessionstore.ErrInvalidOwner and writes nothing. A new table is
	// created with the index columns; an existing one needs them added
	// first, by MigratePGStore (or the SQL in the README): until then the
	// constructors return an error matching sessionstore.ErrNoIndex. nil
	// (the default) leaves the table and every statement as they were.
	Owner sessionstore.OwnerFunc
}

// PGStore keeps gorilla/sessions sessions in PostgreSQL through pgx. It has
// the API of antonlindstrom/pgstore, without its bugs: the cookie holds only
// a signed random ID, the table only the SHA-256 of it, expired rows are
// never served, and Get and New never write to the store.
//
// Configure Options, Codecs, MaxAge and MaxLength before serving requests;
// Get, New and Save are safe for concurrent use.
type PGStore struct {
	// Codecs sign and verify the session cookie; the first one signs. The
	// store's own codecs use securecookie's format and are checked on Get
	// without securecookie's per-call allocations; they change only through
	// MaxAge. The cookie value is the session ID: with the store's codecs,
	// securecookie.EncodeMulti(name, session.ID, store.Codecs...) makes a
	// cookie that loads the session, and securecookie.DecodeMulti reads the
	// ID of a cookie into a string or a []byte, as with
	// antonlindstrom/pgstore. To use other securecookie settings (MinAge,
	// MaxLength, hash function), assign codecs of your own, with the
	// securecookie.NopEncoder serializer: they are used through
	// securecookie.DecodeMulti, with the ID as a []byte.
	Codecs []securecookie.Codec
	// Options are the default cookie options; each session gets a copy.
	Options *sessions.Options
	// Path is kept for compatibility with antonlindstrom/pgstore and unused:
	// set Options.Path instead.
	Path string

	e       *engine
	b       *pgBackend
	cfg     PGConfig
	ownPool *pgxpool.Pool // closed by Close; nil for a caller's DBConn

	mu      sync.Mutex
	closing chan struct{}
	loops   sync.WaitGroup
	closed  sync.Once
}

var _ sessions.Store = (*PGStore)(nil)

// NewPGStore connects to dbURL with a pgxpool.Pool of its own (closed by
// Close) and returns a PGStore on the table http_sessions, with cookies
// signed by keyPairs (newest first; see Config.KeyPairs).
//
// The pool has the pool_max_conns of dbURL or, without one, 4 connections
// per GOMAXPROCS, at least 4 and at most 32, where pgxpool alone would open
// max(4, runtime.NumCPU()): a session store runs many short statements that
// each wait on a round trip more than on a CPU, and 4 connections per CPU
// carried 20-30% more mixed load than pgxpool's default on a 2-core machine.
// The cap keeps three replicas of a large machine within PostgreSQL's
// default max_connections of 100. The other pool_ settings of dbURL apply
// as in pgxpool.
func NewPGStore(dbURL string, keyPairs ...[]byte) (*PGStore, error) {
	cfg, err := poolConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("gorillastore: connect: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("gorillastore: connect: %w", err)
	}
	s, err := newPGStore(pool, PGConfig{Config: Config{KeyPairs: keyPairs}})
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownPool = pool
	return s, nil
}

// defaultMaxConns is the size of the pool NewPGStore opens when its URL has
// no pool_max_conns (see NewPGStore).
func defaultMaxConns() int32 {
	return int32(min(max(4, 4*runtime.GOMAXPROCS(0)), 32))
}

// poolConfig parses dbURL as pgxpool.ParseConfig does, with defaultMaxConns
// unless dbURL sets pool_max_conns.
func poolConfig(dbURL string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, err
	}
	// ParseConfig consumes pool_max_conns; pgx.ParseConfig leaves it among
	// the runtime parameters, which is how to tell whether it was set.
	connCfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return nil, err
	}
	if _, set := connCfg.RuntimeParams["pool_max_conns"]; !set {
		cfg.MaxConns = defaultMaxConns()
	}
	return cfg, nil
}

// NewPGStoreFromPool returns a PGStore on db, typically a *pgxpool.Pool. Close
// does not close db.
func NewPGStoreFromPool(db DBConn, keyPairs ...[]byte) (*PGStore, error) {
	return newPGStore(db, PGConfig{Config: Config{KeyPairs: keyPairs}})
}

// NewPGStoreWithConfig is NewPGStoreFromPool with every setting of PGConfig.
func NewPGStoreWithConfig(db DBConn, cfg PGConfig) (*PGStore, error) {
	return newPGStore(db, cfg)
}

// resolve applies the defaults of the table, the timeouts and the clock, and
// checks them, with the deprecated TableName and DeleteTimeout read as
// Table and Timeout describe.
func (cfg *PGConfig) resolve() error {
	if cfg.TableName != "" {
		if cfg.Table != "" && cfg.Table != cfg.TableName {
			return fmt.Errorf("PGConfig.Table %q and the deprecated TableName %q differ: set Table only", cfg.Table, cfg.TableName)
		}
		cfg.Table = cfg.TableName
	}
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if cfg.Timeout < 0 {
		return fmt.Errorf("PGConfig.Timeout %v is negative", cfg.Timeout)
	}
	if cfg.Timeout > 0 && cfg.DeleteTimeout > 0 && cfg.Timeout != cfg.DeleteTimeout {
		return fmt.Errorf("PGConfig.Timeout %v and the deprecated DeleteTimeout %v differ: set Timeout only", cfg.Timeout, cfg.DeleteTimeout)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return checkTableName(cfg.Table)
}

// bound is the timeout of the operations that must not depend on the
// caller's context (deletes, which ignore its cancellation, and cleanup
// batches): Timeout if positive, else the deprecated DeleteTimeout if
// positive, else DefaultTimeout.
func (cfg *PGConfig) bound() time.Duration {
	switch {
	case cfg.Timeout > 0:
		return cfg.Timeout
	case cfg.DeleteTimeout > 0:
		return cfg.DeleteTimeout
	}
	return DefaultTimeout
}

// constructTimeout is the bound of each statement of the constructors'
// schema checks.
func (cfg *PGConfig) constructTimeout() time.Duration {
	if cfg.Timeout > 0 {
		return cfg.Timeout
	}
	return defaultConstructTimeout
}

// open returns the session table cfg (resolved) describes on db, created
// if it does not exist, with its tombstone table checked (and created if
// it is missing and the role may) and, with Owner, its index columns
// (unless indexLater: MigratePGStore adds them). setup functions, for
// tests, see the core before its first round trip.
func (cfg *PGConfig) open(db DBConn, indexLater bool, setup ...func(*pgcore.Store)) (*pgBackend, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.constructTimeout())
	defer cancel()
	table := pgx.Identifier{cfg.Table}.Sanitize()
	if err := checkSchema(ctx, db, table); err != nil {
		return nil, fmt.Errorf("gorillastore: new: %w", err)
	}
	core, err := pgcore.Open(pgxDB{db}, pgcore.Options{
		Name:              "gorillastore",
		Table:             cfg.Table,
		WholeName:         true,
		Columns:           pgColumns,
		EnsureTable:       true,
		IndexLater:        indexLater,
		OpenTimeout:       cfg.constructTimeout(),
		MigrateHint:       "gorillastore.MigratePGStore, or the SQL in the README, first",
		AllowNoTombstones: cfg.AllowNoTombstones,
		Timeout:           cfg.Timeout,
		DefaultTimeout:    cfg.bound(),
		CleanupBatchSize:  cfg.CleanupBatchSize,
		TombstoneLifetime: cfg.TombstoneLifetime,
		ClockSkew:         cfg.ClockSkew,
		Owner:             cfg.Owner,
		Now:               cfg.Now,
		Logger:            cfg.Logger,
	}, setup...)
	if err != nil {
		return nil, err
	}
	return &pgBackend{
		core:            core,
		db:              db,
		table:           core.Names.Sessions,
		tombs:           core.Names.Tombstones,
		timeout:         cfg.Timeout,
		now:             cfg.Now,
		countExpiredSQL: `SELECT count(*) FROM ` + core.Names.Sessions + ` WHERE expires_on <= $1`,
	}, nil
}

func newPGStore(db DBConn, cfg PGConfig, setup ...func(*pgcore.Store)) (*PGStore, error) {
	if db == nil {
		return nil, errors.New("gorillastore: new: nil DBConn")
	}
	if err := cfg.resolve(); err != nil {
		return nil, fmt.Errorf("gorillastore: new: %w", err)
	}
	if _, err := tombstone.New(cfg.TombstoneLifetime, cfg.ClockSkew); err != nil {
		return nil, fmt.Errorf("gorillastore: new: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// The cookie settings first: they need no database.
	e, codecs, err := cfg.engine(nil)
	if err != nil {
		return nil, fmt.Errorf("gorillastore: new: %w", err)
	}
	b, err := cfg.open(db, false, setup...)
	if err != nil {
		return nil, err
	}
	e.setBackend(b)
	b.touch, e.loaderSees = e.touch, true
	return &PGStore{
		Codecs:  codecs,
		Options: cfg.Options,
		Path:    cfg.Options.Path,
		e:       e,
		b:       b,
		cfg:     cfg,
		closing: make(chan struct{}),
	}, nil
}

// MigratePGStore turns on the per-user index of the PGStore that cfg
// describes (cfg.Owner must be set), with sessions kept working throughout:
// it creates the tables if they are missing, adds the index columns
// (owner, created, user_agent, ip: nullable, so PostgreSQL rewrites
// nothing) if they are missing, builds the owner index with CREATE INDEX
// CONCURRENTLY (which blocks no load or Save) if it is missing or invalid,
// then indexes the existing live sessions by reading each one's owner with
// cfg.Owner, in batches of 1,000. A row is updated only if its data is
// still what the backfill read, so a Save racing the backfill wins.
// Sessions whose owner cannot be read are left as they are, counted in one
// WARN log. It is idempotent, and a rerun corrects the owner of every live
// row whose data says otherwise (rows saved meanwhile by replicas without
// cfg.Owner, which do not maintain the index): run it before the first
// NewPGStoreWithConfig with cfg.Owner set, and again once every replica
// has it. Replicas running it together are safe, only slower.
//
// The index part runs on ctx (each statement bounded by cfg.Timeout or
// DefaultTimeout too), on one connection of db at a time: db must not be a
// pgx.Tx, since CREATE INDEX CONCURRENTLY runs outside a transaction.
func MigratePGStore(ctx context.Context, db DBConn, cfg PGConfig) error {
	if db == nil {
		return errors.New("gorillastore: migrate: nil DBConn")
	}
	if cfg.Owner == nil {
		return fmt.Errorf("gorillastore: migrate: %w", errNoOwner)
	}
	return migratePGStore(ctx, db, cfg)
}

// migratePGStore is MigratePGStore once db and cfg.Owner are checked;
// setup functions, for tests, see the core before its first round trip.
func migratePGStore(ctx context.Context, db DBConn, cfg PGConfig, setup ...func(*pgcore.Store)) error {
	if err := cfg.resolve(); err != nil {
		return fmt.Errorf("gorillastore: migrate: %w", err)
	}
	if _, err := tombstone.New(cfg.TombstoneLifetime, cfg.ClockSkew); err != nil {
		return fmt.Errorf("gorillastore: migrate: %w", err)
	}
	b, err := cfg.open(db, true, setup...)
	if err != nil {
		return err
	}
	return b.core.MigrateIndex(ctx)
}

// Close stops every cleanup started with StartCleanup, waits for them, and
// closes the connection pool if NewPGStore opened it. A DBConn passed in by
// the caller is never closed. Close is safe to call more than once.
func (s *PGStore) Close() {
	s.closed.Do(func() {
		s.mu.Lock()
		close(s.closing)
		s.mu.Unlock()
		s.loops.Wait()
		if s.ownPool != nil {
			s.ownPool.Close()
		}
	})
}

// Get returns the session name of the request, loading it on the first call
// in a request and returning the same *sessions.Session after that (the
// gorilla/sessions registry).
//
// A request without a valid cookie, or whose session is unknown, expired or
// deleted, gets a new session with a fresh ID and IsNew set, and a nil error.
// A database failure gives such a fresh session together with the error:
// don't Save it, or the client loses its session.
func (s *PGStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New loads the session name of the request like Get, without the registry.
// It runs one SELECT, with the request's context, and writes nothing.
func (s *PGStore) New(r *http.Request, name string) (*sessions.Session, error) {
	return s.e.newSession(s, s.Codecs, s.Options, r, name)
}

// Save writes the session with one statement on the request's context and
// sets its cookie. With session.Options.MaxAge < 0 it deletes the row and the
// cookie instead. A session that New loaded (or that was saved before) is
// written by an UPDATE of its live row, never an insert: if a logout in
// another request deleted it meanwhile, or it expired, Save writes nothing,
// sets no cookie and returns nil, however late it runs. Whether a session
// was loaded comes from the session's handle (Session.Store()), not from
// IsNew. A new session is inserted unless a tombstone blocks its key.
// Values over MaxLength give an error matching sessionstore.ErrTooLarge,
// and an expiry out of range (see MaxAge) one matching
// sessionstore.ErrExpiryOutOfRange; then nothing is written and no cookie
// set.
func (s *PGStore) Save(r *http.Request, w http.ResponseWriter, session *sessions.Session) error {
	return s.e.save(s.Codecs, s.Options, r, w, session)
}

// MaxAge sets the default cookie and session lifetime, in seconds, of the
// store's Options and the cookie timestamp limit of its codecs. Individual
// sessions are deleted by setting their Options.MaxAge to -1 and saving
// them. Call it before serving requests. An age over the 292 years a
// time.Duration holds is not refused here (MaxAge returns no error); every
// Save with it fails with an error matching
// sessionstore.ErrExpiryOutOfRange.
func (s *PGStore) MaxAge(age int) {
	s.Options.MaxAge = age
	setCodecMaxAge(s.Codecs, age)
}

// MaxLength restricts the encoded values of a session to l bytes. If l is 0
// there is no limit to the size of a session; use with caution. The default
// is 4096.
func (s *PGStore) MaxLength(l int) {
	s.e.setMaxLength(l)
}
