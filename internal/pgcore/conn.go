// Package pgcore is the PostgreSQL session store that keeps the store
// contract (docs/contract.md) once, for every store of this repository on
// PostgreSQL: its SQL (the tombstone guard of Commit, the Delete that writes
// its tombstone in the same statement, the batched cleanup under an advisory
// lock, keyset iteration, the per-user index) and the logic around it (the
// Commit retry loop, the tombstone table's state, detached logouts). Like
// database/sql, it keeps the logic and lets each driver supply a connection:
// a store module adapts its driver (a pgx pool, a *sql.DB) to DB.
//
// It uses only the standard library, so that the root module never depends
// on a driver.
package pgcore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Conn runs statements: a pool, one connection held by the store, or a
// transaction. Arguments are string, []byte, time.Time, int, nil, and
// (the per-user index) []string and [][]byte, sent as text[] and bytea[].
type Conn interface {
	// Exec runs a statement and returns how many rows it affected. A
	// statement without arguments may hold several commands separated by
	// semicolons (the simple protocol).
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// QueryRow runs a statement that returns at most one row. Its Scan
	// fails with an error matching sql.ErrNoRows when there is none (pgx's
	// ErrNoRows wraps it).
	QueryRow(ctx context.Context, query string, args ...any) Row
	// Query runs a statement that returns rows.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}

// Row is the result of QueryRow.
type Row interface {
	Scan(dst ...any) error
}

// Rows is the result of Query: pgx.Rows has this method set; *sql.Rows
// needs its Close wrapped.
type Rows interface {
	Next() bool
	Scan(dst ...any) error
	Err() error
	Close()
}

// DB is a pool of connections to one database.
type DB interface {
	Conn
	// InTx runs fn in one transaction, committed if fn returns nil and
	// rolled back otherwise.
	InTx(ctx context.Context, fn func(tx Conn) error) error
	// OnConn runs fn on one connection of the pool, held until fn returns.
	// fn must not use the DB itself, which may have no other connection.
	// If fn's Conn has a method Discard(context.Context), calling it closes
	// the connection (ending its session and the locks it holds) instead
	// of returning it to the pool.
	OnConn(ctx context.Context, fn func(c Conn) error) error
}

// Pipeliner is an optional interface of a DB that can send two statements
// in one round trip, sharing one implicit transaction (pgx's batch). With
// Options.AsyncCommit, a Commit runs its set_config and its statement that
// way; a DB without it runs them in a transaction (InTx), at the cost of
// its BEGIN and COMMIT round trips.
type Pipeliner interface {
	// ExecAfter runs first (without arguments), then query with args, in
	// one implicit transaction, and returns the rows query affected.
	ExecAfter(ctx context.Context, first, query string, args ...any) (int64, error)
}

// MergeReporter is an optional interface of a DB whose driver may not
// report the row count of a MERGE (lib/pq v1.12 parses no MERGE command
// tag and reports 0). Commit relies on that count, so a store on a DB
// that says false runs the INSERT ... ON CONFLICT form of its statement
// (Queries.CommitLegacy: the same guarantee, at the price of a row lock
// and two more index probes). A DB without the method reports it.
type MergeReporter interface {
	ReportsMerge(ctx context.Context) (bool, error)
}

// discarder is the optional method of a held connection (see OnConn).
type discarder interface {
	Discard(ctx context.Context)
}

// sqlState returns err's SQLSTATE code, or "" when err carries none. Both
// pgconn.PgError and lib/pq's *pq.Error have the method.
func sqlState(err error) string {
	var e interface{ SQLState() string }
	if errors.As(err, &e) {
		return e.SQLState()
	}
	return ""
}

// IsUniqueViolation reports whether err is PostgreSQL's unique_violation.
func IsUniqueViolation(err error) bool { return err != nil && sqlState(err) == "23505" }

// isPermanent reports whether err means the tombstone table cannot be
// created by this role: no privilege, or a read-only transaction.
func isPermanent(err error) bool {
	switch sqlState(err) {
	case "42501", "25006": // insufficient_privilege, read_only_sql_transaction
		return true
	}
	return false
}

// isNoRows reports whether err is QueryRow's "no row".
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// micro returns t at the microsecond precision PostgreSQL stores, so that
// every driver sends the same instant: pgx truncates to microseconds, while
// a driver sending text (lib/pq) would have the server round instead.
func micro(t time.Time) time.Time { return t.Truncate(time.Microsecond) }
