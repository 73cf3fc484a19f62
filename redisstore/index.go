package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore"
)

var _ sessionstore.UserIndex = (*RedisStore)(nil)

// The per-user index (Config.Owner set). Keys, all under IndexPrefix, whose
// first brace pair is the hash tag (IndexPrefix holds no '{'):
//
//	IndexPrefix + "{" + tag + "}m" + token   string: the session's metadata
//	IndexPrefix + "{" + tag + "}u" + user    sorted set: the user's tokens
//	                                         (score: the session key's PXAT)
//	IndexPrefix + "{" + utag + "}s" + user   set: the tags in use (cluster)
//
// tag is the session key's slot tag (see keys.go) on a cluster, so that the
// metadata and the user's set of the slot are in the session's slot and one
// script keeps them with the session; on a single server or Sentinel it is
// empty ("{}"), so that a user has one set. utag is the slot tag of the
// CRC16 of user: the user's own slot.
//
// The metadata is one string (meta.go): the session value's header as the
// script wrote it, last seen and created, then the tombstone key's tag, the
// owner, the user agent and IP. Its fixed-width front lets the scripts
// reach each part without parsing: a re-Commit replaces the front and keeps
// the rest by one string.sub, and a listing reads all of a set's metadata
// with one MGET and checks the sessions and tombstones with one EXISTS each,
// so that its cost does not grow by calls for each session. Before
// 2026-12-04 the metadata was a hash (fields o, c, s, u, i, t); every script
// that reads one (meta in luaMeta) rewrites it in this layout first,
// keeping its PXAT.
//
// The invariants, kept by the scripts: a token is in user's set of its tag
// if and only if (at the end of each script) its metadata names user as
// owner, or its entry has expired; the metadata and the entry are written
// by the script that writes the session, and removed by every script that
// removes the session (Commit of another owner, or of none, or of an
// expired expiry, Delete, DeleteExpired, the revokes). The metadata has the
// session key's PXAT; a sorted set at least the highest score of its
// entries (exactly that after a script that removes entries; a Commit that
// moves a session's expiry earlier leaves the set's PXAT where it was, so a
// set may outlive its entries by that much). On a
// cluster, the tag of every live owned session is in the user's set of
// tags: Commit adds it (and extends that set's PXAT to the session's)
// before the script that writes the session, and nothing removes a tag but
// the set's expiry, so a crash between the two steps leaves at most a tag
// without sessions, never a session without its tag.

// tagCache remembers, for a while, the tags this store has put in users'
// sets of tags and the PXAT it gave the set, so that a Commit of a session
// whose tag is in its owner's set, with a PXAT at least the session's, can
// skip the first step. That is sound because nothing removes a tag from a
// set or moves a set's PXAT earlier (idxSlotsScript only extends it): the
// set keeps the tag at least until the PXAT remembered. It holds as long as
// Redis keeps what it acknowledged; since a failover to a replica that had
// not received the set's last write, or an eviction, can lose a set, an
// entry is trusted for tagTrust only, after which the next Commit writes
// the tag again.
type tagCache struct {
	mu sync.Mutex
	m  map[string]tagSeen
}

type tagSeen struct {
	pxat int64
	at   time.Time // time.Now, monotonic
}

const (
	tagTrust    = time.Minute
	tagCacheMax = 1 << 16 // entries; the cache is emptied when full
)

func (c *tagCache) covers(user, tag string, pxat int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[user+"\x00"+tag]
	return ok && e.pxat >= pxat && time.Since(e.at) < tagTrust
}

func (c *tagCache) add(user, tag string, pxat int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= tagCacheMax {
		c.m = make(map[string]tagSeen)
	}
	c.m[user+"\x00"+tag] = tagSeen{pxat: pxat, at: time.Now()}
}

// idxTag is the tag of token's index keys: its session key's slot tag on a
// cluster, "" on one node.
func (s *RedisStore) idxTag(token string) string {
	if !s.clustered {
		return ""
	}
	return slotTag(keySlot(s.prefix + token))
}

func (s *RedisStore) idxBase(tag string, kind byte) string {
	var b strings.Builder
	b.Grow(len(s.idxPrefix) + len(tag) + 3)
	b.WriteString(s.idxPrefix)
	b.WriteByte('{')
	b.WriteString(tag)
	b.WriteByte('}')
	b.WriteByte(kind)
	return b.String()
}

// userBase is the key of a user's set of tag, less the user.
func (s *RedisStore) userBase(tag string) string { return s.idxBase(tag, 'u') }

// metaBase is the key of a token's metadata, less the token.
func (s *RedisStore) metaBase(tag string) string { return s.idxBase(tag, 'm') }

// slotsKey is the key of user's set of tags (on a cluster).
func (s *RedisStore) slotsKey(user string) string {
	return s.idxBase(slotTag(int(crc16(user)&(numSlots-1))), 's') + user
}

// The Lua the index scripts share, each script taking only the functions
// it calls (a function costs its script a closure on every run).
//
// luaField: field(m, pos) reads the length-prefixed field ("len:bytes")
// that starts at pos in m and returns it (nil if m holds none there).
// luaMeta: meta(k, sk) returns the metadata at k, whose session key is sk,
// or false if there is none; a hash at k (the layout before 2026-12-04) is
// first rewritten in the current layout, keeping its PXAT, with the header
// read from sk. luaTag: tagof(m) returns the tombstone's "{tag}" of
// metadata m (nil or false if m is none). luaOwns (after luaTag):
// owns(m, own) returns it if m names the owner whose field is own, else
// false or nil. luaFit: fit(z) sets a sorted set's PXAT to its highest
// score, so that it never outlives its entries. luaUnindex (with luaField,
// luaMeta, luaTag and luaFit): unindex(k, sk, base, tok) removes tok's
// metadata and its entry in the set of its owner (base .. owner). luaTomb: tomb(sk, tk, untilMs,
// skewMs, maxMs) is Delete's tombstone rule (deleteTomb): it deletes the
// session sk and writes its tombstone tk (value tombValue) with a PXAT of
// the latest of sk's PXAT, tk's PXAT and untilMs (capped at maxMs) plus
// skewMs, unless neither key exists; it returns 1 if it wrote one.
//
// In Lua the metadata's offsets are one more than metaSeenAt and the
// others (meta.go): last seen from 13, created from 29, "{tag}" from 45,
// the owner's field just after it.
const (
	luaField = `
local function field(m, pos)
  local c = string.find(m, ':', pos, true)
  if not c then return nil end
  local n = tonumber(string.sub(m, pos, c - 1))
  if not n or c + n > #m then return nil end
  return string.sub(m, c + 1, c + n)
end
`
	luaMeta = `
local function meta(k, sk)
  local m = redis.pcall('GET', k)
  if type(m) ~= 'table' then return m end
  local h = redis.call('HMGET', k, 'o', 't', 'c', 's', 'u', 'i')
  if not h[1] or not h[2] then
    redis.call('DEL', k)
    return false
  end
  local function us(v)
    v = v or '0'
    if #v > 16 then return '0000000000000000' end
    return string.rep('0', 16 - #v) .. v
  end
  local function f(v)
    v = v or ''
    return #v .. ':' .. v
  end
  local hd = redis.call('GETRANGE', sk, 0, 11)
  if #hd < 12 then hd = string.rep('\0', 12) end
  m = hd .. us(h[4]) .. us(h[3]) .. '{' .. h[2] .. '}' .. f(h[1]) .. f(h[5]) .. f(h[6])
  redis.call('SET', k, m, 'KEEPTTL')
  return m
end
`
	luaTag = `
local function tagof(m)
  return m and string.match(m, '^{%w+}', 45)
end
`
	luaOwns = `
local function owns(m, own)
  local t = own ~= '' and tagof(m)
  return t and string.sub(m, 45 + #t, 44 + #t + #own) == own and t
end
`
	luaFit = `
local function fit(z)
  local top = redis.call('ZRANGE', z, -1, -1, 'WITHSCORES')
  if top[2] then redis.call('PEXPIREAT', z, top[2]) end
end
`
	luaUnindex = luaField + luaMeta + luaTag + luaFit + `
local function unindex(k, sk, base, tok)
  local m = meta(k, sk)
  if not m then return end
  local t = tagof(m)
  local old = t and field(m, 45 + #t)
  if old then
    local z = base .. old
    if redis.call('ZREM', z, tok) == 1 then fit(z) end
  end
  redis.call('DEL', k)
end
`
	luaTomb = `
local function tomb(sk, tk, untilMs, skewMs, maxMs)
  local e = redis.call('PEXPIRETIME', sk)
  local te = redis.call('PEXPIRETIME', tk)
  if e == -2 and te == -2 then return 0 end
  local skew = tonumber(skewMs)
  local px = tonumber(untilMs)
  local max = tonumber(maxMs)
  if px > max then px = max end
  px = px + skew
  if e > px then px = e end
  if te > px then px = te end
  redis.call('DEL', sk)
  redis.call('SET', tk, '` + tombValue + `', 'PXAT', string.format('%.0f', px))
  return 1
end
`
)

// idxCommitScript is commitScript with the index. KEYS: session,
// tombstone, metadata and, with an owner, the owner's set of the tag.
// ARGV: value, PXAT (ms), token, userBase(tag), the metadata's first
// metaCreatedAt bytes (header and last seen), its created time for a new
// owner, now (ms), owner's field ("" for no owner), the metadata from its
// tag on (metaTail), "1" if a client is given. While the owner stays, the
// metadata keeps its created time and, unless a client is given, its user
// agent and IP. When the token is new in the owner's set, the set's entries
// whose PXAT has passed are pruned (a re-Commit, the common case, skips
// that); the set's PXAT is extended to the session's if it is earlier.
// Returns 1 if written, 0 if tombstoned. The functions of luaMeta and
// luaUnindex are defined in the branches that call them, so that a
// re-Commit of the same owner, the common case, creates two closures
// (tagof, owns) instead of six (1 to 1.5 µs of Redis time a Commit on the AMD VM
// of docs/redisstore.md).
var idxCommitScript = redis.NewScript(luaTag + luaOwns + `
local own = ARGV[8]
local m = redis.pcall('GET', KEYS[3])
if m and m.err then` + luaMeta + `
  m = meta(KEYS[3], KEYS[1])
end
local same = owns(m, own)
if redis.call('EXISTS', KEYS[2]) == 1 then
  if m then` + luaUnindex + `
    unindex(KEYS[3], KEYS[1], ARGV[4], ARGV[3])
  end
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
if not same then
  if m then` + luaUnindex + `
    unindex(KEYS[3], KEYS[1], ARGV[4], ARGV[3])
  end
  if own == '' then return 1 end
  redis.call('SET', KEYS[3], ARGV[5] .. ARGV[6] .. ARGV[9], 'PXAT', ARGV[2])
elseif ARGV[10] == '1' then
  redis.call('SET', KEYS[3], ARGV[5] .. string.sub(m, 29, 44) .. ARGV[9], 'PXAT', ARGV[2])
else
  redis.call('SET', KEYS[3], ARGV[5] .. string.sub(m, 29), 'PXAT', ARGV[2])
end
if redis.call('ZADD', KEYS[4], ARGV[2], ARGV[3]) == 1 then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[7])
end
if redis.call('PEXPIRETIME', KEYS[4]) < tonumber(ARGV[2]) then
  redis.call('PEXPIREAT', KEYS[4], ARGV[2])
end
return 1
`)

// idxDropScript is Commit of an expiry already past with the index: the
// session goes, and its index entry. KEYS: session, metadata. ARGV:
// token, userBase(tag).
var idxDropScript = redis.NewScript(luaUnindex + `
unindex(KEYS[2], KEYS[1], ARGV[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 1
`)

// idxDeleteScript is Delete with the index: deleteTomb's rule (tomb) and
// the index entry's removal in one script. KEYS: session, tombstone,
// metadata. ARGV: until (ms), ClockSkew (ms), MaxExpiry (ms), token,
// userBase(tag).
var idxDeleteScript = redis.NewScript(luaUnindex + luaTomb + `
unindex(KEYS[3], KEYS[1], ARGV[5], ARGV[4])
return tomb(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
`)

// idxSlotsScript adds a tag to a user's set of tags and extends the set's
// PXAT to at least ARGV[2]. KEYS: the set. ARGV: tag, PXAT.
var idxSlotsScript = redis.NewScript(`
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PEXPIRETIME', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
return 1
`)

// idxListScript lists a user's sessions in one set: the entries that have
// metadata, whose session key exists and whose tombstone does not (the
// caller checks that the metadata names the user, which the scripts keep
// true of every entry, and that its header's expiry has not passed). It
// reads the tokens and their metadata (r below, token and metadata in
// turn), then checks the session keys with one EXISTS and the tombstones
// with one more (a key at a time only when one of those finds a key
// missing or present), in batches of listBatch, so that listing ten
// sessions costs about the calls of listing one. Entries whose session and
// metadata are both gone are removed, and only then is the set's PXAT
// fitted: a listing that finds nothing to clean writes nothing, and one
// that drops nothing returns what it read (r) without copying it. KEYS:
// the set. ARGV: Prefix, TombstonePrefix, metaBase(tag). Returns token and
// metadata for each.
//
// On a single server (idxListSortScript) one SORT ... GET reads the tokens
// and their metadata in C: building the keys in Lua costs more than the
// rest of the listing (metaBase holds no '*', which SORT's pattern takes
// for the token: NewWithConfig checks). Redis 7.0 refuses SORT's GET in
// cluster mode, so on a cluster (idxListScript) ZRANGE reads the tokens
// and MGET their metadata.
var (
	idxListScript     = redis.NewScript(listScript(luaListMget))
	idxListSortScript = redis.NewScript(listScript(luaListSort))
)

const (
	luaListSort = `
local r = redis.call('SORT', z, 'BY', 'nosort', 'GET', '#', 'GET', ARGV[3] .. '*')
`
	luaListMget = `
local toks = redis.call('ZRANGE', z, 0, -1)
local r = {}
for b = 1, #toks, ` + listBatch + ` do
  local mk = {}
  for i = b, math.min(b + ` + listBatch + ` - 1, #toks) do mk[#mk + 1] = ARGV[3] .. toks[i] end
  local ms = redis.call('MGET', unpack(mk))
  for j = 1, #mk do
    r[#r + 1] = toks[b + j - 1]
    r[#r + 1] = ms[j]
  end
end
`
)

func listScript(read string) string {
	return luaField + luaMeta + luaTag + luaFit + `
local z = KEYS[1]` + read + `
local dirty, drop, dropped = false, {}, false
for b = 1, #r, 2 * ` + listBatch + ` do
  local gi, gk, tk, n = {}, {}, {}, 0
  for i = b, math.min(b + 2 * ` + listBatch + ` - 1, #r), 2 do
    local tok, m = r[i], r[i + 1]
    if not m then
      m = meta(ARGV[3] .. tok, ARGV[1] .. tok)
      r[i + 1] = m
    end
    local t = tagof(m)
    if t then
      n = n + 1
      gi[n], gk[n], tk[n] = i, ARGV[1] .. tok, ARGV[2] .. t .. tok
    else
      drop[i], dropped = true, true
      if not m and redis.call('EXISTS', ARGV[1] .. tok) == 0 then
        redis.call('ZREM', z, tok)
        dirty = true
      end
    end
  end
  if n > 0 and (redis.call('EXISTS', unpack(gk)) ~= n or redis.call('EXISTS', unpack(tk)) ~= 0) then
    for g = 1, n do
      if redis.call('EXISTS', gk[g]) == 0 or redis.call('EXISTS', tk[g]) == 1 then
        drop[gi[g]], dropped = true, true
      end
    end
  end
end
if dirty then fit(z) end
if not dropped then return r end
local out = {}
for i = 1, #r, 2 do
  if not drop[i] then
    out[#out + 1] = r[i]
    out[#out + 1] = r[i + 1]
  end
end
return out
`
}

// listBatch is how many keys idxListScript gives one MGET or EXISTS: well
// under the Lua stack's limit on unpack (about 8,000).
const listBatch = "500"

// idxRevokeScript deletes, as Delete does (tombstone included), the
// sessions of a user in one set: all but the tokens given (ARGV[9] "k") or
// only those (ARGV[9] "o"). Entries whose metadata does not name the user
// are removed from the set without touching their session. KEYS: the set.
// ARGV: now (ms), Prefix, TombstonePrefix, metaBase(tag), the user's owner
// field, Delete's until, ClockSkew and maximum (ms), "k" or "o", tokens.
// Returns the header of each session deleted ("" if its key was gone).
var idxRevokeScript = redis.NewScript(luaField + luaMeta + luaTag + luaOwns + luaFit + luaTomb + `
local set = {}
for i = 10, #ARGV do set[ARGV[i]] = true end
local keep, own = ARGV[9] == 'k', ARGV[5]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local out = {}
for _, tok in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if (set[tok] == true) ~= keep then
    local mk, sk = ARGV[4] .. tok, ARGV[2] .. tok
    local m = meta(mk, sk)
    local t = owns(m, own)
    if t then
      out[#out+1] = redis.call('GETRANGE', sk, 0, 11)
      tomb(sk, ARGV[3] .. t .. tok, ARGV[6], ARGV[7], ARGV[8])
      redis.call('DEL', mk)
    end
    redis.call('ZREM', KEYS[1], tok)
  end
end
fit(KEYS[1])
return out
`)

// idxExpireScript is expireSessionScript with the index: it also removes
// the metadata and the set entry of the session it deletes. KEYS: session,
// metadata. ARGV: expireSessionScript's three, token, userBase(tag).
var idxExpireScript = redis.NewScript(luaUnindex + `
local e = redis.call('PEXPIRETIME', KEYS[1])
if e == -2 then return 0 end
local limit = tonumber(ARGV[1])
if redis.call('GETRANGE', KEYS[1], 0, 3) == ARGV[3] then limit = limit + tonumber(ARGV[2]) end
if e == -1 or e <= limit then
  unindex(KEYS[2], KEYS[1], ARGV[5], ARGV[4])
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`)

// expireIndexed is the index's version of expireSessions' last step: it
// runs idxExpireScript on each candidate session key, in one pipelined
// round trip, and returns how many it deleted.
func (s *RedisStore) expireIndexed(ctx context.Context, node redis.UniversalClient, keys []string, nowMs int64) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	pipe := node.Pipeline()
	cmds := make([]*redis.Cmd, len(keys))
	for i, k := range keys {
		tok := k[len(s.prefix):]
		tag := s.idxTag(tok)
		cmds[i] = idxExpireScript.EvalSha(ctx, pipe, []string{k, s.metaBase(tag) + tok}, nowMs, s.skewMs, magic, tok, s.userBase(tag))
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

func errNoIndex(op string) error {
	return fmt.Errorf("redisstore: %s: %w", op, sessionstore.ErrNoIndex)
}

// indexedCommit is CommitCtx with the index on (its input already checked).
// written is false when the token is tombstoned or expiry is past.
func (s *RedisStore) indexedCommit(ctx context.Context, token string, b []byte, expiry time.Time) (written bool, err error) {
	owner, err := s.owner.Read(b)
	if err != nil {
		return false, fmt.Errorf("redisstore: commit: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("redisstore: commit: %w", err)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	now := s.now()
	tag := s.idxTag(token)
	base := s.userBase(tag)
	meta := s.metaBase(tag) + token
	if !expiry.After(now) {
		err := idxDropScript.Run(ctx, s.client, []string{s.sessionKey(token), meta}, token, base).Err()
		if err != nil {
			return false, fmt.Errorf("redisstore: commit: %w", err)
		}
		return false, nil
	}
	pxat := ceilMs(expiry) + s.skewMs
	keys := []string{s.sessionKey(token), s.tombstoneKey(token), meta}
	if owner != "" {
		keys = append(keys, base+owner)
		if s.clustered && !s.tagsSeen.covers(owner, tag, pxat) {
			// First the tag, then the session: a session is never without
			// its tag in the user's set (see above). The set is given
			// ClockSkew more than the session needs, so that the sliding
			// Commits of the next minutes can skip this step.
			until := pxat + s.skewMs
			err := idxSlotsScript.Run(ctx, s.client, []string{s.slotsKey(owner)}, tag, until).Err()
			if err != nil {
				return false, fmt.Errorf("redisstore: commit: index: %w", err)
			}
			s.tagsSeen.add(owner, tag, until)
		}
	}
	v := encodeValue(b, expiry)
	var own, tail, hasClient string
	if owner != "" {
		var ua, ip string
		if c, ok := sessionstore.ClientFromContext(ctx); ok {
			hasClient, ua, ip = "1", c.UserAgent, c.IP
		}
		own, tail = s.ownerMeta(token, owner, ua, ip)
	}
	nowUs := metaMicros(now)
	n, err := idxCommitScript.Run(ctx, s.client, keys, v, pxat, token, base,
		string(v[:headerLen])+nowUs, nowUs, floorMs(now), own, tail, hasClient).Int64()
	if err != nil {
		return false, fmt.Errorf("redisstore: commit: %w", err)
	}
	return n == 1, nil
}

// ownerMeta returns, for the scripts that index token under owner, the
// owner's field and the metadata from the tag on.
func (s *RedisStore) ownerMeta(token, owner, ua, ip string) (own, tail string) {
	return metaField(owner), metaTail(slotTag(keySlot(s.sessionKey(token))), owner, ua, ip)
}

// indexedDelete is DeleteCtx with the index on.
func (s *RedisStore) indexedDelete(ctx context.Context, token string, until int64) error {
	tag := s.idxTag(token)
	keys := []string{s.sessionKey(token), s.tombstoneKey(token), s.metaBase(tag) + token}
	err := idxDeleteScript.Run(ctx, s.client, keys, until, s.skewMs, floorMs(sessionstore.MaxExpiry), token, s.userBase(tag)).Err()
	if err != nil {
		return fmt.Errorf("redisstore: delete: %w", err)
	}
	return nil
}

// userTags returns the tags of user's sets: the one set of a single
// server, or the members of the user's set of tags on a cluster.
func (s *RedisStore) userTags(ctx context.Context, user string) ([]string, error) {
	if !s.clustered {
		return []string{""}, nil
	}
	tags, err := s.client.SMembers(ctx, s.slotsKey(user)).Result()
	if err != nil {
		return nil, err
	}
	slices.Sort(tags)
	return tags, nil
}

// evalEach runs sc once per tag, in one pipelined round trip (a cluster
// client sends each to its node, in parallel), keys and args given by
// call. The calls a node refused with NOSCRIPT (which runs nothing) are
// sent again by EVAL; the others are never sent twice.
func (s *RedisStore) evalEach(ctx context.Context, sc *redis.Script, tags []string, call func(tag string) ([]string, []any)) ([]*redis.Cmd, error) {
	cmds := make([]*redis.Cmd, len(tags))
	pipe := s.client.Pipeline()
	for i, tag := range tags {
		keys, args := call(tag)
		cmds[i] = sc.EvalSha(ctx, pipe, keys, args...)
	}
	_, err := pipe.Exec(ctx)
	if err == nil {
		return cmds, nil
	}
	var again []int
	for i, c := range cmds {
		if err := c.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		pipe = s.client.Pipeline()
		for _, i := range again {
			keys, args := call(tags[i])
			cmds[i] = sc.Eval(ctx, pipe, keys, args...)
		}
		_, err = pipe.Exec(ctx)
	}
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return nil, err
		}
	}
	// An error no command carries kept the pipeline from being sent (a
	// connection that failed its set-up, say): the commands hold nothing.
	if err != nil {
		return nil, err
	}
	return cmds, nil
}

// UserSessions returns the live sessions of user (see
// sessionstore.UserIndex), most recently seen first: one script on a
// single server; on a cluster, the user's set of tags, then one script per
// tag, pipelined. Every entry is checked as it is read: the session key
// exists, in this store's layout, with an expiry after now by Config.Now,
// its metadata names user, and its token has no tombstone.
func (s *RedisStore) UserSessions(ctx context.Context, user string) ([]sessionstore.UserSession, error) {
	list, _, err := s.userSessions(ctx, "user sessions", user)
	return list, err
}

// userSessions returns user's live sessions and their tokens, in the same
// order.
func (s *RedisStore) userSessions(ctx context.Context, op, user string) ([]sessionstore.UserSession, []string, error) {
	if s.owner == nil {
		return nil, nil, errNoIndex(op)
	}
	if user == "" {
		return nil, nil, nil // "" is no owner: never indexed
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tags, err := s.userTags(ctx, user)
	if err != nil {
		return nil, nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	now := s.now()
	script := idxListSortScript
	if s.clustered {
		script = idxListScript
	}
	cmds, err := s.evalEach(ctx, script, tags, func(tag string) ([]string, []any) {
		return []string{s.userBase(tag) + user}, []any{s.prefix, s.tombPrefix, s.metaBase(tag)}
	})
	if err != nil {
		return nil, nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	type entry struct {
		us  sessionstore.UserSession
		tok string
	}
	var entries []entry
	for _, c := range cmds {
		vals, err := c.StringSlice()
		if err != nil {
			return nil, nil, fmt.Errorf("redisstore: %s: %w", op, err)
		}
		for i := 0; i+2 <= len(vals); i += 2 {
			tok := vals[i]
			m, ok := parseMeta(vals[i+1])
			if !ok || m.owner != user {
				continue // not this store's metadata
			}
			_, expiry, ok := decodeValue([]byte(m.header))
			if !ok || !expiry.After(now) {
				continue // another layout (written behind the store), or expired
			}
			entries = append(entries, entry{tok: tok, us: sessionstore.UserSession{
				ID:        sessionstore.SessionID(tok),
				Created:   m.created,
				LastSeen:  m.seen,
				Expiry:    expiry,
				UserAgent: m.userAgent,
				IP:        m.ip,
			}})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if c := b.us.LastSeen.Compare(a.us.LastSeen); c != 0 {
			return c
		}
		return strings.Compare(a.us.ID, b.us.ID)
	})
	list := make([]sessionstore.UserSession, len(entries))
	toks := make([]string, len(entries))
	for i, e := range entries {
		list[i], toks[i] = e.us, e.tok
	}
	return list, toks, nil
}

// CountUserSessions returns the number of live sessions of user, checked
// as UserSessions checks them.
func (s *RedisStore) CountUserSessions(ctx context.Context, user string) (int, error) {
	list, _, err := s.userSessions(ctx, "count user sessions", user)
	return len(list), err
}

// DeleteUserSession deletes the session of user whose UserSession.ID is
// id, with its tombstone, and reports whether there was one. The deletion
// is a script on the user's set of the session's slot that deletes the
// token only if its metadata still names user, so a session that changed
// owner meanwhile is never deleted. Like Delete, it completes when ctx is
// cancelled.
func (s *RedisStore) DeleteUserSession(ctx context.Context, user, id string) (bool, error) {
	const op = "delete user session"
	if s.owner == nil {
		return false, errNoIndex(op)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.bounded())
	defer cancel()
	list, toks, err := s.userSessions(ctx, op, user)
	if err != nil {
		return false, err
	}
	for i, us := range list {
		if us.ID == id {
			n, err := s.revoke(ctx, op, user, []string{s.idxTag(toks[i])}, "o", toks[i:i+1])
			return n > 0, err
		}
	}
	return false, nil
}

// DeleteUserSessions deletes every session of user, each with its
// tombstone, and returns how many live ones it deleted: one script per set
// of the user (one on a single server; on a cluster, after reading the
// user's set of tags, one per tag, pipelined). Each script is atomic on its
// slot, so a Commit of one of the tokens racing it either lands before
// (and is deleted) or after (and finds the tombstone). Like Delete, it
// completes when ctx is cancelled.
func (s *RedisStore) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	return s.deleteUserSessions(ctx, "delete user sessions", user, nil)
}

// DeleteUserSessionsExcept is DeleteUserSessions sparing the sessions of
// the tokens in keep.
func (s *RedisStore) DeleteUserSessionsExcept(ctx context.Context, user string, keep ...string) (int, error) {
	return s.deleteUserSessions(ctx, "delete user sessions", user, keep)
}

func (s *RedisStore) deleteUserSessions(ctx context.Context, op, user string, keep []string) (int, error) {
	if s.owner == nil {
		return 0, errNoIndex(op)
	}
	if user == "" {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.bounded())
	defer cancel()
	tags, err := s.userTags(ctx, user)
	if err != nil {
		return 0, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return s.revoke(ctx, op, user, tags, "k", keep)
}

// revoke runs idxRevokeScript on user's sets of tags, in mode "k" (all but
// toks) or "o" (only toks), and returns the number of live sessions
// deleted.
func (s *RedisStore) revoke(ctx context.Context, op, user string, tags []string, mode string, toks []string) (int, error) {
	now := s.now()
	nowMs := floorMs(now)
	until := ceilMs(s.policy.Until(now))
	maxMs := floorMs(sessionstore.MaxExpiry)
	own := metaField(user)
	cmds, err := s.evalEach(ctx, idxRevokeScript, tags, func(tag string) ([]string, []any) {
		args := []any{nowMs, s.prefix, s.tombPrefix, s.metaBase(tag), own, until, s.skewMs, maxMs, mode}
		for _, tok := range toks {
			if sessionstore.ValidToken(tok) && s.idxTag(tok) == tag {
				args = append(args, tok)
			}
		}
		return []string{s.userBase(tag) + user}, args
	})
	if err != nil {
		return 0, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	n := 0
	for _, c := range cmds {
		heads, err := c.StringSlice()
		if err != nil {
			return n, fmt.Errorf("redisstore: %s: %w", op, err)
		}
		for _, h := range heads {
			if _, expiry, ok := decodeValue([]byte(h)); ok && expiry.After(now) {
				n++
			}
		}
	}
	return n, nil
}
