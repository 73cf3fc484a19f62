package redisstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/tombstone"
	"github.com/sessionstore/sessionstore/internal/touch"
)

// RedisStore is a session store on Redis: a single server, Sentinel or
// Redis Cluster, through any redis.UniversalClient. It is safe for
// concurrent use.
type RedisStore struct {
	client     redis.UniversalClient
	prefix     string // session keys: prefix + token
	tombPrefix string // tombstone keys: see tombstoneKey
	policy     tombstone.Policy
	skewMs     int64
	timeout    time.Duration
	maxData    int
	pageSize   int
	log        *slog.Logger
	now        func() time.Time
	touch      *touch.View // nil: Config.TouchWindow is 0
	deadlines  bool        // the client's PoolTimeout is within bounded(): see detached

	// The per-user index, on with owner set (index.go).
	owner     sessionstore.OwnerFunc
	idxPrefix string
	clustered bool // a *redis.ClusterClient: a user's sessions span slots
	tagsSeen  tagCache
}

// New returns a store on client with the default Config: sessions at
// "scs:session:" + token, as SCS's goredisstore keeps them. It starts no
// goroutine: Redis expires keys itself. New panics if client is nil or a
// *redis.Ring; NewWithConfig returns an error instead.
func New(client redis.UniversalClient) *RedisStore {
	s, err := NewWithConfig(client, Config{})
	if err != nil {
		panic(err)
	}
	return s
}

// NewWithConfig returns a store on client configured by cfg, whose zero
// fields mean their defaults. It returns an error, and never panics, for a
// nil client, a *redis.Ring (whose shards cannot run one script over a
// session and its tombstone), negative durations or sizes, and prefixes
// that could make session and tombstone keys meet. It does not contact
// Redis.
func NewWithConfig(client redis.UniversalClient, cfg Config) (*RedisStore, error) {
	if err := checkClient(client); err != nil {
		return nil, err
	}
	prefix, tomb, err := resolvePrefixes(cfg)
	if err != nil {
		return nil, err
	}
	policy, err := tombstone.New(cfg.TombstoneLifetime, cfg.ClockSkew)
	if err != nil {
		return nil, fmt.Errorf("redisstore: config: %w", err)
	}
	view, err := touch.New(cfg.TouchWindow)
	if err != nil {
		return nil, fmt.Errorf("redisstore: config: %w", err)
	}
	switch {
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("redisstore: config: Timeout %v is negative", cfg.Timeout)
	case cfg.MaxDataSize < 0:
		return nil, fmt.Errorf("redisstore: config: MaxDataSize %d is negative", cfg.MaxDataSize)
	case cfg.PageSize < 0:
		return nil, fmt.Errorf("redisstore: config: PageSize %d is negative", cfg.PageSize)
	case policy.ClockSkew < time.Millisecond:
		return nil, fmt.Errorf("redisstore: config: ClockSkew %v is under Redis's resolution of a millisecond", cfg.ClockSkew)
	}
	s := &RedisStore{
		client:     client,
		prefix:     prefix,
		tombPrefix: tomb,
		policy:     policy,
		skewMs:     policy.ClockSkew.Milliseconds(),
		timeout:    cfg.Timeout,
		maxData:    cfg.MaxDataSize,
		pageSize:   cfg.PageSize,
		log:        cfg.Logger,
		now:        cfg.Now,
		touch:      view,
	}
	s.deadlines = boundsByDeadline(client, s.bounded())
	if cfg.Owner != nil {
		if s.idxPrefix, err = resolveIndexPrefix(cfg, prefix, tomb); err != nil {
			return nil, err
		}
		s.owner = cfg.Owner
		_, s.clustered = client.(*redis.ClusterClient)
	}
	if s.pageSize == 0 {
		s.pageSize = DefaultPageSize
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// The value of a session key in this store's layout: magic, the expiry in
// microseconds since the Unix epoch (big-endian int64), then the data.
// SCS's goredisstore stores the bare data and leaves the expiry to the key's
// TTL, in milliseconds; the contract needs the expiry at microsecond
// precision and checked against the application's clock, so this store
// keeps it in the value. It still reads goredisstore's values (see
// legacyFind): a value is in this layout only if it starts with magic,
// which begins with a NUL byte that no encoding SCS or gorilla use starts
// with (gob begins with a non-zero length, JSON with '{').
const (
	magic     = "\x00rs1"
	headerLen = len(magic) + 8
)

func encodeValue(b []byte, expiry time.Time) []byte {
	v := make([]byte, headerLen+len(b))
	copy(v, magic)
	binary.BigEndian.PutUint64(v[len(magic):], uint64(expiry.UnixMicro()))
	copy(v[headerLen:], b)
	return v
}

// decodeValue splits a value in this store's layout; ok is false for any
// other value.
func decodeValue(v []byte) (data []byte, expiry time.Time, ok bool) {
	if len(v) < headerLen || string(v[:len(magic)]) != magic {
		return nil, time.Time{}, false
	}
	us := int64(binary.BigEndian.Uint64(v[len(magic):headerLen]))
	return v[headerLen:], time.UnixMicro(us).UTC(), true
}

// ceilMs is t in milliseconds since the Unix epoch, rounded up; floorMs
// rounded down.
func ceilMs(t time.Time) int64 {
	us := t.UnixMicro()
	ms := us / 1000
	if us%1000 > 0 {
		ms++
	}
	return ms
}

func floorMs(t time.Time) int64 {
	us := t.UnixMicro()
	ms := us / 1000
	if us%1000 < 0 {
		ms--
	}
	return ms
}

// withTimeout applies Config.Timeout, if any, to ctx.
func (s *RedisStore) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// detached returns ctx's values, never cancelled by ctx, with a deadline
// bounded() from now: what Delete runs on.
//
// go-redis waits in three places: for a free connection (bounded by the
// context's Done and by the client's PoolTimeout), on the socket (bounded
// by the context's deadline only with Options.ContextTimeoutEnabled, and
// otherwise by ReadTimeout and WriteTimeout) and between retries. When
// PoolTimeout is within bounded() (see boundsByDeadline), a context with
// the deadline and no Done channel bounds a call as far as
// context.WithTimeout does, bar the retry back-off (MaxRetries ×
// MaxRetryBackoff, at most 1.5 s by default), without starting a runtime
// timer, which is a measurable part of a Delete (docs/redisstore.md).
// Otherwise it is context.WithTimeout.
func (s *RedisStore) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx = context.WithoutCancel(ctx)
	if s.deadlines {
		return deadlineCtx{ctx, time.Now().Add(s.bounded())}, func() {}
	}
	return context.WithTimeout(ctx, s.bounded())
}

// deadlineCtx is a context with a deadline and no cancellation (Done is
// nil, as for context.WithoutCancel), for go-redis to apply wherever it
// applies a context's deadline (see detached).
type deadlineCtx struct {
	context.Context
	deadline time.Time
}

func (c deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// boundsByDeadline reports whether c, a go-redis client, waits for a free
// connection no longer than bound (PoolTimeout), the one wait that only a
// context's Done channel would otherwise cut short.
func boundsByDeadline(c redis.UniversalClient, bound time.Duration) bool {
	var pool time.Duration
	switch c := c.(type) {
	case *redis.Client:
		pool = c.Options().PoolTimeout
	case *redis.ClusterClient:
		o := c.Options()
		pool = o.PoolTimeout
		if pool == 0 { // each node's client sets it as Options does
			pool = 30 * time.Second
			if o.ReadTimeout > 0 {
				pool = o.ReadTimeout + time.Second
			}
		}
	default:
		return false
	}
	return pool <= bound
}

// bounded is the timeout of operations that must not depend on the caller.
func (s *RedisStore) bounded() time.Duration {
	if s.timeout > 0 {
		return s.timeout
	}
	return DefaultTimeout
}

// Find returns the data of a live session: one whose expiry is strictly
// after now by Config.Now. found is false, with a nil error, for an
// unknown, expired, deleted or malformed token (the last without a round
// trip) and for a session key whose token has a tombstone; err is only for
// failures, which are never reported as "not found".
func (s *RedisStore) Find(token string) (b []byte, found bool, err error) {
	return s.FindCtx(context.Background(), token)
}

// FindCtx is Find with a context.
//
// Find is one GET. A value in this store's layout was written by Commit's
// script, which checks the tombstone in the same atomic step, and Delete
// removes the session key in the step that writes the tombstone, so such a
// value never stands beside a tombstone and needs no second look. Any
// other value (goredisstore's layout, or a writer that ignores
// tombstones) costs a second round trip that checks the tombstone and reads
// the key's expiry.
func (s *RedisStore) FindCtx(ctx context.Context, token string) (b []byte, found bool, err error) {
	if !sessionstore.ValidToken(token) {
		return nil, false, nil // no session manager issued it: no round trip
	}
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("redisstore: find: %w", err)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	data, expiry, found, err := s.find(ctx, token)
	if s.touch != nil {
		if found && !expiry.IsZero() {
			s.touch.Saw(token, data, expiry)
		} else {
			s.touch.Forget(token)
		}
	}
	return data, found, err
}

// find is FindCtx once the token is checked. expiry is the one in the
// value's header, zero for a value in another layout (legacyFind), whose
// Redis expiry is only to the millisecond: Config.TouchWindow's view does
// not record such a session, and its next Commit is written.
func (s *RedisStore) find(ctx context.Context, token string) (data []byte, expiry time.Time, found bool, err error) {
	v, err := s.client.Get(ctx, s.sessionKey(token)).Bytes()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, time.Time{}, false, nil
		}
		return nil, time.Time{}, false, fmt.Errorf("redisstore: find: %w", err)
	}
	data, expiry, ok := decodeValue(v)
	if !ok {
		data, found, err = s.legacyFind(ctx, token, v)
		return data, time.Time{}, found, err
	}
	if !expiry.After(s.now()) {
		return nil, time.Time{}, false, nil
	}
	return data, expiry, true, nil
}

// legacyFind decides about a value not in this store's layout: live if its
// token has no tombstone and the key's Redis expiry is after now. A key
// without an expiry is what goredisstore's Commit writes for a deadline
// already past, and is not found.
func (s *RedisStore) legacyFind(ctx context.Context, token string, v []byte) ([]byte, bool, error) {
	ms, err := legacyScript.Run(ctx, s.client, []string{s.sessionKey(token), s.tombstoneKey(token)}).Int64()
	if err != nil {
		return nil, false, fmt.Errorf("redisstore: find: %w", err)
	}
	if ms < 0 || !time.UnixMilli(ms).After(s.now()) {
		return nil, false, nil
	}
	return v, true, nil
}

// Commit stores data under token until expiry, replacing any earlier data,
// atomically and in one round trip (a script on the session and tombstone
// keys, which share a hash slot). A Commit of a token deleted earlier,
// while its tombstone lasts (see Config.TombstoneLifetime), is a no-op that
// returns nil, so that a request still in flight at logout cannot bring the
// session back. An expiry at or before now (by Config.Now) stores nothing
// and removes the session; one outside [sessionstore.MinExpiry,
// sessionstore.MaxExpiry] gives an error matching
// sessionstore.ErrExpiryOutOfRange, and data over Config.MaxDataSize one
// matching sessionstore.ErrTooLarge, writing nothing.
//
// The key's Redis expiry is absolute (PXAT): the expiry plus ClockSkew, by
// the application's clock, so that a session Commit writes a moment before
// its deadline never lives on (as goredisstore's relative TTL, rounded to
// zero, lets it), and a Delete just past the expiry still finds the key.
func (s *RedisStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// CommitCtx is Commit with a context.
func (s *RedisStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if !sessionstore.ValidToken(token) {
		return fmt.Errorf("redisstore: commit: %w", sessionstore.ErrInvalidToken)
	}
	if err := sessionstore.CheckSize(b, s.maxData); err != nil {
		return fmt.Errorf("redisstore: commit: %w", err)
	}
	if err := sessionstore.CheckExpiry(expiry); err != nil {
		return fmt.Errorf("redisstore: commit: %w", err)
	}
	if s.touch != nil && s.touch.Skip(token, b, expiry, s.now()) {
		return nil
	}
	var written bool
	var err error
	if s.owner != nil {
		written, err = s.indexedCommit(ctx, token, b, expiry)
	} else {
		written, err = s.commit(ctx, token, b, expiry)
	}
	if s.touch != nil {
		if written && err == nil {
			s.touch.Saw(token, b, expiry)
		} else {
			// An error leaves the key unknown; a tombstone or a past
			// expiry left no session.
			s.touch.Forget(token)
		}
	}
	return err
}

// commit is CommitCtx without the index, once the arguments are checked.
// written is false when the token is tombstoned or expiry is past.
func (s *RedisStore) commit(ctx context.Context, token string, b []byte, expiry time.Time) (written bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("redisstore: commit: %w", err)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if !expiry.After(s.now()) {
		// Nothing to store; what was there has expired by this Commit.
		if err := s.client.Del(ctx, s.sessionKey(token)).Err(); err != nil {
			return false, fmt.Errorf("redisstore: commit: %w", err)
		}
		return false, nil
	}
	key, v, pxat := s.sessionKey(token), encodeValue(b, expiry), ceilMs(expiry)+s.skewMs
	// Most Commits update a session that exists. SET ... XX writes only
	// over an existing key, and a Delete removes the key and writes the
	// tombstone in one script, so a key that still exists has no tombstone
	// beside it, unless a writer that ignores tombstones (goredisstore, say,
	// during a rolling upgrade) put it there after the Delete. Such a key
	// holds a value of another layout, which GET returns; the script below
	// then deletes it. A missing key (a new session, or a deleted one) goes
	// to the script, which checks for the tombstone.
	// The reply is the old value, or a null (RESP2: redis.Nil) for none.
	old, err := s.client.Do(ctx, "set", key, v, "pxat", pxat, "xx", "get").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("redisstore: commit: %w", err)
	}
	if old, ok := old.(string); ok && strings.HasPrefix(old, magic) {
		return true, nil
	}
	n, err := commitScript.Run(ctx, s.client, []string{key, s.tombstoneKey(token)}, v, pxat).Int64()
	if err != nil {
		return false, fmt.Errorf("redisstore: commit: %w", err)
	}
	return n == 1, nil
}

// Delete removes a session and leaves a tombstone for it, so that a later
// Commit of the same token is a no-op: the tombstone lasts until the later
// of the session's expiry and now (by Config.Now) plus
// Config.TombstoneLifetime, and Redis drops its key ClockSkew after that. A
// token with neither a session key nor a tombstone gets none. It is
// idempotent.
func (s *RedisStore) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}

// DeleteCtx is Delete with a context. The deletion is not abandoned when ctx
// is cancelled, because a logout that half-happens is a security bug: it
// runs with the store's own timeout (Config.Timeout or DefaultTimeout).
// ctx's values are kept.
func (s *RedisStore) DeleteCtx(ctx context.Context, token string) error {
	if !sessionstore.ValidToken(token) {
		return nil // cannot exist
	}
	s.touch.Forget(token)
	ctx, cancel := s.detached(ctx)
	defer cancel()
	until := ceilMs(s.policy.Until(s.now()))
	if s.owner != nil {
		return s.indexedDelete(ctx, token, until)
	}
	if err := s.deleteTomb(ctx, token, until); err != nil {
		return fmt.Errorf("redisstore: delete: %w", err)
	}
	return nil
}

// tombValue is the value of a tombstone key. What a tombstone says is in
// its Redis expiry (PEXPIRETIME), which is the tombstone's expiry plus
// ClockSkew; the value holds none of the session's data.
const tombValue = "deleted"

// deleteTomb is Delete without the index: three commands in one pipelined
// round trip, on the token's hash slot, in this order:
//
//  1. RENAME session → tombstone. In one atomic step the session key is
//     gone and the tombstone exists, with the session's PXAT (its expiry
//     plus ClockSkew). From then on a Commit finds no key for its SET ...
//     XX and its script finds the tombstone; Find finds nothing. Without a
//     session key RENAME fails and writes nothing, so a made-up token gets
//     no tombstone.
//  2. PEXPIREAT ... GT extends the tombstone to until+ClockSkew if that is
//     later.
//  3. SET ... KEEPTTL XX GET replaces the session's data with tombValue and
//     returns what was there.
//
// A value in this store's layout always had a PXAT, so the tombstone now
// has the later of the two. Any other old value (goredisstore's layout,
// whose Commit past the deadline leaves a key without an expiry; or an
// earlier tombstone, after a retry or a second Delete) takes a second
// round trip, PEXPIREAT ... NX, which gives a tombstone without an expiry
// until+ClockSkew.
//
// Each command after the first changes only an existing tombstone and
// never shortens it, so running Delete again (a retry, a second Delete)
// keeps the rule, and a pipeline cut off after step 1 has already made the
// logout final for the session's whole lifetime; Delete then returns the
// error.
//
// On a Redis Cluster the pipeline goes straight to the master that the
// client's slot map gives for the token: go-redis runs a cluster pipeline
// on a goroutine per node, which costs more than the commands. Any error
// there (MOVED after a failover or a resharding, ASK, a lost node) sends
// the pipeline again through the cluster client, which follows redirects
// and reloads its map; running it twice is harmless, as above.
func (s *RedisStore) deleteTomb(ctx context.Context, token string, until int64) error {
	sk, tk := s.sessionKey(token), s.tombstoneKey(token)
	pxat := min(until, floorMs(sessionstore.MaxExpiry)) + s.skewMs
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		if node, err := cc.MasterForKey(ctx, sk); err == nil {
			if old, err := tombPipeline(ctx, node, sk, tk, pxat); err == nil {
				return tombNoExpiry(ctx, node, tk, pxat, old)
			}
		}
	}
	old, err := tombPipeline(ctx, s.client, sk, tk, pxat)
	if err != nil {
		return err
	}
	return tombNoExpiry(ctx, s.client, tk, pxat, old)
}

// tombPipeline sends deleteTomb's three commands through c and returns
// the tombstone key's old value (nil for none).
func tombPipeline(ctx context.Context, c redis.UniversalClient, sk, tk string, pxat int64) (old any, err error) {
	pipe := c.Pipeline()
	rename := pipe.Rename(ctx, sk, tk)
	extend := pipe.Do(ctx, "pexpireat", tk, pxat, "gt")
	set := pipe.Do(ctx, "set", tk, tombValue, "keepttl", "xx", "get")
	// Exec's error is the first command's error, or one that kept the
	// pipeline from being sent (which leaves the commands' own nil).
	if _, err := pipe.Exec(ctx); err != nil && !isNoSuchKey(err) && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	if err := rename.Err(); err != nil && !isNoSuchKey(err) {
		return nil, err
	}
	if err := extend.Err(); err != nil {
		return nil, err
	}
	old, err = set.Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	return old, nil
}

// tombNoExpiry is deleteTomb's second round trip, for an old value not in
// this store's layout.
func tombNoExpiry(ctx context.Context, c redis.UniversalClient, tk string, pxat int64, old any) error {
	if v, ok := old.(string); !ok || strings.HasPrefix(v, magic) {
		return nil
	}
	return c.Do(ctx, "pexpireat", tk, pxat, "nx").Err()
}

// isNoSuchKey reports whether err is RENAME's reply for a missing source
// key ("ERR no such key" on Redis and Valkey).
func isNoSuchKey(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasSuffix(re.Error(), "no such key")
}
