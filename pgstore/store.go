package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/cleanup"
	"github.com/sessionstore/sessionstore/internal/tombstone"
	"github.com/sessionstore/sessionstore/internal/touch"
)

// PostgresStore is a session store backed by a PostgreSQL table. It has the
// name and methods of SCS's pgxstore.PostgresStore, plus DeleteExpired,
// Sessions and Migrate. It is safe for concurrent use.
type PostgresStore struct {
	pool     *pgxpool.Pool
	names    tableNames
	q        queries
	now      func() time.Time
	log      *slog.Logger
	timeout  time.Duration
	maxData  int
	batch    int
	pageSize int
	policy   tombstone.Policy
	loop     *cleanup.Loop
	owner    sessionstore.OwnerFunc // nil: the per-user index is off
	ix       indexQueries           // the index's statements, when owner is set
	touch    *touch.View            // nil: Config.TouchWindow is 0
	async    bool                   // Config.AsyncCommit

	tomb     atomic.Int32     // tombUnknown, tombOn or tombOff
	tombNext atomic.Int64     // while tombOff: when (mono, Unix ns) the request path checks again
	tombMu   sync.Mutex       // serialises tombstone checks
	mono     func() time.Time // the clock of tombNext: time.Now; tests move it
	legacy   atomic.Bool      // the server predates MERGE (PostgreSQL 15): use q.commitLegacy

	// onBatch, set only by tests, sees the row count of every cleanup batch.
	onBatch func(table string, n int64)
	// backfillBatch, if positive, replaces the backfill's batch size, and
	// onBackfill, if set, is called between the read and the write of each
	// backfill batch; both only by tests.
	backfillBatch int
	onBackfill    func(batch int, tokens []string)
}

// New returns a store on SCS's default table "sessions", with a background
// goroutine that deletes expired sessions every 5 minutes. The table must
// exist (see Migrate); the tombstone table "sessions_tombstones" is created
// now if it is missing and the role may. An application on SCS's pgxstore
// switches by changing its import. New panics if pool is nil.
//
// New has no error to return, so when the tombstone table is missing and
// cannot be created it runs without tombstones, as NewWithConfig does with
// Config.AllowNoTombstones: a request in flight at logout can then bring
// the session back. It logs that at ERROR now and on every cleanup run,
// checks again at most once a minute, and uses the table as soon as it
// exists. Prefer NewWithConfig, which refuses to run that way. If the
// database cannot be reached now, the first operation checks instead.
func New(pool *pgxpool.Pool) *PostgresStore {
	return NewWithCleanupInterval(pool, DefaultCleanupInterval)
}

// NewWithCleanupInterval is New with another cleanup interval. An interval
// of 0 starts no cleanup goroutine (expired sessions are then never deleted,
// unless you call DeleteExpired yourself). Like New, it panics if pool is
// nil; NewWithConfig returns an error instead.
func NewWithCleanupInterval(pool *pgxpool.Pool, cleanupInterval time.Duration) *PostgresStore {
	if cleanupInterval <= 0 {
		cleanupInterval = -1
	}
	s, err := newStore(pool, Config{CleanupInterval: cleanupInterval, AllowNoTombstones: true}, true)
	if err != nil { // only a nil pool: the default table name is valid
		panic(err)
	}
	return s
}

// NewWithConfig returns a store configured by cfg, whose zero fields mean
// their defaults. It checks the tombstone table (creating it if it is
// missing and the role may; the sessions table itself may be created later,
// by Migrate), so it needs the database. It fails if the table name or a
// duration is invalid, if the database cannot be reached, with
// cfg.CreateTable if the tables cannot be created, and with an error
// matching sessionstore.ErrNoTombstones if the tombstone table cannot be
// used, unless cfg.AllowNoTombstones. The cleanup goroutine, if any, is
// started last; stop it with StopCleanup.
func NewWithConfig(pool *pgxpool.Pool, cfg Config) (*PostgresStore, error) {
	return newStore(pool, cfg, false)
}

// newStore is NewWithConfig; lenient (New) leaves the tombstone check to
// the first operation when the database cannot be reached. Tests pass
// setup, which sees the store before its first round trip.
func newStore(pool *pgxpool.Pool, cfg Config, lenient bool, setup ...func(*PostgresStore)) (*PostgresStore, error) {
	if pool == nil {
		return nil, errNilPool
	}
	names, err := parseTable(cfg.Table)
	if err != nil {
		return nil, err
	}
	policy, err := tombstone.New(cfg.TombstoneLifetime, cfg.ClockSkew)
	if err != nil {
		return nil, fmt.Errorf("pgstore: config: %w", err)
	}
	view, err := touch.New(cfg.TouchWindow)
	if err != nil {
		return nil, fmt.Errorf("pgstore: config: %w", err)
	}
	s := &PostgresStore{
		pool:     pool,
		names:    names,
		q:        buildQueries(names),
		now:      cfg.Now,
		log:      cfg.Logger,
		timeout:  cfg.Timeout,
		maxData:  cfg.MaxDataSize,
		batch:    cfg.CleanupBatchSize,
		pageSize: DefaultPageSize,
		policy:   policy,
		mono:     time.Now,
		owner:    cfg.Owner,
		touch:    view,
		async:    cfg.AsyncCommit,
	}
	if s.owner != nil {
		s.ix = buildIndexQueries(names)
		s.q.commit, s.q.commitLegacy, s.q.commitPlain = s.ix.commit, s.ix.commitLegacy, s.ix.commitPlain
		s.q.migrate = s.ix.migrate + "\n" + s.q.migrate
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
	if cfg.CreateTable {
		if err := s.Migrate(context.Background()); err != nil {
			return nil, err
		}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), s.bounded())
		_, why, err := s.checkTombstones(ctx, true)
		cancel()
		switch {
		case err != nil && !lenient:
			return nil, fmt.Errorf("pgstore: checking the tombstone table of %s: %w", names.display, err)
		case err != nil: // New: the first operation checks again
		case why != nil && !cfg.AllowNoTombstones:
			return nil, fmt.Errorf("pgstore: %s: %w: %w", names.display, sessionstore.ErrNoTombstones, why)
		case why != nil:
			s.logDegraded(why)
		}
		if s.owner != nil {
			if err := s.checkIndex(); err != nil {
				return nil, err
			}
		}
	}
	interval := cfg.CleanupInterval
	if interval == 0 {
		interval = DefaultCleanupInterval
	}
	s.loop = cleanup.Start(cleanup.Config{
		Name:      "pgstore",
		Interval:  interval,
		Logger:    s.log,
		OnCleanup: cfg.OnCleanup,
	}, s.DeleteExpired)
	return s, nil
}

// StopCleanup stops the background cleanup goroutine and waits for it to
// exit, cancelling a run in progress. Stores normally live as long as the
// program; call it when a store is transient, in tests for example. It is
// safe to call more than once, concurrently, or on a store without cleanup.
func (s *PostgresStore) StopCleanup() { s.loop.Stop() }

// withTimeout applies Config.Timeout, if any, to ctx.
func (s *PostgresStore) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// bounded is the timeout of operations that must not depend on the caller.
func (s *PostgresStore) bounded() time.Duration {
	if s.timeout > 0 {
		return s.timeout
	}
	return DefaultTimeout
}

// Find returns the data of a live session. found is false, with a nil error,
// for an unknown, expired, deleted or malformed token, and for a row whose
// token has a tombstone (one written after the Delete by a writer that
// ignores tombstones); err is only for failures, which are never reported
// as "not found".
func (s *PostgresStore) Find(token string) (b []byte, found bool, err error) {
	return s.FindCtx(context.Background(), token)
}

// FindCtx is Find with a context.
func (s *PostgresStore) FindCtx(ctx context.Context, token string) (b []byte, found bool, err error) {
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
		return nil, false, fmt.Errorf("pgstore: find: %w", err)
	}
	// With Config.TouchWindow, Find reads the expiry too and records what it
	// read in the local view, which decides whether the request's Commit can
	// be skipped; without it, it runs the statement it always ran.
	var q string
	switch {
	case s.touch != nil && tomb:
		q = s.q.findExpiry
	case s.touch != nil:
		q = s.q.findExpiryPlain
	case tomb:
		q = s.q.find
	default:
		q = s.q.findPlain
	}
	var expiry time.Time
	row := s.pool.QueryRow(ctx, q, token, s.now())
	if s.touch != nil {
		err = row.Scan(&b, &expiry)
	} else {
		err = row.Scan(&b)
	}
	if err != nil {
		s.touch.Forget(token)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("pgstore: find: %w", err)
	}
	if b == nil {
		b = []byte{}
	}
	s.touch.Saw(token, b, expiry)
	return b, true, nil
}

// Commit stores data under token until expiry, replacing any earlier data,
// in one statement. A Commit of a token deleted earlier, while its tombstone
// lasts (see Config.TombstoneLifetime), is a no-op that returns nil, so that
// a request still in flight at logout cannot bring the session back. An
// expiry outside [sessionstore.MinExpiry, sessionstore.MaxExpiry], which
// PostgreSQL would not store exactly, gives an error matching
// sessionstore.ErrExpiryOutOfRange and writes nothing.
func (s *PostgresStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// commitAttempts bounds how often CommitCtx re-runs its statement after it
// changed no row (see CommitCtx).
const commitAttempts = 3

// CommitCtx is Commit with a context.
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
func (s *PostgresStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if !sessionstore.ValidToken(token) {
		return fmt.Errorf("pgstore: commit: %w", sessionstore.ErrInvalidToken)
	}
	if err := sessionstore.CheckSize(b, s.maxData); err != nil {
		return fmt.Errorf("pgstore: commit: %w", err)
	}
	if err := sessionstore.CheckExpiry(expiry); err != nil {
		return fmt.Errorf("pgstore: commit: %w", err)
	}
	if b == nil {
		b = []byte{} // pgx sends a nil slice as NULL; data is NOT NULL
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

// commit is CommitCtx once the arguments are checked and the Commit is not
// skipped. It records a write in the local view (Config.TouchWindow).
func (s *PostgresStore) commit(ctx context.Context, token string, b []byte, expiry time.Time) error {
	var ix indexArgs
	if s.owner != nil {
		var err error
		if ix, err = s.indexArgs(ctx, b); err != nil {
			return fmt.Errorf("pgstore: commit: %w", err)
		}
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tomb, err := s.useTombstones(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: commit: %w", err)
	}
	if !tomb {
		if _, err := s.execCommit(ctx, s.q.commitPlain, token, b, expiry, &ix); err != nil {
			return fmt.Errorf("pgstore: commit: %w", err)
		}
		s.touch.Saw(token, b, expiry)
		return nil
	}
	q := s.q.commit
	if s.legacy.Load() {
		q = s.q.commitLegacy
	}
	for attempt := 1; attempt <= commitAttempts; attempt++ {
		tag, err := s.execCommit(ctx, q, token, b, expiry, &ix)
		switch {
		case err == nil && tag.RowsAffected() > 0:
			s.touch.Saw(token, b, expiry)
			return nil
		case isUniqueViolation(err) && attempt < commitAttempts:
			// A concurrent Commit inserted the token first: run again.
		case err != nil:
			return fmt.Errorf("pgstore: commit: %w", err)
		}
	}
	s.touch.Forget(token)
	return nil // tombstoned
}

// Delete removes a session and records a tombstone for it, so that a later
// Commit of the same token is a no-op: the tombstone lasts until the later
// of the session's expiry and now (by Config.Now) plus
// Config.TombstoneLifetime. A token without a session gets no tombstone.
// It is idempotent.
func (s *PostgresStore) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}

// DeleteCtx is Delete with a context. The deletion is not abandoned when ctx
// is cancelled, because a logout that half-happens is a security bug: it
// runs with the store's own timeout (Config.Timeout or DefaultTimeout), and
// one that runs out of time fails with an error matching
// context.DeadlineExceeded. ctx's values (a tracer's span, say) are kept.
func (s *PostgresStore) DeleteCtx(ctx context.Context, token string) error {
	if !sessionstore.ValidToken(token) {
		return nil // cannot exist
	}
	err := s.logout(ctx, s.deleteOn(token))
	if err != nil {
		return fmt.Errorf("pgstore: delete: %w", err)
	}
	return nil
}

// deleteOn returns the statements of Delete of token, for logout.
func (s *PostgresStore) deleteOn(token string) func(ctx context.Context, conn *pgxpool.Conn, tomb bool) error {
	return func(ctx context.Context, conn *pgxpool.Conn, tomb bool) error {
		if !tomb {
			_, err := conn.Exec(ctx, s.q.delPlain, token)
			return err
		}
		until := s.policy.Until(s.now())
		_, err := conn.Exec(ctx, s.q.del, token, until)
		if isUniqueViolation(err) {
			// The token already has a tombstone, yet its session was back:
			// a writer that ignores tombstones recreated it.
			_, err = conn.Exec(ctx, s.q.delUpsert, token, until)
		}
		return err
	}
}

// logout runs the statements of a deletion (Delete, and the deletions of
// the per-user index) on one connection, with the store's own timeout and
// whatever ctx's cancellation: a logout that half-happens is a security
// bug. ctx's values are kept. tomb says whether they may use the tombstone
// table. An error of a statement that ran out of time matches
// context.DeadlineExceeded.
func (s *PostgresStore) logout(ctx context.Context, run func(ctx context.Context, conn *pgxpool.Conn, tomb bool) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.bounded())
	defer cancel()
	tomb, known := s.tombFast()
	if !known { // first use, or a check is due: find out within the same timeout
		var err error
		if tomb, err = s.useTombstones(ctx); err != nil {
			return err
		}
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	return run(ctx, conn, tomb)
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// asyncCommit turns off the WAL flush wait for the rest of the transaction
// it runs in (is_local): the Commit's statement, sent after it in the same
// batch, so in the same implicit transaction and the same round trip.
const asyncCommit = `SELECT set_config('synchronous_commit', 'off', true)`

// execAsync runs q with Config.AsyncCommit: in one batch after asyncCommit.
// A batch's statements share one implicit transaction (one Sync), so the
// setting ends with the Commit and never reaches another statement on the
// connection.
func (s *PostgresStore) execAsync(ctx context.Context, q string, args []any) (pgconn.CommandTag, error) {
	var batch pgx.Batch
	batch.Queue(asyncCommit)
	batch.Queue(q, args...)
	br := s.pool.SendBatch(ctx, &batch)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}
