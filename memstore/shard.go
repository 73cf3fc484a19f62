package memstore

import (
	"strings"
	"sync"

	"github.com/sessionstore/sessionstore"
)

// item is a stored session. data is never written after it is stored.
type item struct {
	data   []byte
	expiry int64 // Unix nanoseconds
}

// shard is one independently locked part of a MemStore. Its sessions and
// its tombstones (tokens deleted before their expiry) each have a lazy
// expiry index, so the entries due for cleanup or eviction are found without
// scanning.
type shard struct {
	mu         sync.RWMutex
	sessions   map[string]item
	byExpiry   expiryIndex
	tombstones map[string]int64 // token -> expiry of the deleted session
	tombIndex  expiryIndex
	bytes      int64 // tokens and data held, counted only when bounded
	maxCount   int   // 0: unbounded; -1: accepts nothing
	maxBytes   int64 // 0: unbounded; -1: accepts nothing
}

func (s *shard) init(maxCount int, maxBytes int64) {
	s.sessions = make(map[string]item)
	s.tombstones = make(map[string]int64)
	s.maxCount, s.maxBytes = maxCount, maxBytes
}

// find returns the stored data of token and its expiry. The data slice is
// never written after it is stored, so it may be read after the lock is gone.
func (s *shard) find(token string) (data []byte, expiry int64, found bool) {
	s.mu.RLock()
	it, found := s.sessions[token]
	s.mu.RUnlock()
	return it.data, it.expiry, found
}

// commit stores data, which the caller has already copied, under token. now
// is read only if the token has a tombstone.
func (s *shard) commit(token string, data []byte, expiry int64, now func() int64) error {
	size := int64(len(token) + len(data))
	if s.maxCount < 0 || s.maxBytes < 0 || (s.maxBytes > 0 && size > s.maxBytes) {
		return &sessionstore.TooLargeError{Size: int(size), Max: int(max(s.maxBytes, 0))}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tombstones) > 0 {
		if t, ok := s.tombstones[token]; ok {
			if t > now() {
				return nil // deleted: a late commit must not resurrect it
			}
			delete(s.tombstones, token) // its index record is now stale
		}
	}
	old, exists := s.sessions[token]
	if !exists {
		token = strings.Clone(token) // do not pin the caller's string
	}
	s.sessions[token] = item{data: data, expiry: expiry}
	if !exists || old.expiry != expiry {
		s.byExpiry.add(record{expiry, token})
		s.compact()
	}
	if s.maxCount == 0 && s.maxBytes == 0 {
		return nil
	}
	s.bytes += size
	if exists {
		s.bytes -= int64(len(token) + len(old.data))
	}
	s.evict(token)
	return nil
}

// compact rebuilds the index when stale records outnumber live sessions,
// so that it stays within twice the number of sessions, amortised O(1).
func (s *shard) compact() {
	if s.byExpiry.len() < 2*len(s.sessions)+64 {
		return
	}
	s.byExpiry.reset()
	for tok, it := range s.sessions {
		s.byExpiry.add(record{it.expiry, tok})
	}
}

// nearest returns a session nearest to expiry (to within the index's
// bucket width), dropping stale records on the way.
func (s *shard) nearest() (record, bool) {
	for {
		r, ok := s.byExpiry.earliest()
		if !ok {
			return r, false
		}
		if it, live := s.sessions[r.token]; live && it.expiry == r.expiry {
			return r, true
		}
		s.byExpiry.take()
	}
}

// evict removes the sessions nearest to expiry, never keep, until the shard
// is within its bounds.
func (s *shard) evict(keep string) {
	var kept []record
	for (s.maxCount > 0 && len(s.sessions) > s.maxCount) || (s.maxBytes > 0 && s.bytes > s.maxBytes) {
		r, ok := s.nearest()
		if !ok {
			break
		}
		s.byExpiry.take()
		if r.token == keep {
			kept = append(kept, r)
			continue
		}
		s.remove(r.token)
	}
	for _, r := range kept {
		s.byExpiry.add(r)
	}
}

// remove deletes a session; its index record becomes stale.
func (s *shard) remove(token string) item {
	it := s.sessions[token]
	delete(s.sessions, token)
	if s.maxCount != 0 || s.maxBytes != 0 {
		s.bytes -= int64(len(token) + len(it.data))
	}
	return it
}

func (s *shard) delete(token string, now int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[token]; !ok {
		return
	}
	it := s.remove(token)
	if it.expiry > now {
		token = strings.Clone(token)
		s.tombstones[token] = it.expiry
		s.tombIndex.add(record{it.expiry, token})
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
		if it, live := s.sessions[r.token]; live && it.expiry == r.expiry {
			s.remove(r.token)
			n++
		}
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
		if t, live := s.tombstones[r.token]; live && t == r.expiry {
			delete(s.tombstones, r.token)
			n++
		}
	}
	return n, n == limit || seen == 2*limit
}
