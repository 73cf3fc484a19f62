package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"reflect"
	"strings"
	"time"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/cleanup"
	"github.com/sessionstore/sessionstore/internal/pgcore"
)

// On PostgreSQL a module's store runs internal/pgcore, the PostgreSQL store
// that pgstore runs too: Open hands the core the module's Conn as a
// pgcore.DB (pgDB), and the Backend it returns (pgStore) delegates every
// method to the core, adding the cleanup loop and the retry on deadlocks
// and serialization failures. sqlstore itself holds no PostgreSQL SQL but
// the DDL the ORMs and the tests create tables with.

// Backend is what Open returns, and what a module's store delegates every
// method to: a *Store on MySQL, MariaDB and SQLite, pgcore's store on
// PostgreSQL.
type Backend interface {
	Find(ctx context.Context, token string) ([]byte, bool, error)
	Commit(ctx context.Context, token string, data []byte, expiry time.Time) error
	Delete(ctx context.Context, token string) error
	All(ctx context.Context) (map[string][]byte, error)
	Sessions(ctx context.Context) iter.Seq2[sessionstore.Session, error]
	DeleteExpired(ctx context.Context) (int64, error)
	StopCleanup()
	Migrate(ctx context.Context) error
	UserSessions(ctx context.Context, user string) ([]sessionstore.UserSession, error)
	CountUserSessions(ctx context.Context, user string) (int, error)
	DeleteUserSession(ctx context.Context, user, id string) (bool, error)
	DeleteUserSessions(ctx context.Context, user string) (int, error)
	DeleteUserSessionsExcept(ctx context.Context, user string, keep ...string) (int, error)
	// Transient reports whether the store runs a statement again after
	// err (see Transient, the function).
	Transient(err error) bool
}

var (
	_ Backend = (*Store)(nil)
	_ Backend = (*pgStore)(nil)
)

// Holder is what a module's Conn must also have on PostgreSQL, where the
// core runs Delete and the revocations on one connection and builds the
// owner index under a session lock: OnConn runs fn on one connection of
// the pool, held until fn returns. If fn's Conn has a method
// Discard(context.Context), calling it closes that connection instead of
// returning it to the pool (see pgcore.DB).
type Holder interface {
	OnConn(ctx context.Context, fn func(c Conn) error) error
}

// openPostgres is Open on PostgreSQL. With m.OpenCreatesSessions it
// creates the sessions table through the ORM (m.CreateSessions, as SCS's
// gormstore does); the core then checks the tombstone table, creating it
// when it is missing and the role may, and with o.Owner migrates the
// per-user index of an existing sessions table.
func openPostgres(m Module, o Options) (Backend, error) {
	st, err := New(Postgres, m.Placeholders, o.Table)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name, err)
	}
	conn := m.Conn(nil)
	if _, ok := conn.(Holder); !ok {
		return nil, fmt.Errorf("%s: %T cannot hold a connection of its pool", m.Name, conn)
	}
	if m.OpenCreatesSessions {
		timeout := DefaultTimeout
		if o.Timeout > 0 {
			timeout = o.Timeout
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := m.CreateSessions(ctx, st)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%s: migrate: %w", m.Name, err)
		}
	}
	var setup []func(*pgcore.Store)
	if o.BeforeBackfill != nil {
		setup = append(setup, func(c *pgcore.Store) { c.OnBackfill = func(int, []string) { o.BeforeBackfill() } })
	}
	var db pgcore.DB = pgDB{c: conn, merge: m.DB != nil && reportsMerge(m.DB)}
	if o.AsyncCommit && m.Batch != nil && m.DB != nil {
		db = pgPipe{db.(pgDB), m.DB, m.Batch}
	}
	core, err := pgcore.Open(db, pgcore.Options{
		Name:              m.Name,
		Table:             o.Table,
		AllowNoTombstones: o.AllowNoTombstones,
		Timeout:           o.Timeout,
		DefaultTimeout:    DefaultTimeout,
		MaxDataSize:       o.MaxDataSize,
		CleanupBatchSize:  o.CleanupBatchSize,
		PageSize:          pageSize,
		TombstoneLifetime: o.TombstoneLifetime,
		ClockSkew:         o.ClockSkew,
		TouchWindow:       o.TouchWindow,
		Owner:             o.Owner,
		Now:               o.Now,
		Logger:            o.Logger,
		Mono:              o.Now,
		MigrateIndex:      true,
		AsyncCommit:       o.AsyncCommit,
	}, setup...)
	if err != nil {
		return nil, err
	}
	interval := o.CleanupInterval
	if interval == 0 {
		interval = DefaultCleanupInterval
	}
	p := &pgStore{core: core, transient: m.Transient}
	p.loop = cleanup.Start(cleanup.Config{
		Name:      m.Name,
		Interval:  interval,
		Logger:    o.Logger,
		OnCleanup: o.OnCleanup,
	}, core.DeleteExpired)
	return p, nil
}

// reportsMerge reports whether db's driver is pgx's database/sql driver
// (github.com/jackc/pgx/v5/stdlib, or v4's), whose results count the rows
// of a MERGE. lib/pq (v1.12) reports 0 for one, and a driver that cannot be
// told apart is taken not to report it: the core then runs its INSERT ...
// ON CONFLICT form of Commit, with the same guarantee (see
// pgcore.MergeReporter). The root module imports no driver, so the driver
// is told by its package path.
func reportsMerge(db *sql.DB) bool {
	t := reflect.TypeOf(db.Driver())
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return false
	}
	p := t.PkgPath()
	return strings.HasPrefix(p, "github.com/jackc/pgx/") && strings.HasSuffix(p, "/stdlib")
}

// pgStore is the Backend of a store on PostgreSQL: pgcore's store, with
// the cleanup loop, and Commit, Delete and the revocations run again on a
// deadlock or a serialization failure (by SQLSTATE, see Transient), as the
// other dialects' are. Each of them is one statement, so a run that
// failed changed nothing.
type pgStore struct {
	core      *pgcore.Store
	loop      *cleanup.Loop
	transient func(error) bool // Module.Transient
}

func (p *pgStore) Find(ctx context.Context, token string) ([]byte, bool, error) {
	return p.core.Find(ctx, token)
}

func (p *pgStore) Commit(ctx context.Context, token string, data []byte, expiry time.Time) error {
	return retry(ctx, p.Transient, func() error { return p.core.Commit(ctx, token, data, expiry) })
}

// Delete runs again on a context without ctx's cancellation: like the
// core's Delete, a logout does not half-happen.
func (p *pgStore) Delete(ctx context.Context, token string) error {
	return retry(context.WithoutCancel(ctx), p.Transient, func() error { return p.core.Delete(ctx, token) })
}

func (p *pgStore) All(ctx context.Context) (map[string][]byte, error) { return p.core.All(ctx) }

func (p *pgStore) Sessions(ctx context.Context) iter.Seq2[sessionstore.Session, error] {
	return p.core.Sessions(ctx)
}

func (p *pgStore) DeleteExpired(ctx context.Context) (int64, error) { return p.core.DeleteExpired(ctx) }

func (p *pgStore) StopCleanup() { p.loop.Stop() }

func (p *pgStore) Migrate(ctx context.Context) error { return p.core.Migrate(ctx) }

func (p *pgStore) UserSessions(ctx context.Context, user string) ([]sessionstore.UserSession, error) {
	return p.core.UserSessions(ctx, user)
}

func (p *pgStore) CountUserSessions(ctx context.Context, user string) (int, error) {
	return p.core.CountUserSessions(ctx, user)
}

func (p *pgStore) DeleteUserSession(ctx context.Context, user, id string) (bool, error) {
	var ok bool
	err := retry(context.WithoutCancel(ctx), p.Transient, func() error {
		var err error
		ok, err = p.core.DeleteUserSession(ctx, user, id)
		return err
	})
	return ok, err
}

func (p *pgStore) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	return p.revoke(ctx, "delete user sessions", user, nil)
}

func (p *pgStore) DeleteUserSessionsExcept(ctx context.Context, user string, keep ...string) (int, error) {
	return p.revoke(ctx, "delete user sessions except", user, keep)
}

func (p *pgStore) revoke(ctx context.Context, op, user string, keep []string) (int, error) {
	var n int
	err := retry(context.WithoutCancel(ctx), p.Transient, func() error {
		var err error
		n, err = p.core.DeleteUserSessions(ctx, op, user, keep)
		return err
	})
	return n, err
}

func (p *pgStore) Transient(err error) bool {
	return Transient(err) || (p.transient != nil && p.transient(err))
}

// pgDB is a module's Conn, which must be a Holder, as pgcore's DB; a
// transaction's or a held connection's Conn is its Conn.
type pgDB struct {
	c     Conn
	merge bool // what ReportsMerge says (see reportsMerge)
}

var (
	_ pgcore.DB            = pgDB{}
	_ pgcore.MergeReporter = pgDB{}
)

func (d pgDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return d.c.Exec(ctx, query, args...)
}

func (d pgDB) Query(ctx context.Context, query string, args ...any) (pgcore.Rows, error) {
	rows, err := d.c.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgRows{rows}, nil
}

func (d pgDB) QueryRow(ctx context.Context, query string, args ...any) pgcore.Row {
	rows, err := d.c.Query(ctx, query, args...)
	return pgRow{rows, err}
}

func (d pgDB) InTx(ctx context.Context, fn func(tx pgcore.Conn) error) error {
	return d.c.InTx(ctx, func(tx Conn) error { return fn(pgDB{c: tx}) })
}

func (d pgDB) OnConn(ctx context.Context, fn func(c pgcore.Conn) error) error {
	return d.c.(Holder).OnConn(ctx, func(c Conn) error { return fn(pgHeld{pgDB{c: c}}) })
}

// ReportsMerge implements pgcore.MergeReporter.
func (d pgDB) ReportsMerge(context.Context) (bool, error) { return d.merge, nil }

// pgPipe is a pgDB that sends AsyncCommit's set_config and its Commit in
// one pgx batch (pgcore.Pipeliner) on a connection of db, through the
// module's Batch. The core uses it only with Options.AsyncCommit.
type pgPipe struct {
	pgDB
	db    *sql.DB
	batch func(ctx context.Context, dc any, first, query string, args []any) (int64, bool, error)
}

var _ pgcore.Pipeliner = pgPipe{}

// ExecAfter implements pgcore.Pipeliner. On a driver connection that is
// not pgx's (a driver wrapping pgx's, say) it runs first and query in a
// transaction instead, as the core does on a DB without a Pipeliner.
func (p pgPipe) ExecAfter(ctx context.Context, first, query string, args ...any) (int64, error) {
	c, err := p.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	var ok bool
	err = c.Raw(func(dc any) error {
		var err error
		n, ok, err = p.batch(ctx, dc, first, query, args)
		return err
	})
	c.Close()
	if ok || err != nil {
		return n, err
	}
	err = p.InTx(ctx, func(tx pgcore.Conn) error {
		if _, err := tx.Exec(ctx, first); err != nil {
			return err
		}
		var err error
		n, err = tx.Exec(ctx, query, args...)
		return err
	})
	return n, err
}

// pgHeld is a held connection as pgcore's Conn, with its Conn's Discard.
type pgHeld struct{ pgDB }

// Discard closes the connection, if its Conn can.
func (h pgHeld) Discard(ctx context.Context) {
	if d, ok := h.c.(interface{ Discard(context.Context) }); ok {
		d.Discard(ctx)
	}
}

// pgRows is *sql.Rows with the Close pgcore.Rows has; its error, if any,
// is also Err's.
type pgRows struct{ *sql.Rows }

func (r pgRows) Close() { r.Rows.Close() }

// pgRow is the first row of a query, as *sql.Row is: Scan fails with
// sql.ErrNoRows when there is none.
type pgRow struct {
	rows *sql.Rows
	err  error
}

func (r pgRow) Scan(dst ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := r.rows.Scan(dst...); err != nil {
		return err
	}
	return r.rows.Close()
}
