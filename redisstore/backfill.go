package redisstore

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore"
)

// idxBackfillScript indexes one session read by Migrate, if it is still as
// Migrate read it. KEYS: session, tombstone, metadata and, with an owner,
// the owner's set of the tag. ARGV: the SHA-1 (hex) of the value read and
// of its data alone (a value in goredisstore's layout is the bare data),
// token, userBase(tag), now (metaMicros), the owner's field ("" for
// none), the metadata from the tag on (metaTail, no client).
// A session with a tombstone, gone, or changed since the read (its Commit,
// by a store with the index, indexed it itself) is left alone; so is one
// whose metadata already names the owner. Otherwise a stale entry (another
// owner, written before a replica without the index changed the data) is
// removed, and the owner's entry written, with the session's own PXAT.
// Returns 1 if it changed the index.
var idxBackfillScript = redis.NewScript(luaUnindex + luaOwns + `
local tok, base = ARGV[3], ARGV[4]
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local h = redis.sha1hex(v)
if h ~= ARGV[1] and h ~= ARGV[2] then return 0 end
local m = meta(KEYS[3], KEYS[1])
local own = ARGV[6]
local same = owns(m, own)
if same or (not m and own == '') then return 0 end
unindex(KEYS[3], KEYS[1], base, tok)
if own == '' then return 1 end
local px = redis.call('PEXPIRETIME', KEYS[1])
if px < 0 then return 0 end
local hd = string.sub(v, 1, 12)
if #hd < 12 then hd = string.rep('\0', 12) end
redis.call('SET', KEYS[3], hd .. ARGV[5] .. ARGV[5] .. ARGV[7], 'PXAT', px)
redis.call('ZADD', KEYS[4], px, tok)
if redis.call('PEXPIRETIME', KEYS[4]) < px then redis.call('PEXPIREAT', KEYS[4], px) end
return 1
`)

// Migrate turns the per-user index on for the sessions that existed before
// it (Config.Owner set on a store whose sessions were committed without
// it): it SCANs every master, reads each page of live sessions, reads each
// one's owner with Config.Owner, and indexes those not indexed yet, one
// atomic script per session, pipelined per page. A session committed,
// deleted or expired between the read and the script is left as that
// operation left it; a session whose data names another owner than its
// entry (a replica without the index changed it) is moved to the right
// owner, and one whose data names none loses its entry. It is idempotent
// and safe while the application serves requests; run it once every
// replica runs with the index, and again to catch up after a replica ran
// without it. A session whose owner Config.Owner cannot read is skipped
// and counted in the error. It returns the number of sessions whose entry
// it wrote or removed. Without Config.Owner it fails with an error
// matching sessionstore.ErrNoIndex.
func (s *RedisStore) Migrate(ctx context.Context) (int64, error) {
	if s.owner == nil {
		return 0, errNoIndex("migrate")
	}
	fail := func(err error) error { return fmt.Errorf("redisstore: migrate: %w", err) }
	nodes, err := s.masters(ctx)
	if err != nil {
		return 0, fail(err)
	}
	for _, node := range nodes {
		for _, sc := range []*redis.Script{idxBackfillScript, idxSlotsScript} {
			if err := s.loadScript(ctx, node, sc); err != nil {
				return 0, fail(err)
			}
		}
	}
	var changed, unreadable int64
	for _, node := range nodes {
		var page []sessionstore.Session
		err := s.scanKeys(ctx, node, s.prefix, func(keys []string) error {
			page = page[:0]
			if err := s.readPage(ctx, node, keys, &page); err != nil {
				return err
			}
			n, bad, err := s.backfillPage(ctx, node, page)
			changed += n
			unreadable += bad
			return err
		})
		if err != nil {
			return changed, fail(err)
		}
	}
	if unreadable > 0 {
		return changed, fail(fmt.Errorf("%d sessions skipped: %w", unreadable, sessionstore.ErrInvalidOwner))
	}
	return changed, nil
}

// backfillPage indexes the sessions of one page read from node: on a
// cluster, first the tags of their owners' sets of tags (a session is
// never in a set whose tag its owner's set of tags lacks), then one
// idxBackfillScript per session, each in one pipelined round trip.
func (s *RedisStore) backfillPage(ctx context.Context, node redis.UniversalClient, page []sessionstore.Session) (changed, unreadable int64, err error) {
	if len(page) == 0 {
		return 0, 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.bounded())
	defer cancel()
	var keep []sessionstore.Session // the sessions whose owner could be read
	var owners []string             // and their owners, in the same order
	for _, sess := range page {
		owner, err := s.owner.Read(sess.Data)
		if err != nil {
			unreadable++
			continue
		}
		keep = append(keep, sess)
		owners = append(owners, owner)
	}
	nowUs := metaMicros(s.now())
	if s.clustered {
		pipe := s.client.Pipeline()
		for i, sess := range keep {
			if owners[i] == "" {
				continue
			}
			// Until the latest a session can last: MaxExpiry plus ClockSkew
			// would do, but the set's own PXAT only ever moves later, so
			// the session's expiry plus twice ClockSkew, as Commit gives it.
			until := ceilMs(sess.Expiry) + 2*s.skewMs
			idxSlotsScript.EvalSha(ctx, pipe, []string{s.slotsKey(owners[i])}, s.idxTag(sess.Token), until)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return 0, unreadable, err
		}
	}
	pipe := node.Pipeline()
	cmds := make([]*redis.Cmd, len(keep))
	for i, sess := range keep {
		tok := sess.Token
		tag := s.idxTag(tok)
		base := s.userBase(tag)
		keys := []string{s.sessionKey(tok), s.tombstoneKey(tok), s.metaBase(tag) + tok}
		if owners[i] != "" {
			keys = append(keys, base+owners[i])
		}
		var own, tail string
		if owners[i] != "" {
			own, tail = s.ownerMeta(tok, owners[i], "", "")
		}
		cmds[i] = idxBackfillScript.EvalSha(ctx, pipe, keys, sha1hex(encodeValue(sess.Data, sess.Expiry)), sha1hex(sess.Data),
			tok, base, nowUs, own, tail)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, unreadable, err
	}
	for _, c := range cmds {
		if v, _ := c.Int64(); v == 1 {
			changed++
		}
	}
	return changed, unreadable, nil
}

func sha1hex(b []byte) string {
	h := sha1.Sum(b)
	return hex.EncodeToString(h[:])
}
