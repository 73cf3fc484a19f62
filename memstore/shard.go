package memstore

import (
	"hash/maphash"
	"strings"
	"sync"

	"github.com/sessionstore/sessionstore"
)

// Sessions and tombstones are keyed by a 64-bit hash of their token with the
// store's secret random seed, the same hash that chose their shard: the map
// hashes a machine word instead of the token again, compare keys without
// following a pointer, and an overwrite can never swap the stored token for
// the caller's string (a Go map replaces the key of an existing string
// entry with the one it is given, which would keep a slice of the caller's
// Cookie header alive). The expiry indexes hold no pointer, so the garbage
// collector does not scan them, and neither does a tombstone.
//
// Every entry also keeps a second 64-bit hash of its token, with another
// secret seed, and a lookup matches only if both agree: a token is taken
// for another with probability 2⁻¹²⁸, and no lookup reads the stored token,
// which would cost a cache miss. If two tokens, live or deleted, share the
// first hash only (two of a million live sessions do with probability about
// 3·10⁻⁸), Commit of the second fails with errHashCollision, writing nothing.

// item is a stored session, or a tombstone: the mark a deleted session
// leaves until its expiry, so that a late Commit cannot bring it back. A
// tombstone keeps its session's place in the map and in the expiry index,
// so that Delete writes nothing new, and Commit learns of a tombstone from
// the lookup it does anyway.
type item struct {
	token  string // the store's own copy, for Sessions and All; "" for a tombstone
	data   string // never written after it is stored: Find copies it unlocked
	expiry int64  // Unix nanoseconds
	check  uint64 // the token's second hash
}

func (it item) live() bool { return it.token != "" }

// shard is one independently locked part of a MemStore. Its entries have a
// lazy expiry index, so that the entries due for cleanup or eviction are
// found without scanning.
type shard struct {
	mu        sync.RWMutex
	entries   map[uint64]item
	byExpiry  expiryIndex[uint64]
	tombIndex expiryIndex[uint64] // tombstones that eviction passed over
	checkSeed maphash.Seed        // of the second hash
	live      int                 // sessions, tombstones not counted
	bytes     int64               // tokens and data held, counted only when bounded
	maxCount  int                 // 0: unbounded; -1: accepts nothing
	maxBytes  int64               // 0: unbounded; -1: accepts nothing
}

func (s *shard) init(maxCount int, maxBytes int64) {
	s.entries = make(map[uint64]item)
	s.checkSeed = maphash.MakeSeed()
	s.maxCount, s.maxBytes = maxCount, maxBytes
}

func (s *shard) bounded() bool { return s.maxCount != 0 || s.maxBytes != 0 }

// check returns token's second hash.
func (s *shard) check(token string) uint64 { return maphash.String(s.checkSeed, token) }

// indexed reports whether r is the index record of the entry it: an
// entry's record is in the bucket of its expiry and no later than it.
// Commit adds a record only when a session moves to another bucket or to an
// earlier expiry, so that a session renewed on every request does not add
// one every time; a tombstone keeps its session's record.
func indexed(r record[uint64], it item, found bool) bool {
	return found && r.expiry>>bucketShift == it.expiry>>bucketShift && r.expiry <= it.expiry
}

// commit stores data, which the caller has already copied, under token,
// whose hash is h. now is read only if another entry has that hash: the
// token's tombstone, or another token's entry.
func (s *shard) commit(token string, h uint64, data string, expiry int64, now func() int64) error {
	size := int64(len(token) + len(data))
	if s.maxCount < 0 || s.maxBytes < 0 || (s.maxBytes > 0 && size > s.maxBytes) {
		return &sessionstore.TooLargeError{Size: int(size), Max: int(max(s.maxBytes, 0))}
	}
	check := s.check(token)
	s.lock()
	defer s.mu.Unlock()
	old, exists := s.entries[h]
	if exists && old.check != check {
		// Another token's entry: it keeps its place until it expires.
		if old.expiry > now() {
			return errHashCollision
		}
		s.remove(h, old)
		exists = false
	}
	if exists && old.live() {
		s.entries[h] = item{token: old.token, data: data, expiry: expiry, check: check}
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
	if exists && old.expiry > now() {
		return nil // deleted: a late commit must not resurrect it
	}
	// A new session, perhaps in place of an expired tombstone.
	s.entries[h] = item{token: strings.Clone(token), data: data, expiry: expiry, check: check}
	s.live++
	s.byExpiry.add(record[uint64]{expiry, h})
	s.compact()
	if s.bounded() {
		s.bytes += size
		s.evict(h)
	}
	return nil
}

// compact rebuilds the indexes when stale records outnumber entries, so
// that they stay within twice the number of entries, amortised O(1).
func (s *shard) compact() {
	if s.byExpiry.len()+s.tombIndex.len() < 2*len(s.entries)+64 {
		return
	}
	s.byExpiry.reset()
	s.tombIndex.reset()
	for h, it := range s.entries {
		s.byExpiry.add(record[uint64]{it.expiry, h})
	}
}

// nearest returns the record of a session nearest to expiry (to within the
// index's bucket width). It drops stale records on the way, and moves those
// of tombstones to tombIndex, so that eviction passes over each once.
func (s *shard) nearest() (record[uint64], bool) {
	for {
		r, ok := s.byExpiry.earliest()
		if !ok {
			return r, false
		}
		it, found := s.entries[r.key]
		if indexed(r, it, found) && it.live() {
			return r, true
		}
		s.byExpiry.take()
		if indexed(r, it, found) {
			s.tombIndex.add(r)
		}
	}
}

// evict removes the sessions nearest to expiry, never keep, until the shard
// is within its bounds. Tombstones stay: evicting one would let a deleted
// session come back.
func (s *shard) evict(keep uint64) {
	var kept []record[uint64]
	for (s.maxCount > 0 && s.live > s.maxCount) || (s.maxBytes > 0 && s.bytes > s.maxBytes) {
		r, ok := s.nearest()
		if !ok {
			break
		}
		s.byExpiry.take()
		if r.key == keep {
			kept = append(kept, r)
			continue
		}
		s.remove(r.key, s.entries[r.key])
	}
	for _, r := range kept {
		s.byExpiry.add(r)
	}
}

// remove deletes the entry it, stored under h, leaving nothing; its index
// record becomes stale.
func (s *shard) remove(h uint64, it item) {
	delete(s.entries, h)
	if it.live() {
		s.live--
		if s.bounded() {
			s.bytes -= int64(len(it.token) + len(it.data))
		}
	}
}

// delete replaces the session token, whose hash is h, by a tombstone that
// lasts until the session would have expired. It does not read the clock:
// the tombstone of a session already expired is expired too, so it blocks
// nothing, and cleanup removes it with the session's index record.
func (s *shard) delete(token string, h uint64) {
	check := s.check(token)
	s.lock()
	defer s.mu.Unlock()
	it, found := s.entries[h]
	if !found || !it.live() || it.check != check {
		return
	}
	s.entries[h] = item{expiry: it.expiry, check: check} // keeps the session's index record
	s.live--
	if s.bounded() {
		s.bytes -= int64(len(it.token) + len(it.data))
	}
}

// deleteExpired removes up to limit expired sessions and tombstones and
// reports how many it removed, and whether it stopped before it was done. It
// examines at most 2*limit index records (stale ones are dropped uncounted),
// so that the lock is held for a bounded time.
func (s *shard) deleteExpired(now int64, limit int) (n int, more bool) {
	s.lock()
	defer s.mu.Unlock()
	seen := 0
	for _, x := range []*expiryIndex[uint64]{&s.byExpiry, &s.tombIndex} {
		var renewed []record[uint64] // entries renewed within the bucket being emptied
		for ; n < limit && seen < 2*limit; seen++ {
			r, ok := x.earliest()
			if !ok || r.expiry>>bucketShift > now>>bucketShift {
				break // every record left expires after now
			}
			if r.expiry > now {
				// This bucket straddles now: sort it once, so that its
				// expired records come first, and look again.
				if x.sortEarliest() {
					continue
				}
				break
			}
			x.take()
			it, found := s.entries[r.key]
			switch {
			case !indexed(r, it, found):
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
			x.add(r)
		}
	}
	return n, n == limit || seen == 2*limit
}
