package memstore

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/cleanup"
	"github.com/sessionstore/sessionstore/internal/tombstone"
)

// errHashCollision is returned (wrapped) by Commit of a token whose hash
// another live token has: nothing is written, and the session manager can
// retry with a fresh token. See the note on hashing in shard.go.
var errHashCollision = errors.New("another session's token has the same hash; use a new token")

// DefaultCleanupInterval is how often New removes expired sessions.
const DefaultCleanupInterval = time.Minute

// DefaultCleanupBatchSize is much smaller than the SQL stores' 1,000 rows:
// in memory a batch is how long a shard stays locked, and a Find that lands
// on that shard (one in 64) waits for the rest of it. Each removal is a
// cache miss or two, 0.4–2 µs on a busy 2-core machine, so 64 removals hold
// a shard for tens of microseconds, 256 for up to half a millisecond.
const DefaultCleanupBatchSize = 64

// numShards is the number of independently locked parts of the map. A power
// of two, large enough that 64 goroutines rarely meet on one lock.
const (
	shardBits = 6
	numShards = 1 << shardBits
)

// Config configures a MemStore. The zero value means the defaults.
type Config struct {
	// CleanupInterval is how often expired sessions and tombstones are
	// removed in the background: 0 means DefaultCleanupInterval, a negative
	// value means never (call DeleteExpired yourself).
	CleanupInterval time.Duration
	// CleanupBatchSize bounds how many entries one cleanup step removes while
	// it holds a shard's lock. 0 means DefaultCleanupBatchSize; a negative
	// value is an error.
	CleanupBatchSize int
	// TombstoneLifetime is how long after a Delete, at least, a Commit of
	// the deleted token is ignored: the tombstone a Delete leaves lasts
	// until the later of the session's expiry and the Delete time plus
	// TombstoneLifetime, so that a request still in flight at logout, whose
	// Commit carries a new expiry, cannot bring the session back. 0 means
	// sessionstore.DefaultTombstoneLifetime (an hour); a negative value is
	// an error (it would undo logouts). A request that runs longer than
	// this after the logout can still bring the session back: keep the
	// http.Server's read, write and idle timeouts well inside it.
	TombstoneLifetime time.Duration
	// ClockSkew is how long past its expiry a tombstone is kept before
	// cleanup removes it. A MemStore is one process with one clock, so it
	// needs no allowance, but it keeps the one every store keeps:
	// tombstones last as long as in the other stores. 0 means
	// sessionstore.DefaultClockSkew (15 minutes); a negative value is an
	// error.
	ClockSkew time.Duration
	// MaxSessions, if positive, bounds the number of sessions and tombstones
	// the store holds, all shards together: a store with MaxSessions 10
	// holds 10 sessions. 0 means no bound; a negative value is an error.
	// When a Commit or Delete would exceed it, entries
	// are evicted, whatever their expiries: first sessions created and
	// never used again (a flood; they go first while they are at least a
	// tenth of the entries, so that a new user's next request has time to
	// come), then tombstones, oldest first, then the sessions least used
	// of late. Eviction takes from the shard the new entry went to, and
	// from the others only if that one has nothing else; shards are chosen
	// by a secret hash, so a shard's oldest tombstone is among the store's
	// oldest.
	//
	// A tombstone evicted early no longer blocks a late Commit of its
	// token: a request in flight at that logout could bring the session
	// back. Tombstones still go before sessions in use, because evicting
	// one matters only if a request that began before that logout is still
	// running (the server's timeouts bound that, far inside the tombstone
	// lifetime, and the oldest tombstone is the one most surely past it),
	// while evicting a session in use signs out someone who is still there.
	// Early evictions are logged at WARN through Logger, the first at once
	// and then one line a minute at most, with the count. Size the bounds
	// for the logouts of a TombstoneLifetime on top of your sessions.
	MaxSessions int
	// MaxBytes, if positive, bounds the bytes of tokens and data held, all
	// shards together, counting each tombstone (which holds neither) as 64
	// bytes, with the same eviction as MaxSessions; 0 means no bound, and a
	// negative value is an error. A session whose token and data together
	// exceed MaxBytes gives an error matching sessionstore.ErrTooLarge, and
	// nothing is written or evicted.
	MaxBytes int64
	// MaxDataSize, if positive, is the largest data a Commit accepts; larger
	// data gives an error matching sessionstore.ErrTooLarge and writes
	// nothing. 0 means no limit; a negative value is an error.
	MaxDataSize int
	// Logger receives cleanup logs and warnings about tombstones evicted
	// early. nil means slog.Default().
	Logger *slog.Logger
	// OnCleanup, if set, is called after every background cleanup run with
	// the number of entries removed, the time taken and the error, if any.
	OnCleanup func(deleted int64, took time.Duration, err error)
	// Now is the clock expiry is compared with. nil means time.Now.
	Now func() time.Time
	// Owner, if set, turns on the per-user index: the store then lists,
	// counts and deletes a user's sessions (the sessionstore.UserIndex
	// methods) without reading any other session. Commit reads each
	// session's owner from its data with Owner, before it locks anything:
	// an error fails the Commit and writes nothing, and "" means no owner
	// (the session is not indexed). For SCS:
	//
	//	memstore.Config{Owner: sessionstore.OwnerKey(scs.GobCodec{}, "user_id")}
	//
	// Owner must depend on the data alone: a Commit whose data is byte for
	// byte what the session already holds (a renewal, as with SCS's
	// IdleTimeout) keeps the owner it has without calling Owner again.
	//
	// Each owned session keeps, with its owner, when it was first committed
	// with that owner, when it was last committed (both by Now) and the
	// client (user agent and IP) of the last Commit whose context carried
	// one (sessionstore.WithClient); a session without an owner keeps
	// none of it. The index entry is written in the same critical section as
	// the session and goes with it, whatever removes it (Delete, cleanup,
	// eviction, an owner change); it counts against MaxBytes (384 bytes plus
	// its owner and, with a client, 32 plus its user agent and IP: at least
	// the heap it takes, see TestIndexHeapCounted), so the bounds hold with it, and a user
	// with many sessions can hold no more of them than the bounds allow.
	// nil means no index: the UserIndex methods return an error matching
	// sessionstore.ErrNoIndex, and the store is exactly as without the field.
	Owner sessionstore.OwnerFunc
	// TouchWindow, if positive, coalesces touches: a Commit whose data is
	// the same as what the store holds for the token, and whose expiry
	// moves later by less than TouchWindow, writes nothing: it takes the
	// shard's read lock instead of its write lock, copies nothing and
	// allocates nothing. It is decided on the stored session itself, under
	// the shard's lock, never on a separate record of it, so a session that
	// was evicted, deleted or has expired is written (or, deleted, refused)
	// as without the option. With SCS's IdleTimeout, which commits every
	// session a request loads, it turns the write per request into at most
	// one per session per window. A session's stored expiry is then up to
	// TouchWindow earlier than the last requested one, never later; a change
	// of data, an expiry that moves earlier, or a session with less than
	// TouchWindow left is always written; with Owner set, the index entry's
	// LastSeen is as old as the last write, and a Commit whose context
	// carries a client (sessionstore.WithClient) other than the one the
	// entry holds is written. Data of SCS's GobCodec is compared by its
	// values, whatever order gob wrote them in; other data by its bytes. A
	// skipped Commit still counts as a use for eviction. See docs/touch.md.
	// Zero: every Commit is written. A negative value is an error.
	TouchWindow time.Duration
}

// MemStore is an in-memory session store, safe for concurrent use.
//
// Sessions are spread over independently locked shards, each with an index
// ordered by expiry and eviction queues, so that cleanup and eviction touch
// only the entries they remove and never lock the whole store. Data is
// copied in and out: callers may reuse the slices they pass and receive.
type MemStore struct {
	shards      [numShards]shard
	c           shared
	seed        maphash.Seed
	now         func() time.Time
	logger      *slog.Logger
	batch       int
	maxDataSize int
	cursor      atomic.Uint32 // where evictElsewhere starts
	lastReport  atomic.Int64  // Unix seconds of the last reportEvictions line
	loop        *cleanup.Loop
	owner       sessionstore.OwnerFunc // nil: no per-user index
	window      time.Duration          // Config.TouchWindow; 0: every Commit is written
}

// New returns a MemStore with a background goroutine that removes expired
// sessions every minute. Use it as a drop-in for SCS's memstore.New. It
// cannot fail: the zero Config is valid.
func New() *MemStore {
	return mustNew(Config{})
}

// NewWithCleanupInterval returns a MemStore whose background goroutine
// removes expired sessions every cleanupInterval. 0 means no goroutine:
// expired sessions are never served but stay in memory until DeleteExpired
// is called. A negative cleanupInterval also means no goroutine. It cannot
// fail: every cleanupInterval is a valid Config.CleanupInterval, and the
// other settings are the defaults.
func NewWithCleanupInterval(cleanupInterval time.Duration) *MemStore {
	if cleanupInterval == 0 {
		cleanupInterval = -1
	}
	return mustNew(Config{CleanupInterval: cleanupInterval})
}

// mustNew is NewWithConfig for the SCS constructors, which have no error to
// return: they pass only valid configurations, so an error here is a bug in
// this package.
func mustNew(cfg Config) *MemStore {
	m, err := NewWithConfig(cfg)
	if err != nil {
		panic(err)
	}
	return m
}

// NewWithConfig returns a MemStore configured by cfg. Use it for bounds,
// logging, a cleanup hook or an injected clock. It returns an error, and
// starts nothing, if cfg.TombstoneLifetime, cfg.ClockSkew,
// cfg.CleanupBatchSize, cfg.MaxSessions, cfg.MaxBytes, cfg.MaxDataSize or
// cfg.TouchWindow is negative; a negative cfg.CleanupInterval means no cleanup goroutine. The
// error starts with "memstore: config: " and names the field; for the
// tombstone settings it wraps the error of the shared tombstone policy.
func NewWithConfig(cfg Config) (*MemStore, error) {
	policy, err := tombstone.New(cfg.TombstoneLifetime, cfg.ClockSkew)
	if err != nil {
		return nil, fmt.Errorf("memstore: config: %w", err)
	}
	switch {
	case cfg.CleanupBatchSize < 0:
		return nil, fmt.Errorf("memstore: config: CleanupBatchSize %d is negative", cfg.CleanupBatchSize)
	case cfg.MaxSessions < 0:
		return nil, fmt.Errorf("memstore: config: MaxSessions %d is negative", cfg.MaxSessions)
	case cfg.MaxBytes < 0:
		return nil, fmt.Errorf("memstore: config: MaxBytes %d is negative", cfg.MaxBytes)
	case cfg.MaxDataSize < 0:
		return nil, fmt.Errorf("memstore: config: MaxDataSize %d is negative", cfg.MaxDataSize)
	case cfg.TouchWindow < 0:
		// A typo should not silently turn coalescing off.
		return nil, fmt.Errorf("memstore: config: TouchWindow %v is negative", cfg.TouchWindow)
	}
	m := &MemStore{
		seed:        maphash.MakeSeed(),
		now:         cfg.Now,
		logger:      cfg.Logger,
		batch:       cfg.CleanupBatchSize,
		maxDataSize: cfg.MaxDataSize,
		owner:       cfg.Owner,
		window:      cfg.TouchWindow,
	}
	m.c.policy = policy
	m.c.maxCount = int64(cfg.MaxSessions)
	m.c.maxBytes = cfg.MaxBytes
	if m.owner != nil {
		m.c.owners = newOwnerShards()
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.logger == nil {
		m.logger = slog.Default()
	}
	if m.batch == 0 {
		m.batch = DefaultCleanupBatchSize
	}
	for i := range m.shards {
		m.shards[i].init(&m.c, i, m.owner != nil)
	}
	interval := cfg.CleanupInterval
	if interval == 0 {
		interval = DefaultCleanupInterval
	}
	m.loop = cleanup.Start(cleanup.Config{
		Name:      "memstore",
		Interval:  interval,
		Logger:    cfg.Logger,
		OnCleanup: cfg.OnCleanup,
	}, m.DeleteExpired)
	return m, nil
}

// shard returns the shard of token and token's hash, which chose it: its
// top bits pick the shard, so that the maps inside, which use the low bits,
// see all of them vary.
func (m *MemStore) shard(token string) (*shard, uint64) {
	h := maphash.String(m.seed, token)
	return &m.shards[h>>(64-shardBits)], h
}

// unixMicro converts t for the expiry index, saturating outside the range
// of an int64. Expiries are stored at microsecond precision, so a stored
// expiry e is after t exactly when e > unixMicro(t).
func unixMicro(t time.Time) int64 {
	const limit = math.MaxInt64/int64(time.Second/time.Microsecond) - 1 // seconds either side of 1970
	switch sec := t.Unix(); {
	case sec >= limit:
		return math.MaxInt64
	case sec <= -limit:
		return math.MinInt64
	}
	return t.UnixMicro()
}

// sizeError is the error of a session over one of the size settings. It
// matches sessionstore.ErrTooLarge, and errors.As finds the
// *sessionstore.TooLargeError it wraps.
type sizeError struct {
	what, setting string
	err           *sessionstore.TooLargeError
}

func (e *sizeError) Error() string {
	return fmt.Sprintf("%s of %d bytes exceeds %s (%d)", e.what, e.err.Size, e.setting, e.err.Max)
}

func (e *sizeError) Unwrap() error { return e.err }

// Find returns a copy of the data of the session token, if it exists and
// expires strictly after now. Unknown, expired, deleted and malformed
// tokens give found == false and a nil error.
func (m *MemStore) Find(token string) ([]byte, bool, error) {
	// A malformed token is never stored (Commit refuses it), so a lookup
	// answers it correctly; only the length is checked, to bound hashing.
	if token == "" || len(token) > sessionstore.MaxTokenLen {
		return nil, false, nil
	}
	s, h := m.shard(token)
	var data string
	var expiry int64
	var check uint64
	s.mu.RLock()
	i, found := s.entries[h]
	if found {
		n := &s.nodes[i]
		if found = n.queue != qTomb; found {
			data, expiry, check = n.data, n.expiry, n.check
			if m.c.bounded() {
				n.used() // if check differs, another token's: harmless
			}
		}
	}
	s.mu.RUnlock()
	// data is never written after it is stored: copy it unlocked.
	if !found || check != s.check(token) || expiry <= unixMicro(m.now()) {
		return nil, false, nil
	}
	return []byte(data), true, nil // the caller may write to what it gets
}

// FindCtx is Find with a context; it fails only if ctx is already done.
func (m *MemStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("memstore: find: %w", err)
	}
	return m.Find(token)
}

// Commit stores a copy of data under token until expiry, replacing any data
// and expiry the token had. Commit of a token deleted earlier is a no-op
// that returns nil as long as its tombstone lasts (see
// Config.TombstoneLifetime), so that a request still in flight at logout
// cannot bring the session back. An expiry outside [sessionstore.MinExpiry,
// sessionstore.MaxExpiry] gives an error matching
// sessionstore.ErrExpiryOutOfRange, and data over MaxDataSize, or a session
// over MaxBytes, one matching sessionstore.ErrTooLarge; either writes
// nothing. With Config.Owner set, data whose owner Config.Owner cannot read
// gives its error (matching sessionstore.ErrInvalidOwner for an owner that
// is not a valid one) and writes nothing. Expiry is kept at microsecond
// precision.
func (m *MemStore) Commit(token string, data []byte, expiry time.Time) error {
	return m.commit(context.Background(), token, data, expiry)
}

// commit is Commit; ctx carries the client, if any, for the per-user index.
func (m *MemStore) commit(ctx context.Context, token string, data []byte, expiry time.Time) error {
	if !sessionstore.ValidToken(token) {
		return fmt.Errorf("memstore: commit: %w", sessionstore.ErrInvalidToken)
	}
	if err := sessionstore.CheckExpiry(expiry); err != nil {
		return fmt.Errorf("memstore: commit: %w", err)
	}
	if m.maxDataSize > 0 && len(data) > m.maxDataSize {
		return fmt.Errorf("memstore: commit: %w", &sizeError{"session data", "MaxDataSize",
			&sessionstore.TooLargeError{Size: len(data), Max: m.maxDataSize}})
	}
	if size := int64(len(token) + len(data)); m.c.maxBytes > 0 && size > m.c.maxBytes {
		return fmt.Errorf("memstore: commit: %w", &sizeError{"session", "MaxBytes",
			&sessionstore.TooLargeError{Size: int(size), Max: int(m.c.maxBytes)}})
	}
	s, h := m.shard(token)
	if m.window > 0 && s.coalesce(ctx, token, h, data, expiry, m.now(), m.window, m.owner != nil) {
		return nil
	}
	if m.owner != nil {
		return m.commitIndexed(ctx, token, data, expiry)
	}
	// Copied outside the lock, into a string: never written again.
	if err := s.commit(token, h, string(data), expiry.UnixMicro(), m.now, nil); err != nil {
		return fmt.Errorf("memstore: commit: %w", err)
	}
	m.afterWrite(s)
	return nil
}

// afterWrite evicts from other shards if the write to s left the store over
// its bounds, and reports tombstones evicted early.
func (m *MemStore) afterWrite(s *shard) {
	if !m.c.bounded() {
		return
	}
	if m.c.over() {
		m.evictElsewhere(s)
	}
	m.reportEvictions()
}

// CommitCtx is Commit with a context; it fails, writing nothing, if ctx is
// already done. With Config.Owner set, the client that
// sessionstore.WithClient put in ctx is recorded in the session's index
// entry.
func (m *MemStore) CommitCtx(ctx context.Context, token string, data []byte, expiry time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: commit: %w", err)
	}
	return m.commit(ctx, token, data, expiry)
}

// Delete removes the session token. It is idempotent. It leaves a
// tombstone: until the later of the session's expiry and now plus
// Config.TombstoneLifetime, a later Commit of the same token is ignored.
func (m *MemStore) Delete(token string) error {
	if token == "" || len(token) > sessionstore.MaxTokenLen {
		return nil // like Find: a malformed token is never stored
	}
	s, h := m.shard(token)
	s.delete(token, h, m.now())
	m.afterWrite(s)
	return nil
}

// DeleteCtx is Delete. It ignores ctx: a logout must complete even if the
// request that asked for it has gone away.
func (m *MemStore) DeleteCtx(_ context.Context, token string) error {
	return m.Delete(token)
}

// StopCleanup stops the background cleanup goroutine and waits until it has
// exited. It is safe to call more than once, concurrently, and on a store
// without cleanup. Call it when a MemStore is transient, as in tests, so that
// the goroutine does not keep the store alive.
func (m *MemStore) StopCleanup() {
	m.loop.Stop()
}
