// Package redisstore is a session store on Redis, through go-redis v9: one
// store serves a single server, Sentinel and Redis Cluster, since it takes a
// redis.UniversalClient. It implements SCS's Store, CtxStore, IterableStore
// and IterableCtxStore, streams sessions with Sessions, and passes the
// repository's conformance suite (storetest).
//
// Keys. A session lives at Prefix + token ("scs:session:" by default, the
// key SCS's goredisstore uses), its tombstone at TombstonePrefix + "{tag}"
// + token, where tag is a short string chosen so that the tombstone is in
// the session key's hash slot whatever bytes the token holds: every
// operation touches the keys of one slot, and never fails with CROSSSLOT.
// Tokens are only ever keys, never SCAN patterns; Sessions and
// DeleteExpired escape the glob characters of the prefixes.
//
// Values. A session key holds a 12-byte header (a NUL-led magic and the
// expiry in microseconds) and the data. The header is what lets Find check
// the expiry against the application's clock (Config.Now) at microsecond
// precision with a single GET. Values in goredisstore's layout (the bare
// data, expiring by TTL) are still read: an application that switches
// keeps its sessions, each rewritten in the new layout at its next Commit.
// The reverse does not hold: goredisstore cannot read this store's values,
// so switch every replica at once.
//
// Expiry. Commit sets an absolute expiry (SET ... PXAT) from the
// application's clock, never a relative TTL, and Find, All and Sessions
// check the expiry against that clock too. Keys stay in Redis for
// Config.ClockSkew past their expiry, so that clocks that differ by less
// never cut a session or a tombstone short.
//
// Tombstones. Delete renames the session key to its tombstone key (one
// atomic step that removes the session and leaves the tombstone, with the
// session's expiry), extends the tombstone to the Delete time plus
// Config.TombstoneLifetime if that is later, and replaces its data with a
// marker: three native commands in one pipelined round trip. Commit of a
// session that exists is one SET ... XX GET, which
// writes only over an existing key (a Delete removes the key in the step
// that writes the tombstone, so an existing key has none beside it); one
// that does not exist, or whose old value another writer left, takes a
// script that checks for the tombstone and writes in one atomic step. While a tombstone lasts (the later of the session's
// expiry and the Delete time plus Config.TombstoneLifetime, and Redis keeps
// the key ClockSkew longer), a Commit of its token is a no-op. Redis removes
// expired keys itself: New starts no goroutine, StopCleanup does nothing,
// and DeleteExpired is there for clocks that run ahead of Redis's.
//
// Redis 7.0 or later is required (PEXPIRETIME, PEXPIREAT GT). A
// *redis.Ring is refused: its shards cannot run one script over a session
// and its tombstone.
//
// Timeouts. go-redis applies a context's deadline to its reads and writes
// only with Options.ContextTimeoutEnabled; otherwise its ReadTimeout and
// WriteTimeout bound each call, and Config.Timeout only bounds the wait for
// a connection and the retries.
package redisstore
