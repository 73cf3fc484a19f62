package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
)

// Pool is what *sql.DB, *sql.Tx and GORM's ConnPool have in common: the
// methods an SQLConn runs its statements with.
type Pool interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// SQLConn is a Conn on a database/sql pool or transaction, as an ORM
// exposes it. Going to database/sql directly, rather than through the ORM's
// query builder, keeps every value a bind parameter and halves the Go
// overhead of a call.
//
// With Stmts set (MySQL and MariaDB on a plain *sql.DB), the hot statements
// run prepared: database/sql would otherwise prepare, run and close each
// one, three round trips instead of one. Inside a transaction they are
// bound to Tx, and one not prepared yet runs unprepared, so that no
// operation waits for a second connection while it holds one.
type SQLConn struct {
	Pool  Pool
	Tx    *sql.Tx    // Pool as a *sql.Tx inside a transaction, else nil
	Stmts *StmtCache // nil: every statement runs unprepared
	// Begin runs fn in one transaction on Pool, passing the transaction's
	// Pool and its *sql.Tx (nil if it is not one), and commits it if fn
	// returns nil. BeginTx does so for a *sql.DB. Nil inside a transaction.
	Begin func(ctx context.Context, fn func(tx Pool, sqlTx *sql.Tx) error) error
	// DB is the database/sql pool Pool runs on, from which OnConn takes a
	// connection (PostgreSQL: see Holder). Nil inside a transaction and on
	// a held connection.
	DB *sql.DB
}

// OnConn implements Holder: it runs fn on one connection of DB, which it
// returns to the pool when fn returns, or closes if fn called its Discard.
// Statements on the connection run unprepared.
func (c SQLConn) OnConn(ctx context.Context, fn func(c Conn) error) error {
	if c.DB == nil {
		return errors.New("no pool to take a connection from")
	}
	conn, err := c.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return fn(heldConn{SQLConn{Pool: conn}, conn})
}

// heldConn is a connection OnConn holds.
type heldConn struct {
	SQLConn
	c *sql.Conn
}

// Discard marks the connection bad, so that database/sql closes it
// instead of returning it to the pool.
func (h heldConn) Discard(context.Context) {
	h.c.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // the error is ErrBadConn, by design
}

// BeginTx returns SQLConn.Begin for db: a database/sql transaction, rolled
// back if fn fails.
func BeginTx(db *sql.DB) func(ctx context.Context, fn func(tx Pool, sqlTx *sql.Tx) error) error {
	return func(ctx context.Context, fn func(tx Pool, sqlTx *sql.Tx) error) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := fn(tx, tx); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	}
}

// Exec implements Conn.
func (c SQLConn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	var r sql.Result
	stmt, err := c.stmt(ctx, query)
	switch {
	case err != nil:
		return 0, err
	case stmt != nil:
		r, err = stmt.ExecContext(ctx, args...)
	default:
		r, err = c.Pool.ExecContext(ctx, query, args...)
	}
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

// Query implements Conn.
func (c SQLConn) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	stmt, err := c.stmt(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case stmt != nil:
		return stmt.QueryContext(ctx, args...)
	}
	return c.Pool.QueryContext(ctx, query, args...)
}

// stmt returns the cached prepared statement for query, bound to the
// transaction if there is one, or nil if query is to run unprepared.
func (c SQLConn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if c.Stmts == nil {
		return nil, nil
	}
	return c.Stmts.Get(ctx, query, c.Tx)
}

// InTx implements Conn.
func (c SQLConn) InTx(ctx context.Context, fn func(tx Conn) error) error {
	if c.Begin == nil {
		return errors.New("nested transaction")
	}
	if c.Stmts != nil {
		c.Stmts.Warm(ctx) // while no connection is held
	}
	return c.Begin(ctx, func(tx Pool, sqlTx *sql.Tx) error {
		return fn(SQLConn{Pool: tx, Tx: sqlTx, Stmts: c.Stmts})
	})
}
