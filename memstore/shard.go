package memstore

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/tombstone"
)

// Sessions and tombstones are keyed by a 64-bit hash of their token with the
// store's secret random seed, the same hash that chose their shard: the map
// hashes a machine word instead of the token again, compares keys without
// following a pointer, and an overwrite can never swap the stored token for
// the caller's string (a Go map replaces the key of an existing string
// entry with the one it is given, which would keep a slice of the caller's
// Cookie header alive). The map holds the index of the entry's node in the
// shard's node array; the expiry indexes hold no pointer, so the garbage
// collector does not scan them.
//
// Every entry also keeps a second 64-bit hash of its token, with another
// secret seed, and a lookup matches only if both agree: a token is taken
// for another with probability 2⁻¹²⁸, and no lookup reads the stored token,
// which would cost a cache miss. If two tokens, live or deleted, share the
// first hash only (two of a million live sessions do with probability about
// 3·10⁻⁸), Commit of the second fails with errHashCollision, writing nothing.

// The queue a node is in. A session starts in qSmall and moves to qMain if
// it was used again (see evict.go); a tombstone is in qTomb, oldest first.
const (
	qFree uint8 = iota
	qSmall
	qMain
	qTomb
)

// node is a stored session or a tombstone: the mark a deleted session
// leaves, so that a late Commit cannot bring it back.
type node struct {
	token  string // the store's own copy, for Sessions and All; "" for a tombstone
	data   string // never written after it is stored: Find copies it unlocked
	expiry int64  // Unix microseconds: the session's, or the tombstone's
	check  uint64 // the token's second hash
	hash   uint64 // the token's first hash: the node's key in entries
	prev   uint32 // neighbours in the node's queue, 0 for none
	next   uint32
	freq   uint32 // uses since the node entered its queue (atomic; read as at most 3)
	queue  uint8
}

// queue is a doubly linked list of nodes, oldest at head.
type queue struct {
	head, tail uint32
	n          int
}

// tombstoneBytes is what a tombstone counts against MaxBytes: it holds
// neither token nor data, but its node, map entry and index record take
// about this much.
const tombstoneBytes = 64

// shared is what the shards of one store share: the tombstone policy, the
// store-wide bounds and what counts against them.
type shared struct {
	policy       tombstone.Policy
	maxCount     int64        // 0: unbounded
	maxBytes     int64        // 0: unbounded
	count        atomic.Int64 // sessions and tombstones held, counted only when bounded
	bytes        atomic.Int64 // their bytes (tokens, data, tombstoneBytes each tombstone)
	tombsEvicted atomic.Int64 // tombstones evicted early and not yet logged
	owners       *ownerShards // with Config.Owner only: see owner.go
}

func (c *shared) bounded() bool { return c.maxCount > 0 || c.maxBytes > 0 }

func (c *shared) over() bool {
	return (c.maxCount > 0 && c.count.Load() > c.maxCount) || (c.maxBytes > 0 && c.bytes.Load() > c.maxBytes)
}

// shard is one independently locked part of a MemStore. Its entries have
// lazy expiry indexes, so that the entries due for cleanup are found
// without scanning, and eviction queues, so that the entry to evict is
// found without scanning.
type shard struct {
	mu        sync.RWMutex
	entries   map[uint64]uint32 // token hash → index in nodes
	nodes     []node            // nodes[0] is never used
	free      uint32            // a free node, linked through next; 0 for none
	queues    [4]queue          // by qSmall, qMain, qTomb
	byExpiry  expiryIndex[uint64]
	tombIndex expiryIndex[uint64]
	checkSeed maphash.Seed // of the second hash
	c         *shared
	id        uint8 // the shard's index in the store
	// The per-user index (see owner.go), with Config.Owner only: metas is
	// parallel to nodes, nil for a node without an owner.
	metas  []*entryMeta
	owners map[string]*ownerList
}

func (s *shard) init(c *shared, id int, indexed bool) {
	s.id = uint8(id)
	s.entries = make(map[uint64]uint32)
	s.nodes = make([]node, 1)
	s.checkSeed = maphash.MakeSeed()
	s.c = c
	if indexed {
		s.metas = make([]*entryMeta, 1)
		s.owners = make(map[string]*ownerList)
	}
}

// check returns token's second hash.
func (s *shard) check(token string) uint64 { return maphash.String(s.checkSeed, token) }

// size is what n counts against MaxBytes.
func (n *node) size() int64 {
	if n.queue == qTomb {
		return tombstoneBytes
	}
	return int64(len(n.token) + len(n.data))
}

// used records a use of n (a Find or Commit): eviction keeps used sessions.
// It is safe under the read lock.
func (n *node) used() {
	if atomic.LoadUint32(&n.freq) < 3 {
		atomic.AddUint32(&n.freq, 1)
	}
}

// indexed reports whether r, a record of the index of queue kind q, is the
// index record of the entry under r.key: an entry's record is in the bucket
// of its expiry and no later than it. Commit adds a record only when a
// session moves to another bucket or to an earlier expiry, so that a session
// renewed on every request does not add one every time.
func (s *shard) indexed(r record[uint64], tomb bool) (uint32, bool) {
	i, found := s.entries[r.key]
	if !found {
		return 0, false
	}
	n := &s.nodes[i]
	return i, (n.queue == qTomb) == tomb && r.expiry>>bucketShift == n.expiry>>bucketShift && r.expiry <= n.expiry
}

// commit stores data, which the caller has already copied, under token,
// whose hash is h, and with the index on writes ix to its index entry in
// the same critical section (ix is nil with the index off). now is read
// only if another token's entry has that hash.
func (s *shard) commit(token string, h uint64, data string, expiry int64, now func() time.Time, ix *indexWrite) error {
	check := s.check(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, exists := s.entries[h]; exists {
		n := &s.nodes[i]
		switch {
		case n.check != check:
			// Another token's entry: it keeps its place until cleanup
			// could remove it.
			if !s.removable(n, now()) {
				return errHashCollision
			}
			s.remove(i)
		case n.queue == qTomb:
			return nil // deleted: a late commit must not resurrect it
		default:
			return s.update(i, data, expiry, ix)
		}
	}
	if ix != nil {
		if err := s.checkSize(len(token)+len(data), s.metaSizeAfter(0, ix)); err != nil {
			return err
		}
	}
	i := s.insert(node{token: strings.Clone(token), data: data, expiry: expiry, check: check, hash: h})
	if ix != nil {
		if d := s.index(i, ix); s.c.bounded() {
			s.c.bytes.Add(d)
		}
	}
	s.evict(i)
	return nil
}

// update overwrites the data and expiry of session node i, and with the
// index on writes ix to its index entry.
func (s *shard) update(i uint32, data string, expiry int64, ix *indexWrite) error {
	n := &s.nodes[i]
	if ix != nil {
		if err := s.checkSize(len(n.token)+len(data), s.metaSizeAfter(i, ix)); err != nil {
			return err
		}
	}
	old := n.expiry
	if s.c.maxBytes > 0 {
		s.c.bytes.Add(int64(len(data) - len(n.data)))
	}
	n.data, n.expiry = data, expiry
	if ix != nil {
		if d := s.index(i, ix); s.c.maxBytes > 0 {
			s.c.bytes.Add(d)
		}
	}
	n.used()
	if expiry>>bucketShift != old>>bucketShift || expiry < old {
		s.byExpiry.add(record[uint64]{expiry, n.hash})
		s.compact()
	}
	s.evict(i)
	return nil
}

// checkSize refuses, with the error Commit gives a session over MaxBytes, a
// session whose token and data take size bytes and whose index entry will
// take meta bytes, if that is over MaxBytes: eviction could not make room
// for it.
func (s *shard) checkSize(size int, meta int64) error {
	if total := int64(size) + meta; s.c.maxBytes > 0 && total > s.c.maxBytes {
		return &sizeError{"session with its index entry", "MaxBytes",
			&sessionstore.TooLargeError{Size: int(total), Max: int(s.c.maxBytes)}}
	}
	return nil
}

// insert adds a new session n to the shard and returns its index.
func (s *shard) insert(n node) uint32 {
	i := s.free
	if i != 0 {
		s.free = s.nodes[i].next
	} else {
		i = uint32(len(s.nodes))
		s.nodes = append(s.nodes, node{})
		if s.metas != nil {
			s.metas = append(s.metas, nil)
		}
	}
	s.nodes[i] = n
	s.entries[n.hash] = i
	s.push(qSmall, i)
	s.byExpiry.add(record[uint64]{n.expiry, n.hash})
	s.compact()
	if s.c.bounded() {
		s.c.count.Add(1)
		s.c.bytes.Add(s.nodes[i].size())
	}
	return i
}

// removable reports whether cleanup at now could remove n.
func (s *shard) removable(n *node, now time.Time) bool {
	if n.queue == qTomb {
		return n.expiry <= unixMicro(s.c.policy.Cutoff(now))
	}
	return n.expiry <= unixMicro(now)
}

// remove deletes the entry of node i, leaving nothing; its index record
// becomes stale.
func (s *shard) remove(i uint32) {
	n := &s.nodes[i]
	if s.c.bounded() {
		s.c.count.Add(-1)
		s.c.bytes.Add(-s.sizeOf(i))
	}
	s.unindex(i)
	delete(s.entries, n.hash)
	s.unlink(i)
	*n = node{next: s.free}
	s.free = i
}

// push appends node i to queue q, as its newest. In an unbounded store,
// which never evicts, it only marks the node as in q: the queues stay empty,
// and no write touches another node.
func (s *shard) push(q uint8, i uint32) {
	n := &s.nodes[i]
	if !s.c.bounded() {
		n.queue = q
		return
	}
	x := &s.queues[q]
	n.queue, n.prev, n.next = q, x.tail, 0
	if x.tail != 0 {
		s.nodes[x.tail].next = i
	} else {
		x.head = i
	}
	x.tail = i
	x.n++
}

// unlink takes node i out of its queue.
func (s *shard) unlink(i uint32) {
	if !s.c.bounded() {
		return // see push
	}
	n := &s.nodes[i]
	x := &s.queues[n.queue]
	if n.prev != 0 {
		s.nodes[n.prev].next = n.next
	} else {
		x.head = n.next
	}
	if n.next != 0 {
		s.nodes[n.next].prev = n.prev
	} else {
		x.tail = n.prev
	}
	n.prev, n.next = 0, 0
	x.n--
}

// compact rebuilds the indexes when stale records outnumber entries, so
// that they stay within twice the number of entries, amortised O(1).
func (s *shard) compact() {
	if s.byExpiry.len()+s.tombIndex.len() < 2*len(s.entries)+64 {
		return
	}
	s.byExpiry.reset()
	s.tombIndex.reset()
	for h, i := range s.entries {
		n := &s.nodes[i]
		if n.queue == qTomb {
			s.tombIndex.add(record[uint64]{n.expiry, h})
		} else {
			s.byExpiry.add(record[uint64]{n.expiry, h})
		}
	}
}

// delete replaces the session token, whose hash is h, by a tombstone that
// lasts until the later of the session's expiry and now plus the tombstone
// lifetime.
func (s *shard) delete(token string, h uint64, now time.Time) {
	check := s.check(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, found := s.entries[h]
	if !found {
		return
	}
	n := &s.nodes[i]
	if n.check != check || n.queue == qTomb {
		return
	}
	s.tombstone(i, now)
	s.evict(0)
}

// tombstone replaces session node i by a tombstone that lasts until the
// later of the session's expiry and now plus the tombstone lifetime, and
// takes it out of the per-user index. It evicts nothing: the caller does,
// once it is done with the shard's lists.
func (s *shard) tombstone(i uint32, now time.Time) {
	n := &s.nodes[i]
	size := s.sizeOf(i)
	s.unindex(i)
	n.expiry = s.c.policy.Expiry(time.UnixMicro(n.expiry), now).UnixMicro()
	n.token, n.data = "", ""
	s.unlink(i)
	s.push(qTomb, i)
	s.tombIndex.add(record[uint64]{n.expiry, n.hash})
	s.compact()
	if s.c.bounded() {
		s.c.bytes.Add(tombstoneBytes - size)
	}
}

// deleteExpired removes up to limit sessions expired at now and tombstones
// expired at cutoff, and reports how many it removed, and whether it
// stopped before it was done. It examines at most 2*limit index records
// (stale ones are dropped uncounted), so that the lock is held for a
// bounded time.
func (s *shard) deleteExpired(now, cutoff int64, limit int) (n int, more bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := 0
	for _, x := range []struct {
		idx  *expiryIndex[uint64]
		upTo int64
		tomb bool
	}{{&s.byExpiry, now, false}, {&s.tombIndex, cutoff, true}} {
		var renewed []record[uint64] // entries renewed within the bucket being emptied
		for ; n < limit && seen < 2*limit; seen++ {
			r, ok := x.idx.earliest()
			if !ok || r.expiry>>bucketShift > x.upTo>>bucketShift {
				break // every record left expires after upTo
			}
			if r.expiry > x.upTo {
				// This bucket straddles upTo: sort it once, so that its
				// expired records come first, and look again.
				if x.idx.sortEarliest() {
					continue
				}
				break
			}
			x.idx.take()
			i, ok := s.indexed(r, x.tomb)
			switch {
			case !ok:
				// stale
			case s.nodes[i].expiry <= x.upTo:
				s.remove(i)
				n++
			default:
				// Renewed to a later expiry in the same bucket: index it
				// again once this bucket's expired records are done.
				renewed = append(renewed, record[uint64]{s.nodes[i].expiry, r.key})
			}
		}
		for _, r := range renewed {
			x.idx.add(r)
		}
	}
	return n, n == limit || seen == 2*limit
}
