package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore/internal/pgcore"
)

// poolDB is a pgx pool as the core's DB. pgx prepares each statement once
// per connection (its statement cache) and sends a []string or [][]byte as
// an array itself.
type poolDB struct{ p *pgxpool.Pool }

var (
	_ pgcore.DB        = poolDB{}
	_ pgcore.Pipeliner = poolDB{}
)

func (d poolDB) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := d.p.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

func (d poolDB) QueryRow(ctx context.Context, q string, args ...any) pgcore.Row {
	return d.p.QueryRow(ctx, q, args...)
}

func (d poolDB) Query(ctx context.Context, q string, args ...any) (pgcore.Rows, error) {
	return d.p.Query(ctx, q, args...)
}

func (d poolDB) InTx(ctx context.Context, fn func(pgcore.Conn) error) error {
	return pgx.BeginFunc(ctx, d.p, func(tx pgx.Tx) error { return fn(txConn{tx}) })
}

func (d poolDB) OnConn(ctx context.Context, fn func(pgcore.Conn) error) error {
	c, err := d.p.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	return fn(heldConn{c})
}

// ExecAfter sends first and q in one batch: a batch's statements share one
// implicit transaction (one Sync) and one round trip.
func (d poolDB) ExecAfter(ctx context.Context, first, q string, args ...any) (int64, error) {
	var batch pgx.Batch
	batch.Queue(first)
	batch.Queue(q, args...)
	br := d.p.SendBatch(ctx, &batch)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return 0, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag.RowsAffected(), err
}

// txConn is a pgx transaction as the core's Conn.
type txConn struct{ tx pgx.Tx }

func (c txConn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := c.tx.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

func (c txConn) QueryRow(ctx context.Context, q string, args ...any) pgcore.Row {
	return c.tx.QueryRow(ctx, q, args...)
}

func (c txConn) Query(ctx context.Context, q string, args ...any) (pgcore.Rows, error) {
	return c.tx.Query(ctx, q, args...)
}

// heldConn is a connection acquired from a pgx pool as the core's Conn.
type heldConn struct{ c *pgxpool.Conn }

func (c heldConn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := c.c.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

func (c heldConn) QueryRow(ctx context.Context, q string, args ...any) pgcore.Row {
	return c.c.QueryRow(ctx, q, args...)
}

func (c heldConn) Query(ctx context.Context, q string, args ...any) (pgcore.Rows, error) {
	return c.c.Query(ctx, q, args...)
}

// Discard closes the connection; the pool drops it when it is released.
func (c heldConn) Discard(ctx context.Context) {
	c.c.Conn().Close(ctx) //nolint:errcheck // closing ends the session either way
}
