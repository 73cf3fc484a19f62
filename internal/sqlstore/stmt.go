package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// StmtCache prepares the store's frequent statements once (database/sql
// then prepares each on a connection the first time it runs there). On
// MySQL, without it, database/sql prepares, executes and closes every
// parameterized statement: three round trips instead of one.
//
// It never needs a second connection while one is held: inside a
// transaction a statement that is not prepared yet runs unprepared on the
// transaction's connection, and Warm prepares it through the pool before the
// next transaction begins. So every operation works on a pool of one
// connection. No lock is held while a statement is prepared.
type StmtCache struct {
	db      *sql.DB
	hot     map[string]bool // the statements worth caching
	mu      sync.RWMutex
	done    map[string]*sql.Stmt
	pending map[string]bool // seen in a transaction before it was prepared
}

// NewStmtCache returns a cache of the given queries' prepared statements
// on db; other queries are not cached.
func NewStmtCache(db *sql.DB, queries ...string) *StmtCache {
	c := &StmtCache{db: db, hot: make(map[string]bool), done: make(map[string]*sql.Stmt), pending: make(map[string]bool)}
	for _, q := range queries {
		if q != "" {
			c.hot[q] = true
		}
	}
	return c
}

// Get returns the prepared statement of query, or nil if the caller should
// run query unprepared: query is not one of the cached queries, or tx is
// not nil and query has not been prepared yet. With tx nil (the caller holds
// no connection) it prepares query on first use; with tx set it returns the
// statement bound to tx, which database/sql prepares on tx's own connection
// if needed.
func (c *StmtCache) Get(ctx context.Context, query string, tx *sql.Tx) (*sql.Stmt, error) {
	if !c.hot[query] {
		return nil, nil
	}
	c.mu.RLock()
	stmt := c.done[query]
	c.mu.RUnlock()
	switch {
	case stmt != nil && tx != nil:
		return tx.StmtContext(ctx, stmt), nil
	case stmt != nil:
		return stmt, nil
	case tx != nil:
		// Preparing through the pool now would wait for a second
		// connection, which a pool of one never has.
		c.mu.Lock()
		c.pending[query] = true
		c.mu.Unlock()
		return nil, nil
	}
	return c.prepare(ctx, query)
}

// Warm prepares, through the pool, the statements that ran unprepared in
// a transaction. The stores call it before they begin a transaction, while
// they hold no connection. A failure leaves the statement for the next Warm.
func (c *StmtCache) Warm(ctx context.Context) {
	c.mu.RLock()
	var queries []string
	for q := range c.pending {
		queries = append(queries, q)
	}
	c.mu.RUnlock()
	for _, q := range queries {
		if _, err := c.prepare(ctx, q); err != nil {
			return // most likely the context's deadline: the next Warm retries
		}
	}
}

// prepare prepares query on the pool and caches it. A failed prepare is not
// cached: a missing table may be created later.
func (c *StmtCache) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	stmt, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.done[query]; prev != nil {
		stmt.Close() // another goroutine prepared it first
		return prev, nil
	}
	c.done[query] = stmt
	delete(c.pending, query)
	return stmt, nil
}

// Close closes the prepared statements. The stores call it when they are
// garbage collected.
func (c *StmtCache) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, stmt := range c.done {
		stmt.Close()
		delete(c.done, q)
	}
}
