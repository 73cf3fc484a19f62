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
// never stalls requests; data is copied in and out; a Commit after Delete of
// the same token is ignored until the deleted session's expiry, so a request
// in flight at logout cannot bring the session back; and it can be bounded
// (Config.MaxSessions, Config.MaxBytes), evicting the sessions nearest to
// expiry first.
//
// Sessions are found by a 64-bit hash of their token with a secret random
// seed, and match only if a second 64-bit hash with another secret seed
// agrees too: a token is taken for another with probability 2⁻¹²⁸. If two
// tokens ever share the first hash only (about 3 in 100 million for a
// million live sessions), Commit of the second fails with an error and
// writes nothing: that request fails as on any store error, and the next
// one, finding no session, starts a new one under a new token.
package memstore
