package pgcore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/cleanup"
	"github.com/sessionstore/sessionstore/internal/tombstone"
	"github.com/sessionstore/sessionstore/internal/touch"
)

// Options configure a Store. The store module validates its own Config
// and fills these in; the zero value of a field means its default, as in
// the store modules' Config.
type Options struct {
	// Name prefixes every error and log message ("pgstore").
	Name string
	// Table is the sessions table, optionally schema-qualified; it must
	// pass ParseTable, or with WholeName, TableNames' check of one whole
	// identifier.
	Table     string
	WholeName bool
	// Columns name the tables' columns where they are not SCS's.
	Columns Columns
	// CreateTable runs Migrate in Open.
	CreateTable bool
	// EnsureTable makes Open create the sessions table with its expiry
	// index (and, with Owner, the index columns and the owner index) if it
	// does not exist, before it checks the tombstone table. An existing
	// table gets no DDL, so a role that may use the tables but not create
	// them can open a store on tables made for it.
	EnsureTable bool
	// IndexLater, with Owner, makes Open leave the index columns
	// unchecked: the caller runs MigrateIndex next.
	IndexLater bool
	// OpenTimeout, if positive, bounds each statement of Open's schema
	// checks. Default: the bound of the operations that ignore the
	// caller's cancellation (see Timeout).
	OpenTimeout time.Duration
	// MigrateHint is what the error of a table without the index columns
	// tells the user to run. Default: pgstore's Migrate.
	MigrateHint string
	// AllowNoTombstones lets Open return a store that runs without its
	// tombstone table when it cannot be used.
	AllowNoTombstones bool
	// Lenient makes Open leave the tombstone check to the first operation
	// when the database cannot be reached (an SCS constructor, which has
	// no error to return).
	Lenient bool
	// Timeout, if positive, bounds every operation; DefaultTimeout bounds
	// those that ignore the caller's cancellation (Delete, cleanup batches,
	// the schema checks) when it is not set.
	Timeout, DefaultTimeout time.Duration
	// MaxDataSize, if positive, is the largest session Commit accepts.
	MaxDataSize int
	// CleanupBatchSize is the most rows a cleanup transaction deletes.
	// Default: cleanup.DefaultBatchSize.
	CleanupBatchSize int
	// PageSize is the number of sessions Sessions reads per query.
	PageSize int
	// TombstoneLifetime and ClockSkew are the tombstone policy's.
	TombstoneLifetime, ClockSkew time.Duration
	// TouchWindow, if positive, coalesces touches (see internal/touch).
	TouchWindow time.Duration
	// Owner turns the per-user index on.
	Owner sessionstore.OwnerFunc
	// AsyncCommit makes a Commit run with synchronous_commit off, for its
	// own transaction only (see Pipeliner).
	AsyncCommit bool
	// Now is the application's clock. Default: time.Now.
	Now func() time.Time
	// Logger. Default: slog.Default().
	Logger *slog.Logger
	// Mono, if set, replaces time.Now as the clock of the tombstone
	// re-checks (Store.Mono). gormstore and bunstore set their Config.Now,
	// which timed those re-checks before they ran on the core.
	Mono func() time.Time
	// MigrateIndex, with Owner set, makes Open run the index part of
	// Migrate (the columns, the owner index, the backfill) on a sessions
	// table that exists, instead of failing when its columns are missing.
	// gormstore and bunstore open this way.
	MigrateIndex bool
}

// Store keeps the store contract on a PostgreSQL database reached through
// a DB. It is safe for concurrent use. The exported fields are set by Open;
// only tests change them, before the store's first round trip (see Open's
// setup).
type Store struct {
	Names Names
	Q     Queries
	Ix    IndexQueries // the index's statements, when the index is on

	// OnBatch, if set, sees the row count of every cleanup batch.
	OnBatch func(table string, n int64)
	// BackfillBatch, if positive, replaces the backfill's batch size, and
	// OnBackfill, if set, is called between the read and the write of each
	// backfill batch.
	BackfillBatch int
	OnBackfill    func(batch int, tokens []string)
	// Mono is the clock of the tombstone re-checks: time.Now.
	Mono func() time.Time

	db       DB
	pipe     Pipeliner // db's, or nil
	name     string
	now      func() time.Time
	log      *slog.Logger
	timeout  time.Duration
	bound    time.Duration // the timeout of operations that ignore the caller's
	maxData  int
	batch    int
	pageSize int
	policy   tombstone.Policy
	owner    sessionstore.OwnerFunc // nil: the per-user index is off
	touch    *touch.View            // nil: Options.TouchWindow is 0
	async    bool
	stamped  bool   // the table has Columns.Created or Modified
	hint     string // Options.MigrateHint

	tomb     atomic.Int32 // TombUnknown, TombOn or TombOff
	tombNext atomic.Int64 // while TombOff: when (Mono, Unix ns) the request path checks again
	tombMu   sync.Mutex   // serialises tombstone checks
	legacy   atomic.Bool  // the server predates MERGE (PostgreSQL 15): use Q.CommitLegacy
}

// Open returns a store on db configured by o: with o.CreateTable it runs
// Migrate, and otherwise (with o.EnsureTable, after creating the sessions
// table if it does not exist) checks the tombstone table (creating it if
// it is missing and the role may) and, with o.Owner, the index columns.
// setup functions, for tests, see the store before its first round trip.
func Open(db DB, o Options, setup ...func(*Store)) (*Store, error) {
	names, err := TableNames(o.Name, o.Table, o.WholeName, o.Columns)
	if err != nil {
		return nil, err
	}
	policy, err := tombstone.New(o.TombstoneLifetime, o.ClockSkew)
	if err != nil {
		return nil, fmt.Errorf("%s: config: %w", o.Name, err)
	}
	view, err := touch.New(o.TouchWindow)
	if err != nil {
		return nil, fmt.Errorf("%s: config: %w", o.Name, err)
	}
	s := &Store{
		Names:    names,
		Q:        BuildQueries(names),
		Mono:     time.Now,
		db:       db,
		name:     o.Name,
		now:      o.Now,
		log:      o.Logger,
		timeout:  o.Timeout,
		bound:    o.DefaultTimeout,
		maxData:  o.MaxDataSize,
		batch:    o.CleanupBatchSize,
		pageSize: o.PageSize,
		policy:   policy,
		owner:    o.Owner,
		touch:    view,
		async:    o.AsyncCommit,
		stamped:  names.Cols.stamped(),
		hint:     o.MigrateHint,
	}
	s.pipe, _ = db.(Pipeliner)
	if o.Timeout > 0 {
		s.bound = o.Timeout
	}
	if s.owner != nil {
		s.Ix = BuildIndexQueries(names)
		s.Q.Commit, s.Q.CommitLegacy, s.Q.CommitPlain = s.Ix.Commit, s.Ix.CommitLegacy, s.Ix.CommitPlain
		s.Q.Update, s.Q.UpdatePlain = s.Ix.Update, s.Ix.UpdatePlain
		s.Q.Migrate = s.Ix.Migrate + "\n" + s.Q.Migrate
		s.Q.Ensure = s.Ix.Migrate
	}
	if s.hint == "" {
		s.hint = "Migrate (a store made with Config.CreateTable does) or the SQL of docs/index.md"
	}
	if o.Mono != nil {
		s.Mono = o.Mono
	}
	for _, f := range setup {
		f(s)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.batch <= 0 {
		s.batch = cleanup.DefaultBatchSize
	}
	if s.pageSize <= 0 {
		s.pageSize = 1000
	}
	if o.CreateTable {
		if err := s.Migrate(context.Background()); err != nil {
			return nil, err
		}
		return s, nil
	}
	openTimeout := s.bound
	if o.OpenTimeout > 0 {
		openTimeout = o.OpenTimeout
	}
	if o.EnsureTable {
		ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
		_, err := db.Exec(ctx, s.Q.Ensure)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%s: creating %s: %w", s.name, names.Display, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	_, why, err := s.checkTombstones(ctx, true)
	cancel()
	switch {
	case err != nil && !o.Lenient:
		return nil, fmt.Errorf("%s: checking the tombstone table of %s: %w", s.name, names.Display, err)
	case err != nil: // the first operation checks again
	case why != nil && !o.AllowNoTombstones:
		return nil, fmt.Errorf("%s: %s: %w: %w", s.name, names.Display, sessionstore.ErrNoTombstones, why)
	case why != nil:
		s.logDegraded(why)
	}
	if s.owner != nil && !o.IndexLater {
		var err error
		if o.MigrateIndex {
			err = s.openIndex()
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
			err = s.checkIndex(ctx)
			cancel()
		}
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Batch is the cleanup batch size.
func (s *Store) Batch() int { return s.batch }

// SetLegacy makes Commit run Q.CommitLegacy (on), as on a server before
// PostgreSQL 15, or Q.Commit; the tombstone check sets it from the
// server's version.
func (s *Store) SetLegacy(on bool) { s.legacy.Store(on) }

// Legacy reports whether Commit runs Q.CommitLegacy.
func (s *Store) Legacy() bool { return s.legacy.Load() }

// withTimeout applies Options.Timeout, if any, to ctx.
func (s *Store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// Find returns the data of a live session. found is false, with a nil
// error, for an unknown, expired, deleted or malformed token, and for a row
// whose token has a tombstone; err is only for failures.
func (s *Store) Find(ctx context.Context, token string) (b []byte, found bool, err error) {
	if !sessionstore.ValidToken(token) {
		return nil, false, nil // no session manager issued it: no round trip
	}
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	tomb, err := s.useTombstones(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("%s: find: %w", s.name, err)
	}
	// With a touch window, Find reads the expiry too and records what it
	// read in the local view, which decides whether the request's Commit
	// can be skipped; without it, it runs the statement it always ran.
	var q string
	switch {
	case s.touch != nil && tomb:
		q = s.Q.FindExpiry
	case s.touch != nil:
		q = s.Q.FindExpiryPlain
	case tomb:
		q = s.Q.Find
	default:
		q = s.Q.FindPlain
	}
	var expiry time.Time
	row := s.db.QueryRow(ctx, q, token, micro(s.now()))
	if s.touch != nil {
		err = row.Scan(&b, &expiry)
	} else {
		err = row.Scan(&b)
	}
	if err != nil {
		s.touch.Forget(token)
		if isNoRows(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("%s: find: %w", s.name, err)
	}
	if b == nil {
		b = []byte{}
	}
	s.touch.Saw(token, b, expiry)
	return b, true, nil
}

// commitAttempts bounds how often Commit re-runs its statement after it
// changed no row (see Commit).
const commitAttempts = 3

// Commit stores b under token until expiry, in one statement, unless the
// token has a tombstone (a no-op that returns nil).
//
// The statement updates the row its snapshot sees, if that row still
// exists once locked, or else inserts the session if the snapshot holds
// neither the row nor its tombstone. A row that vanished in between was
// removed by a concurrent Delete or cleanup: the statement then changes
// nothing and is run again with a fresh snapshot, which sees the tombstone
// of a Delete (a no-op, as it must be) and no tombstone after a cleanup (the
// session is inserted anew). Two Commits inserting the same new token at
// once make one of them fail with a unique violation; it too runs again, and
// updates the row the other inserted.
func (s *Store) Commit(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if !sessionstore.ValidToken(token) {
		return fmt.Errorf("%s: commit: %w", s.name, sessionstore.ErrInvalidToken)
	}
	if err := sessionstore.CheckSize(b, s.maxData); err != nil {
		return fmt.Errorf("%s: commit: %w", s.name, err)
	}
	if err := sessionstore.CheckExpiry(expiry); err != nil {
		return fmt.Errorf("%s: commit: %w", s.name, err)
	}
	if b == nil {
		b = []byte{} // drivers send a nil slice as NULL; data is NOT NULL
	}
	if s.touch.Skip(token, b, expiry, s.now()) {
		return nil
	}
	err := s.commit(ctx, token, b, expiry)
	if err != nil {
		s.touch.Forget(token) // the row may or may not hold b now
	}
	return err
}

// commit is Commit once the arguments are checked and the Commit is not
// skipped. It records a write in the local view.
func (s *Store) commit(ctx context.Context, token string, b []byte, expiry time.Time) error {
	var ix indexArgs
	if s.owner != nil {
		var err error
		if ix, err = s.indexArgs(ctx, b); err != nil {
			return fmt.Errorf("%s: commit: %w", s.name, err)
		}
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tomb, err := s.useTombstones(ctx)
	if err != nil {
		return fmt.Errorf("%s: commit: %w", s.name, err)
	}
	if !tomb {
		if _, err := s.execCommit(ctx, s.Q.CommitPlain, token, b, expiry, &ix, s.stamped); err != nil {
			return fmt.Errorf("%s: commit: %w", s.name, err)
		}
		s.touch.Saw(token, b, expiry)
		return nil
	}
	q := s.Q.Commit
	if s.legacy.Load() {
		q = s.Q.CommitLegacy
	}
	for attempt := 1; attempt <= commitAttempts; attempt++ {
		n, err := s.execCommit(ctx, q, token, b, expiry, &ix, s.stamped)
		switch {
		case err == nil && n > 0:
			s.touch.Saw(token, b, expiry)
			return nil
		case IsUniqueViolation(err) && attempt < commitAttempts:
			// A concurrent Commit inserted the token first: run again.
		case err != nil:
			return fmt.Errorf("%s: commit: %w", s.name, err)
		}
	}
	s.touch.Forget(token)
	return nil // tombstoned
}

// asyncCommit turns off the WAL flush wait for the rest of the transaction
// it runs in (is_local): the Commit's statement, run after it in the same
// transaction.
const asyncCommit = `SELECT set_config('synchronous_commit', 'off', true)`

// execCommit runs a commit or update statement: with the index columns
// when the index is on, else with the store's clock if now (the table's
// stamps, and Update's liveness check), and with Options.AsyncCommit after
// asyncCommit in one transaction: one implicit transaction and round trip
// through a Pipeliner, or else an explicit one. Either way the setting
// ends with the Commit and never reaches another statement on the
// connection.
func (s *Store) execCommit(ctx context.Context, q, token string, b []byte, expiry time.Time, ix *indexArgs, now bool) (int64, error) {
	expiry = micro(expiry)
	switch {
	case !s.async && !ix.on && !now:
		return s.db.Exec(ctx, q, token, b, expiry)
	case !s.async && !ix.on:
		return s.db.Exec(ctx, q, token, b, expiry, micro(s.now()))
	case !s.async:
		return s.db.Exec(ctx, q, token, b, expiry, ix.owner, ix.now, ix.ua, ix.ip)
	}
	args := []any{token, b, expiry}
	switch {
	case ix.on:
		args = append(args, ix.owner, ix.now, ix.ua, ix.ip)
	case now:
		args = append(args, micro(s.now()))
	}
	if s.pipe != nil {
		return s.pipe.ExecAfter(ctx, asyncCommit, q, args...)
	}
	var n int64
	err := s.db.InTx(ctx, func(tx Conn) error {
		if _, err := tx.Exec(ctx, asyncCommit); err != nil {
			return err
		}
		var err error
		n, err = tx.Exec(ctx, q, args...)
		return err
	})
	return n, err
}

// Update replaces the data and expiry of the live session token and
// reports whether there was one: not expired by the store's clock and,
// while the store uses its tombstone table, without a tombstone. It never
// inserts a row, so a write of a session that a request loaded before its
// Delete or its expiry never brings it back, however late it runs and
// whatever the tombstones hold by then. An invalid token updates nothing;
// data over MaxDataSize and an expiry out of range are errors, and
// nothing is written.
func (s *Store) Update(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	if !sessionstore.ValidToken(token) {
		return false, nil // cannot exist
	}
	if err := sessionstore.CheckSize(b, s.maxData); err != nil {
		return false, fmt.Errorf("%s: update: %w", s.name, err)
	}
	if err := sessionstore.CheckExpiry(expiry); err != nil {
		return false, fmt.Errorf("%s: update: %w", s.name, err)
	}
	if b == nil {
		b = []byte{} // data is NOT NULL
	}
	if s.touch.Skip(token, b, expiry, s.now()) {
		return true, nil
	}
	var ix indexArgs
	if s.owner != nil {
		var err error
		if ix, err = s.indexArgs(ctx, b); err != nil {
			return false, fmt.Errorf("%s: update: %w", s.name, err)
		}
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tomb, err := s.useTombstones(ctx)
	if err != nil {
		return false, fmt.Errorf("%s: update: %w", s.name, err)
	}
	q := s.Q.UpdatePlain
	if tomb {
		q = s.Q.Update
	}
	n, err := s.execCommit(ctx, q, token, b, expiry, &ix, true)
	if err != nil || n == 0 {
		s.touch.Forget(token)
		if err != nil {
			return false, fmt.Errorf("%s: update: %w", s.name, err)
		}
		return false, nil
	}
	s.touch.Saw(token, b, expiry)
	return true, nil
}

// Delete removes a session and records its tombstone, lasting until the
// later of the session's expiry and now plus the tombstone lifetime. A
// token without a session gets no tombstone. It is idempotent, and is not
// abandoned when ctx is cancelled (see detach).
func (s *Store) Delete(ctx context.Context, token string) error {
	if !sessionstore.ValidToken(token) {
		return nil // cannot exist
	}
	ctx, cancel, tomb, err := s.detach(ctx)
	defer cancel()
	if err == nil {
		err = s.db.OnConn(ctx, func(c Conn) error {
			if !tomb {
				_, err := c.Exec(ctx, s.Q.DelPlain, token)
				return err
			}
			until := micro(s.policy.Until(s.now()))
			_, err := c.Exec(ctx, s.Q.Del, token, until)
			if IsUniqueViolation(err) {
				// The token already has a tombstone, yet its session was
				// back: a writer that ignores tombstones recreated it.
				_, err = c.Exec(ctx, s.Q.DelUpsert, token, until)
			}
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("%s: delete: %w", s.name, err)
	}
	return nil
}

// detach prepares a deletion (Delete, and the deletions of the per-user
// index), which then runs on one connection (DB.OnConn) with the returned
// context: ctx's values with the store's own timeout and without ctx's
// cancellation, because a logout that half-happens is a security bug. An
// error of a statement that runs out of time matches
// context.DeadlineExceeded. tomb says whether the deletion may use the
// tombstone table; a check, when one is due, runs here, before the
// connection is taken, so that a pool of one connection never waits for
// itself.
func (s *Store) detach(ctx context.Context) (_ context.Context, _ context.CancelFunc, tomb bool, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.bound)
	tomb, known := s.tombFast()
	if !known { // first use, or a check is due: find out within the same timeout
		tomb, err = s.useTombstones(ctx)
	}
	return ctx, cancel, tomb, err
}

// DB is the database the store runs on.
func (s *Store) DB() DB { return s.db }
