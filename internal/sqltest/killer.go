package sqltest

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync/atomic"
)

// Killer is a driver.Connector whose connections die, as a crashed
// application server's would, at the statement a test picks: once armed
// with Arm(k), the connection that runs the (k+1)th statement from then on
// (an Exec, a Query, a prepared statement's execution or a transaction's
// COMMIT) closes its network connection instead, so that the server rolls
// back whatever that connection's transaction had done.
type Killer struct {
	driver.Connector // the real connector

	left  atomic.Int64 // statements to let through; negative: disarmed
	kills atomic.Int64
}

// NewKiller returns a disarmed Killer on the database/sql driver registered
// as driverName, connecting to dsn. Open it with sql.OpenDB.
func NewKiller(driverName, dsn string) (*Killer, error) {
	r, err := NewRecorder(driverName, dsn)
	if err != nil {
		return nil, err
	}
	k := &Killer{Connector: r.Connector}
	k.left.Store(-1)
	return k, nil
}

// Arm lets n statements through, then kills the connection of the next.
func (k *Killer) Arm(n int) { k.left.Store(int64(n)) }

// Disarm stops killing and reports whether a connection was killed since
// the last Arm.
func (k *Killer) Disarm() bool {
	k.left.Store(-1)
	return k.kills.Swap(0) > 0
}

// errKilled is what a killed statement returns: database/sql then discards
// the connection.
var errKilled = errors.Join(errors.New("sqltest: connection killed"), driver.ErrBadConn)

// next reports whether the statement about to run must die instead.
func (k *Killer) next() bool {
	for {
		n := k.left.Load()
		if n < 0 {
			return false
		}
		if k.left.CompareAndSwap(n, n-1) {
			if n == 0 {
				k.kills.Add(1)
				return true
			}
			return false
		}
	}
}

// Connect implements driver.Connector.
func (k *Killer) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := k.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &killConn{Conn: c, k: k}, nil
}

type killConn struct {
	driver.Conn
	k    *Killer
	dead atomic.Bool
}

// die closes the real connection: the server sees the client vanish.
func (c *killConn) die() error {
	c.dead.Store(true)
	c.Conn.Close()
	return errKilled
}

func (c *killConn) check() error {
	if c.dead.Load() {
		return driver.ErrBadConn
	}
	if c.k.next() {
		return c.die()
	}
	return nil
}

func (c *killConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return e.ExecContext(ctx, query, args)
}

func (c *killConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return q.QueryContext(ctx, query, args)
}

func (c *killConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if c.dead.Load() {
		return nil, driver.ErrBadConn
	}
	var s driver.Stmt
	var err error
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		s, err = p.PrepareContext(ctx, query)
	} else {
		s, err = c.Conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &killStmt{Stmt: s, c: c}, nil
}

func (c *killConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.dead.Load() {
		return nil, driver.ErrBadConn
	}
	b, ok := c.Conn.(driver.ConnBeginTx)
	if !ok {
		return nil, errors.New("sqltest: driver cannot begin a transaction with options")
	}
	tx, err := b.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &killTx{Tx: tx, c: c}, nil
}

func (c *killConn) CheckNamedValue(v *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(v)
	}
	return driver.ErrSkip
}

func (c *killConn) ResetSession(ctx context.Context) error {
	if c.dead.Load() {
		return driver.ErrBadConn
	}
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *killConn) IsValid() bool {
	if c.dead.Load() {
		return false
	}
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

type killTx struct {
	driver.Tx
	c *killConn
}

func (t *killTx) Commit() error {
	if err := t.c.check(); err != nil {
		return err
	}
	return t.Tx.Commit()
}

func (t *killTx) Rollback() error {
	if t.c.dead.Load() {
		return driver.ErrBadConn
	}
	return t.Tx.Rollback()
}

type killStmt struct {
	driver.Stmt
	c *killConn
}

func (s *killStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if err := s.c.check(); err != nil {
		return nil, err
	}
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	return nil, errors.New("sqltest: statement without ExecContext")
}

func (s *killStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if err := s.c.check(); err != nil {
		return nil, err
	}
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	return nil, errors.New("sqltest: statement without QueryContext")
}
