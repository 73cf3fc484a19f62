// Package sqltest has helpers for the tests of the SQL stores.
package sqltest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
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
// parameters and never inside the SQL text, and counts every statement
// executed, prepared or not, so that a test can count round trips.
type Recorder struct {
	driver.Connector // the real connector

	mu    sync.Mutex
	stmts []Statement
	runs  []Statement
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

// Reset forgets the statements recorded and executed so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.stmts, r.runs = nil, nil
	r.mu.Unlock()
}

// Executed returns the statements executed so far, one per execution: run
// directly (as Statements records them) or through a prepared statement
// (which Statements records once, when it is prepared).
func (r *Recorder) Executed() []Statement {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Statement(nil), r.runs...)
}

// Writes returns how many of the statements executed so far change rows:
// INSERT, UPDATE, DELETE, MERGE, or a WITH that holds one of them.
func (r *Recorder) Writes() int {
	n := 0
	for _, s := range r.Executed() {
		q := strings.ToUpper(strings.TrimSpace(s.Query))
		for _, w := range []string{"INSERT", "UPDATE", "DELETE", "MERGE"} {
			if strings.HasPrefix(q, w) || strings.HasPrefix(q, "WITH") && strings.Contains(q, w+" ") {
				n++
				break
			}
		}
	}
	return n
}

// Statements returns the statements recorded so far.
func (r *Recorder) Statements() []Statement {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Statement(nil), r.stmts...)
}

// record records a statement that reached the driver: run, if it is an
// execution, or prepared.
func (r *Recorder) record(query string, args []driver.NamedValue, run, prepared bool) {
	s := Statement{Query: query}
	for _, a := range args {
		s.Args = append(s.Args, a.Value)
	}
	r.mu.Lock()
	if !prepared || !run {
		r.stmts = append(r.stmts, s)
	}
	if run {
		r.runs = append(r.runs, s)
	}
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
	c.r.record(query, args, true, false)
	return e.ExecContext(ctx, query, args)
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, errSkip
	}
	c.r.record(query, args, true, false)
	return q.QueryContext(ctx, query, args)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	c.r.record(query, nil, false, true)
	var st driver.Stmt
	var err error
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = c.Conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &stmt{Stmt: st, c: c, query: query}, nil
}

// stmt is a prepared statement whose executions the Recorder counts.
type stmt struct {
	driver.Stmt
	c     *conn
	query string
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.c.r.record(s.query, args, true, true)
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	return nil, errors.New("sqltest: the driver's statement has no ExecContext")
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.c.r.record(s.query, args, true, true)
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	return nil, errors.New("sqltest: the driver's statement has no QueryContext")
}

// CheckNamedValue converts as the statement would, or else its connection.
func (s *stmt) CheckNamedValue(v *driver.NamedValue) error {
	if ch, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(v)
	}
	return s.c.CheckNamedValue(v)
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
