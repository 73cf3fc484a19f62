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
}

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	r, err := c.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (c conn) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return c.db.QueryContext(ctx, query, args...)
}

func (c conn) InTx(ctx context.Context, fn func(tx sqlstore.Conn) error) error {
	db, ok := c.db.(*sql.DB)
	if !ok {
		return errors.New("nested transaction")
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(conn{tx}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
