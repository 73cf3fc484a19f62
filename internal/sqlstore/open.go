package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/tombstone"
	"github.com/sessionstore/sessionstore/internal/touch"
)

// Defaults of the modules' Config fields, which the modules export under
// the same names (as pgstore does).
const (
	// DefaultTable is the sessions table of SCS's stores.
	DefaultTable = "sessions"
	// DefaultCleanupInterval is how often the cleanup loop runs.
	DefaultCleanupInterval = 5 * time.Minute
)

// Options is a module's Config (gormstore.Config, bunstore.Config) as Open
// takes it, its deprecated names resolved. The modules' config.go, which
// genconfig writes, documents each field.
type Options struct {
	Table             string
	CleanupInterval   time.Duration
	CleanupBatchSize  int
	MaxDataSize       int
	Timeout           time.Duration
	Logger            *slog.Logger
	OnCleanup         func(deleted int64, took time.Duration, err error)
	Now               func() time.Time
	TombstoneLifetime time.Duration
	ClockSkew         time.Duration
	AllowNoTombstones bool
	Owner             sessionstore.OwnerFunc
	TouchWindow       time.Duration
	AsyncCommit       bool // PostgreSQL only: Open fails on the other dialects
	BeforeBackfill    func()
}

// Renamed returns the value of a Config field that was renamed from old to
// name: the one that is set, or an error if both are set and differ.
func Renamed[T comparable](name string, v T, old string, deprecated T) (T, error) {
	var zero T
	if deprecated == zero || deprecated == v {
		return v, nil
	}
	if v == zero {
		return deprecated, nil
	}
	return zero, fmt.Errorf("config: %s %v and %s %v differ: set %s only (%s is its deprecated name)", name, v, old, deprecated, name, old)
}

// Module is what an ORM module gives Open: its name, its database's
// dialect, and how to run statements and DDL on it.
type Module struct {
	Name         string // "gormstore": the prefix of errors and logs
	Dialect      Dialect
	Placeholders Placeholders
	// Conn returns the connection the store runs its statements on, with
	// stmts (nil unless Prepare is set) for its hot statements. On
	// PostgreSQL it must be a Holder.
	Conn func(stmts *StmtCache) Conn
	// Prepare, if set, is the pool on which Open prepares the hot
	// statements on MySQL and MariaDB (see SQLConn).
	Prepare *sql.DB
	// DB is the database/sql pool under the ORM. On PostgreSQL its driver
	// decides whether Commit runs MERGE (see reportsMerge).
	DB *sql.DB
	// CreateSessions and CreateTombstones create the sessions and the
	// tombstone table, with their expiry indexes, unless they exist: with
	// the ORM, so that its hooks see the DDL. Migrate runs both. On
	// PostgreSQL the core creates the tables (pgcore's Migrate), and
	// CreateSessions runs only for OpenCreatesSessions.
	CreateSessions, CreateTombstones func(ctx context.Context, st *Statements) error
	// OpenCreatesSessions makes Open create the sessions table too, as SCS's
	// gormstore does; without it only Migrate does, as with SCS's bunstore.
	OpenCreatesSessions bool
	// Transient is Config.Transient.
	Transient func(error) bool
	// Batch, if set, is how the module sends two statements as one pgx
	// batch (one implicit transaction, one round trip): on dc, a driver
	// connection of DB (sql.Conn.Raw's), it sends first, without
	// arguments, then query with args, and returns the rows query
	// affected. ok false means dc is not pgx's (github.com/jackc/pgx/v5/stdlib)
	// and nothing was sent. On PostgreSQL with Options.AsyncCommit, Commit
	// sends its set_config that way; without Batch, or where ok is false,
	// it runs the two in a transaction on Conn (see pgPipe). The root
	// module imports no driver, so the module supplies it.
	Batch func(ctx context.Context, dc any, first, query string, args []any) (n int64, ok bool, err error)
}

// Open is what each module's NewWithConfig does once it knows its dialect:
// it checks o, creates the tables Module says (the sessions table only if
// OpenCreatesSessions, the tombstone table always), looks for the
// tombstone table where it could not create it (degraded with
// o.AllowNoTombstones, an error matching sessionstore.ErrNoTombstones
// without), checks the token columns (MySQL), migrates the per-user index
// with o.Owner set, and starts the cleanup loop. The schema steps are
// bounded by the store's timeout; the index migration, like pgstore's,
// by each of its batches.
//
// owner is the value the caller hands out (the module's store): the
// prepared statements are closed once it is unreachable. The cleanup loop
// keeps the Store itself reachable, and runs its statements unprepared.
//
// On PostgreSQL the Backend is the shared PostgreSQL core's store
// (internal/pgcore, see postgres.go), with the same Options.
func Open[T any](owner *T, m Module, o Options) (Backend, error) {
	if o.Table == "" {
		o.Table = DefaultTable
	}
	if m.Dialect == Postgres {
		return openPostgres(m, o)
	}
	if o.AsyncCommit {
		return nil, fmt.Errorf("%s: config: AsyncCommit is for PostgreSQL only, not %s", m.Name, m.Dialect)
	}
	st, err := New(m.Dialect, m.Placeholders, o.Table)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name, err)
	}
	policy, err := tombstone.New(o.TombstoneLifetime, o.ClockSkew)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name, err)
	}
	view, err := touch.New(o.TouchWindow)
	if err != nil {
		return nil, fmt.Errorf("%s: config: %w", m.Name, err)
	}
	var stmts *StmtCache
	if m.Prepare != nil && m.Dialect == MySQL {
		stmts = NewStmtCache(m.Prepare, st.Hot()...)
	}
	s := newStore(m.Conn(stmts), st, Config{
		Name:      m.Name,
		BatchSize: o.CleanupBatchSize,
		MaxSize:   o.MaxDataSize,
		Timeout:   o.Timeout,
		Logger:    o.Logger,
		Now:       o.Now,
		Policy:    policy,
		Owner:     o.Owner,
		Touch:     view,
		Transient: m.Transient,

		BeforeBackfill: o.BeforeBackfill,
	})
	s.mod = m
	if err := s.open(o.AllowNoTombstones); err != nil {
		if stmts != nil {
			stmts.Close()
		}
		return nil, err
	}
	if stmts != nil {
		runtime.AddCleanup(owner, (*StmtCache).Close, stmts)
	}
	interval := o.CleanupInterval
	if interval == 0 {
		interval = DefaultCleanupInterval
	}
	s.StartCleanup(interval, o.OnCleanup)
	return s, nil
}

// open is Open's schema part.
func (s *Store) open(allowNoTombstones bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.bounded())
	defer cancel()
	if s.mod.OpenCreatesSessions {
		if err := s.mod.CreateSessions(ctx, s.st); err != nil {
			return s.errorf("migrate", err)
		}
	}
	merr := s.mod.CreateTombstones(ctx, s.st)
	tomb := merr == nil || HasTombstones(ctx, s.conn, s.st)
	if !tomb && !allowNoTombstones {
		return fmt.Errorf("%s: table %s_tombstones is missing and cannot be created (%w): %w",
			s.cfg.Name, s.st.Table, merr, sessionstore.ErrNoTombstones)
	}
	if err := CheckTokenColumns(ctx, s.conn, s.st); err != nil {
		return fmt.Errorf("%s: %w", s.cfg.Name, err)
	}
	s.tomb.Store(tomb)
	if !tomb {
		s.logDegraded()
	}
	return s.OpenIndex(context.Background())
}

// Migrate creates the sessions table, the tombstone table and their expiry
// indexes where they do not exist, checks the token columns, and with
// Config.Owner set migrates the per-user index (MigrateIndex). It is the
// modules' Migrate.
func (s *Store) Migrate(ctx context.Context) error {
	if !s.schemaComplete(ctx) {
		if err := s.mod.CreateSessions(ctx, s.st); err != nil {
			return s.errorf("migrate", err)
		}
		if err := s.mod.CreateTombstones(ctx, s.st); err != nil {
			return s.errorf("migrate", err)
		}
	}
	if err := CheckTokenColumns(ctx, s.conn, s.st); err != nil {
		return s.errorf("migrate", err)
	}
	s.EnableTombstones()
	if err := s.MigrateIndex(ctx); err != nil {
		return s.IndexError(err)
	}
	return nil
}

// schemaComplete reports whether both tables and their expiry indexes
// exist, so that Migrate runs no CREATE (see Statements.SchemaComplete). A
// failed probe answers false: Migrate then runs its statements, and their
// error is the one returned.
func (s *Store) schemaComplete(ctx context.Context) bool {
	if s.st.SchemaComplete == "" {
		return false
	}
	n, err := queryStrings(ctx, s.conn, s.st.SchemaComplete)
	return err == nil && len(n) == 1 && n[0] == "2"
}

// Statements returns the store's statements.
func (s *Store) Statements() *Statements { return s.st }
