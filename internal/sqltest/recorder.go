// Package sqltest has helpers for the tests of the SQL stores.
package sqltest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"sync"
)

// Statement is one statement a Recorder saw: its SQL text and the bind
// parameters passed with it.
type Statement struct {
	Query string
	Args  []any
}

// Recorder is a driver.Connector that records every statement its
// connections run, so that a test can check that values travel as bind
// parameters and never inside the SQL text.
type Recorder struct {
	driver.Connector // the real connector

	mu    sync.Mutex
	stmts []Statement
}

// NewRecorder returns a Recorder on the database/sql driver registered as
// driverName, connecting to dsn. Open it with sql.OpenDB.
func NewRecorder(driverName, dsn string) (*Recorder, error) {
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, err
	}
	drv := db.Driver()
	db.Close()
	if dc, ok := drv.(driver.DriverContext); ok {
		c, err := dc.OpenConnector(dsn)
		if err != nil {
			return nil, err
		}
		return &Recorder{Connector: c}, nil
	}
	return &Recorder{Connector: dsnConnector{drv, dsn}}, nil
}

// dsnConnector is the connector of a driver without one.
type dsnConnector struct {
	drv driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.drv }

// Reset forgets the statements recorded so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.stmts = nil
	r.mu.Unlock()
}

// Statements returns the statements recorded so far.
func (r *Recorder) Statements() []Statement {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Statement(nil), r.stmts...)
}

func (r *Recorder) record(query string, args []driver.NamedValue) {
	s := Statement{Query: query}
	for _, a := range args {
		s.Args = append(s.Args, a.Value)
	}
	r.mu.Lock()
	r.stmts = append(r.stmts, s)
	r.mu.Unlock()
}

// Connect implements driver.Connector.
func (r *Recorder) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := r.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c, r: r}, nil
}

var errSkip = driver.ErrSkip

type conn struct {
	driver.Conn
	r *Recorder
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, errSkip
	}
	c.r.record(query, args)
	return e.ExecContext(ctx, query, args)
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, errSkip
	}
	c.r.record(query, args)
	return q.QueryContext(ctx, query, args)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	c.r.record(query, nil)
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return c.Conn.Prepare(query)
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	return nil, errors.New("sqltest: driver cannot begin a transaction with options")
}

func (c *conn) CheckNamedValue(v *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(v)
	}
	return driver.ErrSkip
}

func (c *conn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}
