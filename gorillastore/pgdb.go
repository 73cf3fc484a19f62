package gorillastore

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessionstore/sessionstore/internal/pgcore"
)

// pgxDB is a DBConn as the PostgreSQL core's DB. pgx prepares each
// statement once per connection (its statement cache) and sends a []string
// or [][]byte as an array itself.
type pgxDB struct{ db DBConn }

var _ pgcore.DB = pgxDB{}

func (d pgxDB) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := d.db.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

func (d pgxDB) QueryRow(ctx context.Context, q string, args ...any) pgcore.Row {
	return d.db.QueryRow(ctx, q, args...)
}

func (d pgxDB) Query(ctx context.Context, q string, args ...any) (pgcore.Rows, error) {
	return d.db.Query(ctx, q, args...)
}

// InTx runs fn in a transaction of the DBConn: on a pgx.Tx, a savepoint.
func (d pgxDB) InTx(ctx context.Context, fn func(pgcore.Conn) error) error {
	return pgx.BeginFunc(ctx, d.db, func(tx pgx.Tx) error { return fn(pgxDB{tx}) })
}

// acquirer is a pool that lends one of its connections: *pgxpool.Pool, or
// a DBConn of the caller's that wraps one and has its method.
type acquirer interface {
	Acquire(ctx context.Context) (*pgxpool.Conn, error)
}

// OnConn runs fn on one connection of a pool, held until fn returns. A
// DBConn that is no such pool (a *pgx.Conn, a pgx.Tx) is one connection
// already, and fn runs on it.
func (d pgxDB) OnConn(ctx context.Context, fn func(pgcore.Conn) error) error {
	p, ok := d.db.(acquirer)
	if !ok {
		return fn(d)
	}
	c, err := p.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	return fn(heldConn{pgxDB{c}, c})
}

// heldConn is a connection acquired from a pgx pool as the core's Conn.
type heldConn struct {
	pgxDB
	c *pgxpool.Conn
}

// Discard closes the connection; the pool drops it when it is released.
func (c heldConn) Discard(ctx context.Context) {
	c.c.Conn().Close(ctx) //nolint:errcheck // closing ends the session either way
}
