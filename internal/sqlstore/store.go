package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/cleanup"
	"github.com/sessionstore/sessionstore/internal/tombstone"
	"github.com/sessionstore/sessionstore/internal/touch"
)

// Conn runs statements: a connection pool or a transaction, as an ORM
// exposes it. Implementations pass args to the driver as bind parameters.
type Conn interface {
	// Exec runs a statement that returns no rows and reports how many rows
	// it affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// Query runs a statement that returns rows.
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	// InTx runs fn in one transaction, committed if fn returns nil.
	InTx(ctx context.Context, fn func(tx Conn) error) error
}

// DefaultTimeout bounds, when Config.Timeout is not positive, the
// operations that run detached from the caller's cancellation (Delete, so
// that a logout cannot half-happen, and the revokes of the per-user index)
// and each cleanup batch. It is pgstore's DefaultTimeout.
const DefaultTimeout = 10 * time.Second

// pageSize is the number of sessions one Sessions query reads.
const pageSize = 1000

// Config configures a Store: Open's Options and Module, checked. Zero
// fields mean the defaults.
type Config struct {
	Name      string // store name, the prefix of errors and logs ("gormstore")
	BatchSize int    // rows per cleanup batch; 0 means cleanup.DefaultBatchSize
	MaxSize   int    // largest data accepted in bytes; 0 means no limit
	// Timeout, if positive, bounds every database operation. Zero (or
	// negative) leaves the reads and Commit to the caller's context, and
	// bounds the detached operations and each cleanup batch by
	// DefaultTimeout.
	Timeout time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
	// Policy is the tombstone rule (lifetime and clock-skew allowance),
	// from the module's Config.TombstoneLifetime and Config.ClockSkew.
	Policy tombstone.Policy
	// Owner, if set, turns the per-user index on (see index.go): Commit
	// writes the owner it reads from the data, and the UserIndex methods
	// work. Nil leaves the store exactly as without the index: the same
	// statements on the same three columns.
	Owner sessionstore.OwnerFunc
	// Touch, if not nil, coalesces touches (the module's Config.TouchWindow,
	// see internal/touch): Find reads the expiry too and records what it
	// read, and a Commit that Touch.Skip allows makes no round trip. Nil
	// leaves the store exactly as without it: the same statements.
	Touch *touch.View
	// Transient, if set, reports errors worth running a statement again for
	// besides those Transient (the function) recognises: a MySQL or MariaDB
	// deadlock, which only the driver's error type tells apart.
	Transient func(error) bool
	// BeforeBackfill, if set, is called by the backfill after it has read
	// each page and before it indexes its rows (for tests).
	BeforeBackfill func()
}

// Store is the store logic shared by gormstore and bunstore on MySQL,
// MariaDB and SQLite. Open makes one.
type Store struct {
	conn Conn
	st   *Statements
	cfg  Config
	mod  Module
	loop *cleanup.Loop
	// tomb reports whether the tombstone table exists. A store without it
	// is degraded: it logs at ERROR on every cleanup run, and looks for the
	// table again on every cleanup run and, at most once per
	// RecheckInterval of the store's clock, on the request path.
	tomb atomic.Bool
	// probed is when (cfg.Now, Unix nanoseconds) a degraded store last
	// looked for its tombstone table on the request path.
	probed atomic.Int64
}

// newStore returns a store that runs st's statements on conn, without its
// tombstone table until Open has found it.
func newStore(conn Conn, st *Statements, cfg Config) *Store {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Timeout < 0 {
		cfg.Timeout = 0
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = cleanup.DefaultBatchSize
	}
	if cfg.Policy == (tombstone.Policy{}) {
		cfg.Policy, _ = tombstone.New(0, 0) // the defaults
	}
	s := &Store{conn: conn, st: st, cfg: cfg}
	s.probed.Store(cfg.Now().UnixNano())
	return s
}

// EnableTombstones tells the store that its tombstone table now exists.
func (s *Store) EnableTombstones() { s.tomb.Store(true) }

// withTimeout bounds ctx by Config.Timeout, if it is positive.
func (s *Store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.cfg.Timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.cfg.Timeout)
}

// bounded is the timeout of an operation that does not depend on the
// caller's context: Config.Timeout if positive, else DefaultTimeout.
func (s *Store) bounded() time.Duration {
	if s.cfg.Timeout > 0 {
		return s.cfg.Timeout
	}
	return DefaultTimeout
}

// detached returns a context that ctx's cancellation does not reach,
// bounded by bounded(), for the operations that must complete once begun.
func (s *Store) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.bounded())
}

func (s *Store) errorf(op string, err error) error {
	return fmt.Errorf("%s: %s: %w", s.cfg.Name, op, err)
}

// Find returns the data of a live session. With Config.Touch it reads the
// expiry too and records the session in the local view; a session it does
// not find, or an error, drops the token from the view.
func (s *Store) Find(ctx context.Context, token string) ([]byte, bool, error) {
	if !sessionstore.ValidToken(token) {
		return nil, false, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, false, s.errorf("find", err)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	s.recheck(ctx)
	data, expiry, found, err := s.find(ctx, token)
	switch {
	case s.cfg.Touch == nil:
	case found:
		s.cfg.Touch.Saw(token, data, expiry)
	default:
		s.cfg.Touch.Forget(token)
	}
	return data, found, err
}

// find runs the Find statement: with Config.Touch, the one that also
// yields the expiry.
func (s *Store) find(ctx context.Context, token string) (data []byte, expiry time.Time, found bool, err error) {
	tomb := s.tomb.Load()
	var q string
	switch {
	case s.cfg.Touch != nil && tomb:
		q = s.st.FindExpiry
	case s.cfg.Touch != nil:
		q = s.st.FindExpiryPlain
	case tomb:
		q = s.st.Find
	default:
		q = s.st.FindPlain
	}
	rows, err := s.conn.Query(ctx, q, token, s.st.Time(s.cfg.Now()))
	if err != nil {
		return nil, time.Time{}, false, s.errorf("find", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, time.Time{}, false, s.errorf("find", err)
		}
		return nil, time.Time{}, false, nil
	}
	if s.cfg.Touch != nil {
		var exp timeScanner
		err = rows.Scan(&data, &exp)
		expiry = exp.t
	} else {
		err = rows.Scan(&data)
	}
	if err != nil {
		return nil, time.Time{}, false, s.errorf("find", err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, expiry, true, nil
}

// Commit inserts or replaces a session in one statement, unless the token
// has been deleted. With Config.Touch, a Commit the local view allows to
// skip (same data, expiry later by less than the window) makes no round
// trip; one that wrote is recorded in the view, and one whose outcome is
// not a write (an error, a tombstone) drops the token from it.
func (s *Store) Commit(ctx context.Context, token string, data []byte, expiry time.Time) error {
	if !sessionstore.ValidToken(token) {
		return s.errorf("commit", sessionstore.ErrInvalidToken)
	}
	if err := sessionstore.CheckSize(data, s.cfg.MaxSize); err != nil {
		return s.errorf("commit", err)
	}
	if err := sessionstore.CheckExpiry(expiry); err != nil {
		return s.errorf("commit", err)
	}
	if data == nil {
		data = []byte{} // NOT NULL column
	}
	if s.cfg.Touch != nil && s.cfg.Touch.Skip(token, data, expiry, s.cfg.Now()) {
		return nil
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var n int64
	var err error
	if s.cfg.Owner != nil {
		n, err = s.commitIndexed(ctx, token, data, expiry)
	} else {
		n, err = s.commit(ctx, token, data, expiry)
	}
	switch {
	case s.cfg.Touch == nil:
	case err == nil && n > 0:
		s.cfg.Touch.Saw(token, data, expiry)
	default:
		// An error leaves the row unknown; no row affected is a tombstone
		// (or, on MySQL, a row that already held these values).
		s.cfg.Touch.Forget(token)
	}
	return err
}

// commit is Commit without the index, once the arguments are checked. It
// returns the rows the statement affected: 0 when the token is tombstoned.
func (s *Store) commit(ctx context.Context, token string, data []byte, expiry time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, s.errorf("commit", err)
	}
	s.recheck(ctx)
	exp := s.st.Time(expiry)
	var n int64
	err := s.retry(ctx, func() error {
		var err error
		if s.tomb.Load() {
			n, err = s.conn.Exec(ctx, s.st.Commit, token, data, exp, token)
		} else {
			n, err = s.conn.Exec(ctx, s.st.CommitPlain, token, data, exp)
		}
		return err
	})
	if err != nil {
		return 0, s.errorf("commit", err)
	}
	return n, nil
}

// Delete removes a session and records its tombstone, in one transaction,
// on a context that the caller's cancellation does not reach, bounded by
// Config.Timeout or DefaultTimeout. The tombstone blocks Commits of the
// token until the later of the session's expiry and the Delete time plus
// the policy's lifetime; a Delete of a token without a session writes
// none.
func (s *Store) Delete(ctx context.Context, token string) error {
	if !sessionstore.ValidToken(token) {
		return nil
	}
	s.cfg.Touch.Forget(token)
	ctx, cancel := s.detached(ctx)
	defer cancel()
	s.recheck(ctx)
	until := s.st.Time(s.cfg.Policy.Until(s.cfg.Now()))
	err := s.retry(ctx, func() error {
		if !s.tomb.Load() {
			_, err := s.conn.Exec(ctx, s.st.Delete, token)
			return err
		}
		return s.conn.InTx(ctx, func(tx Conn) error {
			epoch := s.st.Time(Epoch)
			if s.st.Claim != "" {
				if _, err := tx.Exec(ctx, s.st.Claim, token, epoch); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, s.st.Tombstone, until, token); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, s.st.Delete, token); err != nil {
				return err
			}
			if s.st.Unclaim != "" {
				_, err := tx.Exec(ctx, s.st.Unclaim, token, epoch)
				return err
			}
			return nil
		})
	})
	if err != nil {
		return s.errorf("delete", err)
	}
	return nil
}

// All returns every live session in a non-nil map.
func (s *Store) All(ctx context.Context) (map[string][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.errorf("all", err)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	s.recheck(ctx)
	q := s.st.AllPlain
	if s.tomb.Load() {
		q = s.st.All
	}
	rows, err := s.conn.Query(ctx, q, s.st.Time(s.cfg.Now()))
	if err != nil {
		return nil, s.errorf("all", err)
	}
	defer rows.Close()
	all := make(map[string][]byte)
	for rows.Next() {
		var token string
		var data []byte
		if err := rows.Scan(&token, &data); err != nil {
			return nil, s.errorf("all", err)
		}
		if data == nil {
			data = []byte{}
		}
		all[token] = data
	}
	if err := rows.Err(); err != nil {
		return nil, s.errorf("all", err)
	}
	return all, nil
}
