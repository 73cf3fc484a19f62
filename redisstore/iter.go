package redisstore

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"iter"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore"
)

// masterLister is what a *redis.ClusterClient offers to reach each master.
type masterLister interface {
	ForEachMaster(ctx context.Context, fn func(ctx context.Context, client *redis.Client) error) error
}

// masters returns the clients to SCAN: every master of a cluster, or the
// store's client itself (a single server, or Sentinel's current master).
func (s *RedisStore) masters(ctx context.Context) ([]redis.UniversalClient, error) {
	ml, ok := s.client.(masterLister)
	if !ok {
		return []redis.UniversalClient{s.client}, nil
	}
	var mu sync.Mutex
	var nodes []redis.UniversalClient
	err := ml.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		mu.Lock()
		nodes = append(nodes, c)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return nodes, nil
}

// scanKeys calls fn with each page of the keys that start with prefix on
// node, in SCAN order (SCAN, never KEYS, so that the server is never
// blocked). The page is reused after fn returns.
func (s *RedisStore) scanKeys(ctx context.Context, node redis.UniversalClient, prefix string, fn func(keys []string) error) error {
	pattern := globEscape(prefix) + "*"
	var cursor uint64
	for {
		keys, next, err := node.Scan(ctx, cursor, pattern, int64(s.pageSize)).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := fn(keys); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// Sessions streams every live session: a SCAN of the session keys on every
// master (each page read in one round trip: an MGET, or on a cluster
// pipelined GETs), skipping
// expired sessions (by Config.Now) and, like Find, session keys whose token
// has a tombstone. Each page is read completely before its sessions are
// yielded, so the loop body may use the store. Sessions committed or
// deleted during the iteration may or may not be seen; none is seen twice:
// SCAN may return a key twice (when Redis shrinks its table during the
// scan), so the iterator remembers a 64-bit hash of every token it yielded,
// about 30 bytes per session. An error, such as a node that fails mid-way,
// is yielded once and ends the iteration: a failure never looks like a
// short list.
func (s *RedisStore) Sessions(ctx context.Context) iter.Seq2[sessionstore.Session, error] {
	return func(yield func(sessionstore.Session, error) bool) {
		fail := func(err error) { yield(sessionstore.Session{}, fmt.Errorf("redisstore: sessions: %w", err)) }
		if err := ctx.Err(); err != nil {
			fail(err)
			return
		}
		nodes, err := s.masters(ctx)
		if err != nil {
			fail(err)
			return
		}
		seed := maphash.MakeSeed()
		seen := make(map[uint64]struct{})
		// emit yields the sessions of one page not yielded before; false
		// when the loop body stopped.
		emit := func(page []sessionstore.Session) bool {
			for _, sess := range page {
				h := maphash.String(seed, sess.Token)
				if _, dup := seen[h]; dup {
					continue
				}
				seen[h] = struct{}{}
				if !yield(sess, nil) {
					return false
				}
			}
			return true
		}
		if len(nodes) == 1 {
			page := make([]sessionstore.Session, 0, s.pageSize)
			err := s.scanKeys(ctx, nodes[0], s.prefix, func(keys []string) error {
				page = page[:0]
				if err := s.readPage(ctx, nodes[0], keys, &page); err != nil {
					return err
				}
				if !emit(page) {
					return errStopped
				}
				return nil
			})
			if err != nil && !errors.Is(err, errStopped) {
				fail(err)
			}
			return
		}
		// On a cluster each master is scanned by a goroutine of its own,
		// so that the masters work at once; the pages are yielded here, on
		// the caller's goroutine, as they arrive.
		type result struct {
			page []sessionstore.Session
			err  error
		}
		ioCtx, cancel := context.WithCancel(ctx)
		stop := make(chan struct{}) // closed when the loop body stops early
		results := make(chan result, len(nodes))
		var wg sync.WaitGroup
		for _, node := range nodes {
			wg.Go(func() {
				err := s.scanKeys(ioCtx, node, s.prefix, func(keys []string) error {
					var page []sessionstore.Session // the consumer owns it once sent
					if err := s.readPage(ioCtx, node, keys, &page); err != nil {
						return err
					}
					select {
					case results <- result{page: page}:
						return nil
					case <-stop:
						return errStopped
					}
				})
				if err != nil && !errors.Is(err, errStopped) {
					select {
					case results <- result{err: err}:
					case <-stop:
					}
				}
			})
		}
		go func() { wg.Wait(); close(results) }()
		defer func() {
			close(stop)
			cancel()
			for range results { // wait for every scanner to exit
			}
		}()
		for r := range results {
			if r.err != nil {
				fail(r.err)
				return
			}
			if !emit(r.page) {
				return
			}
		}
	}
}

// errStopped ends a scan whose consumer (the loop body) stopped.
var errStopped = errors.New("stopped")

// readPage reads the session keys keys from node in one round trip (see
// values) and appends the live sessions among them to page. Values not in this
// store's layout take a second round trip (legacyScript).
func (s *RedisStore) readPage(ctx context.Context, node redis.UniversalClient, keys []string, page *[]sessionstore.Session) error {
	now := s.now()
	vals, err := s.values(ctx, node, keys)
	if err != nil {
		return err
	}
	var legacy []int
	var legacyVals [][]byte
	for i, v := range vals {
		if v == nil {
			continue // gone since the SCAN
		}
		token := keys[i][len(s.prefix):]
		data, expiry, ok := decodeValue(v)
		if !ok {
			legacy = append(legacy, i)
			legacyVals = append(legacyVals, v)
			continue
		}
		if expiry.After(now) {
			*page = append(*page, sessionstore.Session{Token: token, Data: data, Expiry: expiry})
		}
	}
	if len(legacy) == 0 {
		return nil
	}
	pipe := node.Pipeline()
	checks := make([]*redis.Cmd, len(legacy))
	for j, i := range legacy {
		token := keys[i][len(s.prefix):]
		checks[j] = legacyScript.Eval(ctx, pipe, []string{keys[i], s.tombstoneKey(token)})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	for j, c := range checks {
		ms, err := c.Int64()
		if err != nil {
			return err
		}
		if expiry := time.UnixMilli(ms).UTC(); ms >= 0 && expiry.After(now) {
			token := keys[legacy[j]][len(s.prefix):]
			*page = append(*page, sessionstore.Session{Token: token, Data: legacyVals[j], Expiry: expiry})
		}
	}
	return nil
}

// values reads the values of keys from node in one round trip; a key that
// no longer exists has a nil value. On a single server (or Sentinel's
// master) that is one MGET, which the server answers at a fraction of the
// cost of as many pipelined GETs; on a cluster node the keys of a page are
// in many hash slots, which MGET refuses (CROSSSLOT), so they are pipelined
// GETs.
func (s *RedisStore) values(ctx context.Context, node redis.UniversalClient, keys []string) ([][]byte, error) {
	vals := make([][]byte, len(keys))
	if _, cluster := s.client.(masterLister); !cluster {
		res, err := node.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, err
		}
		if len(res) != len(keys) {
			return nil, fmt.Errorf("MGET of %d keys returned %d values", len(keys), len(res))
		}
		for i, r := range res {
			if v, ok := r.(string); ok {
				vals[i] = append(make([]byte, 0, len(v)), v...) // never nil: nil is "gone"
			}
		}
		return vals, nil
	}
	pipe := node.Pipeline()
	gets := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		gets[i] = pipe.Get(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	for i, g := range gets {
		v, err := g.Bytes()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return nil, err
		default:
			vals[i] = v
		}
	}
	return vals, nil
}

// All returns the token and data of every live session, as a non-nil map.
// Like Find, it leaves out a session key whose token has a tombstone. With
// many sessions prefer Sessions, which never holds them all at once.
func (s *RedisStore) All() (map[string][]byte, error) {
	return s.AllCtx(context.Background())
}

// AllCtx is All with a context.
func (s *RedisStore) AllCtx(ctx context.Context) (map[string][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: all: %w", err)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	all := make(map[string][]byte)
	for sess, err := range s.Sessions(ctx) {
		if err != nil {
			return nil, fmt.Errorf("redisstore: all: %w", err)
		}
		all[sess.Token] = sess.Data
	}
	return all, nil
}

// DeleteExpired deletes, on every master, the session keys whose sessions
// have expired by Config.Now, and the tombstones that have been expired for
// ClockSkew (with any session key written behind them), and returns how
// many keys it deleted. Redis expires every key itself (at its PXAT, which
// the store sets from the application's clock), so an application never
// needs to call it: it is there for a replica whose clock runs ahead of
// Redis's, for keys in goredisstore's layout without a TTL (which its
// Commit writes for a deadline already past), and for tests that move the
// clock. Each page of keys is read with one pipelined round trip and
// deleted with another, each key by a script that checks again that it has
// expired, so a session committed meanwhile is never deleted. Each round
// trip is bounded by Config.Timeout or DefaultTimeout.
func (s *RedisStore) DeleteExpired(ctx context.Context) (int64, error) {
	nodes, err := s.masters(ctx)
	if err != nil {
		return 0, fmt.Errorf("redisstore: delete expired: %w", err)
	}
	now := s.now()
	nowMs, cutoffMs := floorMs(now), floorMs(s.policy.Cutoff(now))
	var n int64
	for _, node := range nodes {
		scripts := []*redis.Script{expireSessionScript, expireTombstoneScript}
		if s.owner != nil {
			scripts = append(scripts, idxExpireScript)
		}
		for _, sc := range scripts {
			if err := s.loadScript(ctx, node, sc); err != nil {
				return n, fmt.Errorf("redisstore: delete expired: %w", err)
			}
		}
		err := s.scanKeys(ctx, node, s.prefix, func(keys []string) error {
			d, err := s.expireSessions(ctx, node, keys, nowMs)
			n += d
			return err
		})
		if err != nil {
			return n, fmt.Errorf("redisstore: delete expired: %w", err)
		}
		err = s.scanKeys(ctx, node, s.tombPrefix, func(keys []string) error {
			d, err := s.expireTombstones(ctx, node, keys, cutoffMs)
			n += d
			return err
		})
		if err != nil {
			return n, fmt.Errorf("redisstore: delete expired: %w", err)
		}
	}
	return n, nil
}

func (s *RedisStore) loadScript(ctx context.Context, node redis.UniversalClient, sc *redis.Script) error {
	ctx, cancel := context.WithTimeout(ctx, s.bounded())
	defer cancel()
	return sc.Load(ctx, node).Err()
}

// pexpiretimes reads the PEXPIRETIME of keys in one pipelined round trip:
// -1 for a key without an expiry, -2 for one that is gone, else
// milliseconds since the Unix epoch.
func pexpiretimes(ctx context.Context, node redis.UniversalClient, keys []string) ([]int64, error) {
	pipe := node.Pipeline()
	cmds := make([]*redis.Cmd, len(keys))
	for i, k := range keys {
		// Not pipe.PExpireTime: its Duration overflows past the year 2262.
		cmds[i] = pipe.Do(ctx, "PEXPIRETIME", k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]int64, len(keys))
	for i, c := range cmds {
		ms, err := c.Int64()
		if err != nil {
			return nil, err
		}
		out[i] = ms
	}
	return out, nil
}

// expireSessions deletes the expired session keys among keys: one round
// trip reads their Redis expiries, another runs expireSessionScript on
// those that may have expired.
func (s *RedisStore) expireSessions(ctx context.Context, node redis.UniversalClient, keys []string, nowMs int64) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.bounded())
	defer cancel()
	ttls, err := pexpiretimes(ctx, node, keys)
	if err != nil {
		return 0, err
	}
	var cands []string
	for i, ms := range ttls {
		if ms == -1 || (ms >= 0 && ms <= nowMs+s.skewMs) {
			cands = append(cands, keys[i])
		}
	}
	if s.owner != nil {
		return s.expireIndexed(ctx, node, cands, nowMs)
	}
	return s.runEach(ctx, node, expireSessionScript, cands, func(k string) []string { return []string{k} }, nowMs, s.skewMs, magic)
}

// expireTombstones deletes the tombstones among keys that expired at or
// before cutoffMs, with the session keys beside them. A tombstone's expiry
// is its PXAT less ClockSkew.
func (s *RedisStore) expireTombstones(ctx context.Context, node redis.UniversalClient, keys []string, cutoffMs int64) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.bounded())
	defer cancel()
	ttls, err := pexpiretimes(ctx, node, keys)
	if err != nil {
		return 0, err
	}
	var cands []string
	for i, ms := range ttls {
		if ms == -1 {
			// No expiry: not a tombstone this store wrote. Leave it.
			s.log.Warn("redisstore: delete expired: a key under the tombstone prefix has no expiry; left alone", "key", keys[i])
			continue
		}
		if ms >= 0 && ms-s.skewMs <= cutoffMs {
			if tok, ok := s.tokenOfTombstone(keys[i]); ok && s.tombstoneKey(tok) == keys[i] {
				cands = append(cands, tok)
			}
		}
	}
	return s.runEach(ctx, node, expireTombstoneScript, cands, func(tok string) []string {
		return []string{s.tombstoneKey(tok), s.sessionKey(tok)}
	}, cutoffMs, s.skewMs)
}

// runEach runs sc (already loaded on node) for each item in one pipelined
// round trip and returns how many returned 1.
func (s *RedisStore) runEach(ctx context.Context, node redis.UniversalClient, sc *redis.Script, items []string, keys func(string) []string, args ...any) (int64, error) {
	if len(items) == 0 {
		return 0, nil
	}
	pipe := node.Pipeline()
	cmds := make([]*redis.Cmd, len(items))
	for i, it := range items {
		cmds[i] = sc.EvalSha(ctx, pipe, keys(it), args...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	var n int64
	for _, c := range cmds {
		if v, _ := c.Int64(); v == 1 {
			n++
		}
	}
	return n, nil
}

// StopCleanup does nothing: the store runs no cleanup goroutine, since Redis
// expires keys itself (see DeleteExpired). It exists so that the store has
// the methods of the others in this repository.
func (s *RedisStore) StopCleanup() {}
