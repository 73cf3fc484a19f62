// Package memstore is an in-memory session store for SCS
// (github.com/alexedwards/scs/v2), a drop-in replacement for SCS's own
// memstore: same constructors (New, NewWithCleanupInterval), same methods.
//
// Sessions live only as long as the process: use it for one process where
// losing every session at a restart is acceptable, and in tests.
//
// Beyond SCS's memstore it is sharded (64 independently locked parts), so
// concurrent requests rarely wait for one another; each shard keeps an index
// ordered by expiry, so removing expired sessions touches only those and
// never stalls requests; data is copied in and out; and expiries outside
// [sessionstore.MinExpiry, sessionstore.MaxExpiry] are refused, so it takes
// what every other store takes.
//
// A Delete leaves a tombstone that makes a later Commit of the same token a
// no-op until the later of the session's expiry and the Delete time plus
// Config.TombstoneLifetime (an hour by default), so a request in flight at
// logout cannot bring the session back, even one whose Commit carries a new
// expiry (SCS's IdleTimeout). Cleanup removes a tombstone only
// Config.ClockSkew (15 minutes) after that, as every store does.
//
// It can be bounded, all shards together: Config.MaxSessions counts sessions
// and tombstones, Config.MaxBytes the bytes of tokens and data, and 64 bytes
// a tombstone. A store holds what its bounds say (MaxSessions 10 holds ten
// sessions), and a session larger than MaxBytes is refused with an error
// that names MaxBytes, writing and evicting nothing. When full, it evicts
// first the sessions created once and never used again, then tombstones,
// oldest first, then the sessions least used of late, whatever the lifetime
// settings: a new session is on probation in a small FIFO queue and moves to
// the main queue if it is used again (S3-FIFO), so a flood of new sessions
// evicts only itself and a flood of logouts only its own tombstones. A
// tombstone evicted early no longer blocks a late Commit; that is logged at
// WARN, at most once a minute with a count. With 1,000 users making one
// request a second against 300,000 new sessions at MaxSessions 6400, every
// user keeps their session, with a fixed Lifetime as with an idle timeout,
// and a million logouts under MaxSessions 6400 and MaxBytes 8 MiB leave the
// heap about 1.3 MB larger (the flood tests of this package check both). A
// new session must be used again before the probation queue turns over
// (at that bound, before about 5,000 more new sessions arrive), and a flood
// whose sessions are each used again as often as the users' is
// indistinguishable from users.
//
// With Config.Owner set, it keeps a per-user index and implements
// sessionstore.UserIndex: a user's sessions are listed (with when they were
// created and last seen, and the user agent and IP the application gave
// through sessionstore.WithClient), counted and deleted without reading any
// other session. Each shard keeps its part of the index beside its entries,
// written in the same critical section as the session, and every path that
// removes a session (Delete, cleanup, eviction, an owner change, a
// revocation) removes its entry too; expired sessions are never listed,
// even before cleanup. A store-wide record of each user's entries, kept
// with them, makes listing a user's sessions one lookup, so it costs the
// same among ten thousand sessions as among a million. Index
// entries count against MaxBytes, and a user can hold no more sessions than
// the bounds allow, so an attacker signing in to one account again and
// again cannot make a listing or the index outgrow them. Commit reads the
// owner with Config.Owner (for SCS's GobCodec, sessionstore.OwnerKey reads
// it without decoding the session, in about the time the rest of a Commit
// takes), except when the data is byte for byte what the session holds, as
// on SCS's IdleTimeout renewals.
//
// With Config.TouchWindow, a Commit of the data a session already holds
// (SCS's GobCodec data compared by its values, whatever order gob wrote
// them in) whose expiry moves later by less than the window writes
// nothing: it is decided on the stored session under the shard's read
// lock, so an evicted or deleted session is never taken as held. It saves
// the copy and the write lock of an IdleTimeout renewal, not time: see
// docs/touch.md.
//
// Sessions are found by a 64-bit hash of their token with a secret random
// seed, and match only if a second 64-bit hash with another secret seed
// agrees too: a token is taken for another with probability 2⁻¹²⁸. If two
// tokens ever share the first hash only (about 3 in 100 million for a
// million live sessions), Commit of the second fails with an error and
// writes nothing: that request fails as on any store error, and the next
// one, finding no session, starts a new one under a new token.
package memstore
