package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"

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
	tx    *sql.Tx    // set inside a transaction
	stmts *stmtCache // nil: no prepared statements
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
// transaction if there is one, or nil if query is not cached.
func (c conn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if c.stmts == nil {
		return nil, nil
	}
	stmt, err := c.stmts.get(ctx, query)
	if err != nil || stmt == nil || c.tx == nil {
		return stmt, err
	}
	return c.tx.StmtContext(ctx, stmt), nil
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
	if err := fn(conn{db: tx, tx: tx, stmts: c.stmts}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// stmtCache prepares the store's frequent statements once (database/sql
// then prepares each on a connection the first time it runs there). On
// MySQL, without it, database/sql prepares, executes and closes every
// parameterized statement: three round trips instead of one.
type stmtCache struct {
	db   *sql.DB
	hot  map[string]bool // the statements worth caching
	mu   sync.RWMutex
	done map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB, queries ...string) *stmtCache {
	c := &stmtCache{db: db, hot: make(map[string]bool), done: make(map[string]*sql.Stmt)}
	for _, q := range queries {
		if q != "" {
			c.hot[q] = true
		}
	}
	return c
}

func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	if !c.hot[query] {
		return nil, nil
	}
	c.mu.RLock()
	stmt := c.done[query]
	c.mu.RUnlock()
	if stmt != nil {
		return stmt, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if stmt := c.done[query]; stmt != nil {
		return stmt, nil
	}
	stmt, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err // not cached: a missing table may be created later
	}
	c.done[query] = stmt
	return stmt, nil
}

// close closes the prepared statements. It runs when the store is garbage
// collected (see NewWithConfig).
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, stmt := range c.done {
		stmt.Close()
		delete(c.done, q)
	}
}
