package memstore

import (
	"strings"
	"sync"

	"github.com/sessionstore/sessionstore"
)

// entry is a session, or a tombstone (data == nil) left by Delete.
type entry struct {
	token  string
	data   []byte
	expiry int64 // Unix nanoseconds
	index  int   // position in its shard's expiry heap
}

func (e *entry) size() int64 { return int64(len(e.token) + len(e.data)) }

// shard is one independently locked part of a MemStore. Its sessions and
// tombstones each have a min-heap on expiry, so the entries due for cleanup
// or eviction are found without scanning.
type shard struct {
	mu         sync.RWMutex
	sessions   map[string]*entry
	byExpiry   expiryHeap
	tombstones map[string]*entry
	tombHeap   expiryHeap
	bytes      int64
	maxCount   int   // 0: unbounded; -1: accepts nothing
	maxBytes   int64 // 0: unbounded; -1: accepts nothing
}

func (s *shard) init(maxCount int, maxBytes int64) {
	s.sessions = make(map[string]*entry)
	s.tombstones = make(map[string]*entry)
	s.maxCount, s.maxBytes = maxCount, maxBytes
}

func (s *shard) find(token string, now int64) ([]byte, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.sessions[token]
	if e == nil || e.expiry <= now {
		return nil, false
	}
	// Stored slices are never written after Commit, but the caller may write
	// to what it gets: hand out a copy.
	return append(make([]byte, 0, len(e.data)), e.data...), true
}

// commit stores data, which the caller has already copied, under token.
func (s *shard) commit(token string, data []byte, expiry, now int64) error {
	size := int64(len(token) + len(data))
	if s.maxCount < 0 || s.maxBytes < 0 || (s.maxBytes > 0 && size > s.maxBytes) {
		return &sessionstore.TooLargeError{Size: int(size), Max: int(max(s.maxBytes, 0))}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tombstones[token]; t != nil {
		if t.expiry > now {
			return nil // deleted: a late commit must not resurrect it
		}
		s.tombHeap.remove(t)
		delete(s.tombstones, token)
	}
	if e := s.sessions[token]; e != nil {
		s.bytes += size - e.size()
		e.data = data
		if e.expiry != expiry {
			e.expiry = expiry
			s.byExpiry.fix(e)
		}
		s.evict(e)
		return nil
	}
	e := &entry{token: strings.Clone(token), data: data, expiry: expiry}
	s.sessions[e.token] = e
	s.byExpiry.push(e)
	s.bytes += size
	s.evict(e)
	return nil
}

// evict removes the sessions nearest to expiry, never keep, until the shard
// is within its bounds.
func (s *shard) evict(keep *entry) {
	for (s.maxCount > 0 && len(s.sessions) > s.maxCount) || (s.maxBytes > 0 && s.bytes > s.maxBytes) {
		victim := s.byExpiry.min()
		if victim == keep {
			// keep is nearest to expiry: take the next one instead.
			s.byExpiry.pop()
			victim = s.byExpiry.min()
			s.byExpiry.push(keep)
			if victim == nil {
				return
			}
		}
		s.removeSession(victim)
	}
}

func (s *shard) removeSession(e *entry) {
	s.byExpiry.remove(e)
	delete(s.sessions, e.token)
	s.bytes -= e.size()
}

func (s *shard) delete(token string, now int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.sessions[token]
	if e == nil {
		return
	}
	s.removeSession(e)
	if e.expiry > now && s.tombstones[token] == nil {
		e.data = nil
		s.tombstones[e.token] = e
		s.tombHeap.push(e)
	}
}

// deleteExpired removes up to limit expired sessions and tombstones, and
// reports how many it removed.
func (s *shard) deleteExpired(now int64, limit int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for ; n < limit; n++ {
		e := s.byExpiry.min()
		if e == nil || e.expiry > now {
			break
		}
		s.removeSession(e)
	}
	for ; n < limit; n++ {
		t := s.tombHeap.min()
		if t == nil || t.expiry > now {
			break
		}
		s.tombHeap.pop()
		delete(s.tombstones, t.token)
	}
	return n
}
