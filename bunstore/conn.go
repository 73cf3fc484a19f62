package bunstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/sessionstore/sessionstore/internal/sqlstore"
)

// conn runs the store's statements on the *sql.DB under the *bun.DB. Bun's
// own query methods format arguments into the SQL text; going to
// database/sql directly keeps every value a bind parameter. The price: Bun
// query hooks do not see these statements.
type conn struct {
	db interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	}
	tx    *sql.Tx             // set inside a transaction
	stmts *sqlstore.StmtCache // nil: no prepared statements
}

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	var r sql.Result
	stmt, err := c.stmt(ctx, query)
	switch {
	case err != nil:
		return 0, err
	case stmt != nil:
		r, err = stmt.ExecContext(ctx, args...)
	default:
		r, err = c.db.ExecContext(ctx, query, args...)
	}
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (c conn) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	stmt, err := c.stmt(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case stmt != nil:
		return stmt.QueryContext(ctx, args...)
	}
	return c.db.QueryContext(ctx, query, args...)
}

// stmt returns the cached prepared statement for query, bound to the
// transaction if there is one, or nil if query is to run unprepared. It
// never waits for a second connection inside a transaction.
func (c conn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if c.stmts == nil {
		return nil, nil
	}
	return c.stmts.Get(ctx, query, c.tx)
}

func (c conn) InTx(ctx context.Context, fn func(tx sqlstore.Conn) error) error {
	db, ok := c.db.(*sql.DB)
	if !ok {
		return errors.New("nested transaction")
	}
	if c.stmts != nil {
		c.stmts.Warm(ctx) // while no connection is held
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(conn{db: tx, tx: tx, stmts: c.stmts}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
