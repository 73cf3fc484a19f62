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
type StmtCache struct {
	db   *sql.DB
	hot  map[string]bool // the statements worth caching
	mu   sync.RWMutex
	done map[string]*sql.Stmt
}

// NewStmtCache returns a cache of the given queries' prepared statements
// on db; other queries are not cached.
func NewStmtCache(db *sql.DB, queries ...string) *StmtCache {
	c := &StmtCache{db: db, hot: make(map[string]bool), done: make(map[string]*sql.Stmt)}
	for _, q := range queries {
		if q != "" {
			c.hot[q] = true
		}
	}
	return c
}

// Get returns the prepared statement of query, preparing it on first use,
// or nil if query is not one of the cached queries.
func (c *StmtCache) Get(ctx context.Context, query string) (*sql.Stmt, error) {
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
