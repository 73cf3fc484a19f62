package redisstore

import "github.com/redis/go-redis/v9"

// The scripts run with EVALSHA (EVAL once, when a server does not have them
// cached). Each touches the session key KEYS[1] and the tombstone key
// KEYS[2] of one token, which are in one hash slot (see keys.go), so they
// run on one node of a cluster, atomically. Numbers are milliseconds since
// the Unix epoch from the application's clock, which Lua holds exactly (they
// stay far below 2^53); a number written back is formatted with "%.0f",
// since Lua would otherwise print large ones in exponent notation.

// commitScript writes a session unless its token has a tombstone.
// ARGV[1] is the value (header and data), ARGV[2] its PXAT. A session key
// found beside a tombstone was written behind the store's back (by a writer
// that ignores tombstones) and goes too. Returns 1 if written, 0 if
// tombstoned.
var commitScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
return 1
`)

// legacyScript answers for a session key whose value is not in this
// store's layout (one SCS's goredisstore wrote, or a writer that ignores
// tombstones): -3 if its token has a tombstone (the key is then deleted:
// it was written behind the tombstone), else its PEXPIRETIME (-1: none,
// -2: gone).
var legacyScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('DEL', KEYS[1])
  return -3
end
return redis.call('PEXPIRETIME', KEYS[1])
`)

// expireSessionScript deletes the session key KEYS[1] if it has expired by
// the application's clock ARGV[1]: for this store's layout (its value
// starts with ARGV[3]) the key's PXAT is the expiry plus ClockSkew (ARGV[2]);
// a key in goredisstore's layout expires at its PXAT, and one without an
// expiry (goredisstore's Commit past the deadline) never would. Returns 1
// if deleted.
var expireSessionScript = redis.NewScript(`
local e = redis.call('PEXPIRETIME', KEYS[1])
if e == -2 then return 0 end
local limit = tonumber(ARGV[1])
if redis.call('GETRANGE', KEYS[1], 0, 3) == ARGV[3] then limit = limit + tonumber(ARGV[2]) end
if e == -1 or e <= limit then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`)

// expireTombstoneScript deletes the tombstone KEYS[1] and any session key
// KEYS[2] beside it (one written behind the tombstone), if the tombstone
// expired at or before ARGV[1] (the cleanup cutoff): its PXAT, less
// ClockSkew (ARGV[2]), is its expiry. Returns 1 if deleted.
var expireTombstoneScript = redis.NewScript(`
local e = redis.call('PEXPIRETIME', KEYS[1])
if e < 0 then return 0 end
if e - tonumber(ARGV[2]) > tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
`)
