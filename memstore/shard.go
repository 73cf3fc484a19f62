package memstore

import (
	"hash/maphash"
	"strings"
	"sync"

	"github.com/sessionstore/sessionstore"
)

// Sessions and tombstones are keyed by a 64-bit hash of their token with the
// store's secret random seed, the same hash that chose their shard: the maps
// hash a machine word instead of the token again, compare keys without
// following a pointer, and an overwrite can never swap the stored token for
// the caller's string (a Go map replaces the key of an existing string
// entry with the one it is given, which would keep a slice of the caller's
// Cookie header alive). The expiry indexes and the tombstones hold no
// pointer at all, so the garbage collector does not scan them.
//
// The token is stored beside the data and compared on every lookup, so a
// hash shared by two tokens can never hand one token's session to the
// other: Commit of the second token fails with errHashCollision instead,
// writing nothing. With a secret seed, two of a million live sessions share
// a hash with probability about 3·10⁻⁸.

// item is a stored session. data is never written after it is stored, so
// Find may copy it out after the lock is released.
type item struct {
	token  string // the store's own copy
	data   string
	expiry int64 // Unix nanoseconds
}

// tomb is a tombstone: the mark a deleted session leaves until its expiry,
// so that a late Commit cannot bring it back. check is a second hash of the
// token with an independent seed, so that a token is taken for a deleted
// one only if 128 bits of hash agree.
type tomb struct {
	expiry int64
	check  uint64
}

// shard is one independently locked part of a MemStore. Its sessions and
// its tombstones each have a lazy expiry index, so that the entries due for
// cleanup or eviction are found without scanning. A hash is never in both
// maps.
type shard struct {
	mu         sync.RWMutex
	sessions   map[uint64]item
	byExpiry   expiryIndex[uint64]
	tombstones map[uint64]tomb
	tombIndex  expiryIndex[uint64]
	checkSeed  maphash.Seed
	bytes      int64 // tokens and data held, counted only when bounded
	maxCount   int   // 0: unbounded; -1: accepts nothing
	maxBytes   int64 // 0: unbounded; -1: accepts nothing
}

func (s *shard) init(maxCount int, maxBytes int64) {
	s.sessions = make(map[uint64]item)
	s.tombstones = make(map[uint64]tomb)
	s.checkSeed = maphash.MakeSeed()
	s.maxCount, s.maxBytes = maxCount, maxBytes
}

func (s *shard) bounded() bool { return s.maxCount != 0 || s.maxBytes != 0 }

// sessionRecord reports whether r is the index record of a session: a
// session's record is in the bucket of its expiry and no later than it.
// Commit adds a record only when a session moves to another bucket or to an
// earlier expiry, so that a session renewed on every request does not add
// one every time.
func sessionRecord(r record[uint64], it item, found bool) bool {
	return found && r.expiry>>bucketShift == it.expiry>>bucketShift && r.expiry <= it.expiry
}

// commit stores data, which the caller has already copied, under token,
// whose hash is h. now is read only if the token has a tombstone.
func (s *shard) commit(token string, h uint64, data string, expiry int64, now func() int64) error {
	size := int64(len(token) + len(data))
	if s.maxCount < 0 || s.maxBytes < 0 || (s.maxBytes > 0 && size > s.maxBytes) {
		return &sessionstore.TooLargeError{Size: int(size), Max: int(max(s.maxBytes, 0))}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, exists := s.sessions[h]; exists {
		if old.token != token {
			return errHashCollision
		}
		s.sessions[h] = item{token: old.token, data: data, expiry: expiry}
		if expiry>>bucketShift != old.expiry>>bucketShift || expiry < old.expiry {
			s.byExpiry.add(record[uint64]{expiry, h})
			s.compact()
		}
		if s.bounded() {
			s.bytes += int64(len(data) - len(old.data))
			s.evict(h)
		}
		return nil
	}
	// A new session, unless the token was deleted: only a token without a
	// session can have a tombstone.
	if t, ok := s.tombstones[h]; ok && t.check == maphash.String(s.checkSeed, token) {
		if t.expiry > now() {
			return nil // deleted: a late commit must not resurrect it
		}
		delete(s.tombstones, h) // its index record is now stale
	}
	s.sessions[h] = item{token: strings.Clone(token), data: data, expiry: expiry}
	s.byExpiry.add(record[uint64]{expiry, h})
	s.compact()
	if s.bounded() {
		s.bytes += size
		s.evict(h)
	}
	return nil
}

// compact rebuilds the session index when stale records outnumber live
// sessions, so that it stays within twice the number of sessions, amortised
// O(1).
func (s *shard) compact() {
	if s.byExpiry.len() < 2*len(s.sessions)+64 {
		return
	}
	s.byExpiry.reset()
	for h, it := range s.sessions {
		s.byExpiry.add(record[uint64]{it.expiry, h})
	}
}

// nearest returns the record of a session nearest to expiry (to within the
// index's bucket width), dropping stale records on the way.
func (s *shard) nearest() (record[uint64], bool) {
	for {
		r, ok := s.byExpiry.earliest()
		if !ok {
			return r, false
		}
		if it, found := s.sessions[r.key]; sessionRecord(r, it, found) {
			return r, true
		}
		s.byExpiry.take()
	}
}

// evict removes the sessions nearest to expiry, never keep, until the shard
// is within its bounds.
func (s *shard) evict(keep uint64) {
	var kept []record[uint64]
	for (s.maxCount > 0 && len(s.sessions) > s.maxCount) || (s.maxBytes > 0 && s.bytes > s.maxBytes) {
		r, ok := s.nearest()
		if !ok {
			break
		}
		s.byExpiry.take()
		if r.key == keep {
			kept = append(kept, r)
			continue
		}
		s.remove(r.key, s.sessions[r.key])
	}
	for _, r := range kept {
		s.byExpiry.add(r)
	}
}

// remove deletes the session it, stored under h; its index record becomes
// stale.
func (s *shard) remove(h uint64, it item) {
	delete(s.sessions, h)
	if s.bounded() {
		s.bytes -= int64(len(it.token) + len(it.data))
	}
}

// delete removes the session token, whose hash is h, and leaves a tombstone
// that lasts until the session would have expired. A session already
// expired leaves none: nothing can resurrect it.
func (s *shard) delete(token string, h uint64, now int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, found := s.sessions[h]
	if !found || it.token != token {
		return
	}
	s.remove(h, it)
	if it.expiry > now {
		s.tombstones[h] = tomb{expiry: it.expiry, check: maphash.String(s.checkSeed, token)}
		s.tombIndex.add(record[uint64]{it.expiry, h})
	}
}

// deleteExpired removes up to limit expired sessions and tombstones and
// reports how many it removed, and whether it stopped before it was done. It
// examines at most 2*limit index records (stale ones are dropped uncounted),
// so that the lock is held for a bounded time.
func (s *shard) deleteExpired(now int64, limit int) (n int, more bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := 0
	var renewed []record[uint64] // sessions renewed within the bucket being emptied
	for ; n < limit && seen < 2*limit; seen++ {
		r, ok := s.byExpiry.earliest()
		if !ok || r.expiry>>bucketShift > now>>bucketShift {
			break // every record left expires after now
		}
		if r.expiry > now {
			// This bucket straddles now: sort it once, so that its
			// expired records come first, and look again.
			if s.byExpiry.sortEarliest() {
				continue
			}
			break
		}
		s.byExpiry.take()
		it, found := s.sessions[r.key]
		switch {
		case !sessionRecord(r, it, found):
			// stale
		case it.expiry <= now:
			s.remove(r.key, it)
			n++
		default:
			// Renewed to a later expiry in the same bucket: index it
			// again once this bucket's expired records are done.
			renewed = append(renewed, record[uint64]{it.expiry, r.key})
		}
	}
	for _, r := range renewed {
		s.byExpiry.add(r)
	}
	for ; n < limit && seen < 2*limit; seen++ {
		r, ok := s.tombIndex.earliest()
		if !ok || r.expiry>>bucketShift > now>>bucketShift {
			break
		}
		if r.expiry > now {
			if s.tombIndex.sortEarliest() {
				continue
			}
			break
		}
		s.tombIndex.take()
		if t, live := s.tombstones[r.key]; live && t.expiry == r.expiry {
			delete(s.tombstones, r.key)
			n++
		}
	}
	return n, n == limit || seen == 2*limit
}
