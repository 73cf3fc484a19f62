package memstore

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"time"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/cleanup"
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
	// it holds a shard's lock. 0 means DefaultCleanupBatchSize.
	CleanupBatchSize int
	// MaxSessions, if positive, bounds the number of sessions held. When a
	// new session would exceed it, the session nearest to expiry is evicted.
	// The bound is split evenly over the store's shards, so eviction picks
	// the session nearest to expiry among those sharing the new one's shard.
	// Tombstones (what a deleted session leaves until its expiry, about 100
	// bytes each, so that a late Commit cannot bring it back) count against
	// neither bound and are never evicted.
	MaxSessions int
	// MaxBytes, if positive, bounds the bytes of tokens and data held, with
	// the same eviction as MaxSessions. A session too large to ever fit gives
	// sessionstore.ErrTooLarge.
	MaxBytes int64
	// MaxDataSize, if positive, is the largest data a Commit accepts; larger
	// data gives an error matching sessionstore.ErrTooLarge and writes nothing.
	MaxDataSize int
	// Logger receives cleanup logs. nil means slog.Default().
	Logger *slog.Logger
	// OnCleanup, if set, is called after every background cleanup run with
	// the number of entries removed, the time taken and the error, if any.
	OnCleanup func(deleted int64, took time.Duration, err error)
	// Now is the clock expiry is compared with. nil means time.Now.
	Now func() time.Time
}

// MemStore is an in-memory session store, safe for concurrent use.
//
// Sessions are spread over independently locked shards, each with an index
// ordered by expiry, so that cleanup and eviction touch only the entries they
// remove and never lock the whole store. Data is copied in and out: callers
// may reuse the slices they pass and receive.
type MemStore struct {
	shards      [numShards]shard
	seed        maphash.Seed
	now         func() time.Time
	batch       int
	maxDataSize int
	loop        *cleanup.Loop
}

// New returns a MemStore with a background goroutine that removes expired
// sessions every minute. Use it as a drop-in for SCS's memstore.New.
func New() *MemStore {
	return NewWithConfig(Config{})
}

// NewWithCleanupInterval returns a MemStore whose background goroutine
// removes expired sessions every cleanupInterval. 0 means no goroutine:
// expired sessions are never served but stay in memory until DeleteExpired
// is called.
func NewWithCleanupInterval(cleanupInterval time.Duration) *MemStore {
	if cleanupInterval == 0 {
		cleanupInterval = -1
	}
	return NewWithConfig(Config{CleanupInterval: cleanupInterval})
}

// NewWithConfig returns a MemStore configured by cfg. Use it for bounds,
// logging, a cleanup hook or an injected clock.
func NewWithConfig(cfg Config) *MemStore {
	m := &MemStore{
		seed:        maphash.MakeSeed(),
		now:         cfg.Now,
		batch:       cfg.CleanupBatchSize,
		maxDataSize: cfg.MaxDataSize,
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.batch <= 0 {
		m.batch = DefaultCleanupBatchSize
	}
	for i := range m.shards {
		m.shards[i].init(share(cfg.MaxSessions, i), share64(cfg.MaxBytes, i))
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
	return m
}

// share returns shard i's part of a store-wide bound (0 = unbounded); the
// parts add up to the bound exactly.
func share(total, i int) int {
	return int(share64(int64(total), i))
}

func share64(total int64, i int) int64 {
	if total <= 0 {
		return 0
	}
	n := total / numShards
	if int64(i) < total%numShards {
		n++
	}
	if n == 0 {
		n = -1 // bounded to nothing: this shard accepts no session
	}
	return n
}

func (m *MemStore) nowNano() int64 { return unixNano(m.now()) }

// shard returns the shard of token and token's hash, which chose it: its
// top bits pick the shard, so that the maps inside, which use the low bits,
// see all of them vary.
func (m *MemStore) shard(token string) (*shard, uint64) {
	h := maphash.String(m.seed, token)
	return &m.shards[h>>(64-shardBits)], h
}

// unixNano converts t for the expiry index, saturating outside the range of
// an int64 so that far-future expiries stay far in the future.
func unixNano(t time.Time) int64 {
	const limit = math.MaxInt64/int64(time.Second) - 1 // seconds either side of 1970
	switch sec := t.Unix(); {
	case sec >= limit:
		return math.MaxInt64
	case sec <= -limit:
		return math.MinInt64
	}
	return t.UnixNano()
}

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
	s.rlock()
	it, found := s.entries[h]
	s.mu.RUnlock()
	// it.data is never written after it is stored: copy it unlocked.
	if !found || !it.live() || it.check != s.check(token) || it.expiry <= unixNano(m.now()) {
		return nil, false, nil
	}
	return []byte(it.data), true, nil // the caller may write to what it gets
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
// that returns nil, so that a request still in flight at logout cannot bring
// the session back.
func (m *MemStore) Commit(token string, data []byte, expiry time.Time) error {
	if !sessionstore.ValidToken(token) {
		return fmt.Errorf("memstore: commit: %w", sessionstore.ErrInvalidToken)
	}
	if err := sessionstore.CheckSize(data, m.maxDataSize); err != nil {
		return fmt.Errorf("memstore: commit: %w", err)
	}
	// Copied outside the lock, into a string: never written again.
	s, h := m.shard(token)
	if err := s.commit(token, h, string(data), unixNano(expiry), m.nowNano); err != nil {
		return fmt.Errorf("memstore: commit: %w", err)
	}
	return nil
}

// CommitCtx is Commit with a context; it fails, writing nothing, if ctx is
// already done.
func (m *MemStore) CommitCtx(ctx context.Context, token string, data []byte, expiry time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: commit: %w", err)
	}
	return m.Commit(token, data, expiry)
}

// Delete removes the session token. It is idempotent. Until the session's
// expiry, a later Commit of the same token is ignored.
func (m *MemStore) Delete(token string) error {
	if token == "" || len(token) > sessionstore.MaxTokenLen {
		return nil // like Find: a malformed token is never stored
	}
	s, h := m.shard(token)
	s.delete(token, h)
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
