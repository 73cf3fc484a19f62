package memstore

import (
	"fmt"
	"time"
	"unsafe"

	"github.com/sessionstore/sessionstore"
)

// KeepsString reports whether any stored token of m points into s.
func KeepsString(m *MemStore, s string) bool {
	lo := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	hi := lo + uintptr(len(s))
	in := func(k string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(k)))
		return p >= lo && p < hi
	}
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.RLock()
		for i := range sh.nodes {
			if n := &sh.nodes[i]; n.queue != qFree && in(n.token) {
				sh.mu.RUnlock()
				return true
			}
		}
		sh.mu.RUnlock()
	}
	return false
}

// ShardOf returns the index of token's shard.
func ShardOf(m *MemStore, token string) int {
	_, h := m.shard(token)
	return int(h >> (64 - shardBits))
}

// NumShards is the number of shards of every store.
const NumShards = numShards

// PlantCollision stores, under token's hash, a session of another token, as
// if their 64-bit hashes had collided.
func PlantCollision(m *MemStore, token, other string, data []byte, expiry time.Time) {
	s, h := m.shard(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.insert(node{token: other, data: string(data), expiry: expiry.UnixMicro(), check: s.check(other), hash: h})
}

// PlantTombCollision leaves a tombstone under token's hash whose second hash
// is not token's, as if another deleted token's 64-bit hash had collided.
func PlantTombCollision(m *MemStore, token string, expiry time.Time) {
	s, h := m.shard(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.insert(node{token: "x", expiry: expiry.UnixMicro(), check: s.check(token) + 1, hash: h})
	n := &s.nodes[i]
	n.token = ""
	s.unlink(i)
	s.push(qTomb, i)
	s.tombIndex.add(record[uint64]{n.expiry, h})
}

// LockShard write-locks token's shard, as a long cleanup batch would, and
// returns the unlock.
func LockShard(m *MemStore, token string) (unlock func()) {
	s, _ := m.shard(token)
	s.mu.Lock()
	return s.mu.Unlock
}

// CheckInvariants locks every shard in turn and reports the first
// inconsistency between entries, nodes, queues and the store-wide counts.
func CheckInvariants(m *MemStore) error {
	var count, bytes int64
	masks := make(map[string]uint64)               // the shards holding each owner's lists
	listed := make(map[string]map[*entryMeta]bool) // the entries in each owner's lists
	for si := range m.shards {
		s := &m.shards[si]
		s.mu.Lock()
		err := func() error {
			if err := s.checkIndex(si); err != nil {
				return err
			}
			for owner, l := range s.owners {
				masks[owner] |= 1 << si
				if listed[owner] == nil {
					listed[owner] = make(map[*entryMeta]bool)
				}
				for _, e := range l.metas {
					listed[owner][e] = true
				}
			}
			if !m.c.bounded() {
				return nil // no queues: see push
			}
			inQueues := 0
			for q := qSmall; q <= qTomb; q++ {
				x := &s.queues[q]
				n, prev := 0, uint32(0)
				for i := x.head; i != 0; i = s.nodes[i].next {
					nd := &s.nodes[i]
					if nd.queue != q || nd.prev != prev {
						return fmt.Errorf("shard %d: node %d in queue %d says queue %d, prev %d (want %d)", si, i, q, nd.queue, nd.prev, prev)
					}
					if j, ok := s.entries[nd.hash]; !ok || j != i {
						return fmt.Errorf("shard %d: node %d in queue %d is not its hash's entry", si, i, q)
					}
					if (q == qTomb) != (nd.token == "") {
						return fmt.Errorf("shard %d: node %d in queue %d has token %q", si, i, q, nd.token)
					}
					prev = i
					n++
					count++
					bytes += s.sizeOf(i)
				}
				if n != x.n || x.tail != prev {
					return fmt.Errorf("shard %d: queue %d holds %d nodes, says %d; tail %d, want %d", si, q, n, x.n, x.tail, prev)
				}
				inQueues += n
			}
			if inQueues != len(s.entries) {
				return fmt.Errorf("shard %d: %d entries, %d nodes in queues", si, len(s.entries), inQueues)
			}
			return nil
		}()
		s.mu.Unlock()
		if err != nil {
			return err
		}
	}
	// Commit counts the change in a session's size only against MaxBytes:
	// with MaxSessions alone, the byte count is not kept.
	if m.c.bounded() && count != m.c.count.Load() || m.c.maxBytes > 0 && bytes != m.c.bytes.Load() {
		return fmt.Errorf("store holds %d entries of %d bytes, counts say %d of %d", count, bytes, m.c.count.Load(), m.c.bytes.Load())
	}
	if err := m.checkOwnerShards(masks, listed); err != nil {
		return err
	}
	if m.c.maxCount > 0 && count > m.c.maxCount || m.c.maxBytes > 0 && bytes > m.c.maxBytes {
		return fmt.Errorf("store holds %d entries of %d bytes, over MaxSessions %d or MaxBytes %d", count, bytes, m.c.maxCount, m.c.maxBytes)
	}
	return nil
}

// checkIndex reports the first inconsistency between the shard's per-user
// index and its entries: an index entry of a node that is not a session, a
// list that does not hold its entries, or an empty list. s.mu is held.
func (s *shard) checkIndex(si int) error {
	if s.metas == nil {
		if s.owners != nil {
			return fmt.Errorf("shard %d: owner lists without metadata", si)
		}
		return nil
	}
	if len(s.metas) != len(s.nodes) {
		return fmt.Errorf("shard %d: %d metadata slots for %d nodes", si, len(s.metas), len(s.nodes))
	}
	indexed := 0
	for i, e := range s.metas {
		if e == nil {
			continue
		}
		indexed++
		n := &s.nodes[i]
		if n.queue == qFree || n.queue == qTomb {
			return fmt.Errorf("shard %d: node %d in queue %d has an index entry", si, i, n.queue)
		}
		if j, ok := s.entries[n.hash]; !ok || j != uint32(i) {
			return fmt.Errorf("shard %d: indexed node %d is not its hash's entry", si, i)
		}
		if e.list == nil || e.owner != e.list.owner || s.owners[e.owner] != e.list || e.pos >= len(e.list.metas) || e.list.metas[e.pos] != e {
			return fmt.Errorf("shard %d: node %d is not in its owner's list", si, i)
		}
		if e.node != uint32(i) || e.expiry.Load() != n.expiry {
			return fmt.Errorf("shard %d: node %d's entry says node %d, expiry %d; the node's is %d", si, i, e.node, e.expiry.Load(), n.expiry)
		}
		if e.id != sessionstore.SessionID(n.token) {
			return fmt.Errorf("shard %d: node %d has ID %q, its token's is %q", si, i, e.id, sessionstore.SessionID(n.token))
		}
	}
	listed := 0
	for owner, l := range s.owners {
		if owner == "" || owner != l.owner || len(l.metas) == 0 {
			return fmt.Errorf("shard %d: list of %q holds %d nodes under key %q", si, l.owner, len(l.metas), owner)
		}
		for pos, e := range l.metas {
			if int(e.node) >= len(s.metas) || s.metas[e.node] != e || e.list != l || e.pos != pos {
				return fmt.Errorf("shard %d: %q's list holds node %d, whose entry is elsewhere", si, owner, e.node)
			}
		}
		listed += len(l.metas)
	}
	if listed != indexed {
		return fmt.Errorf("shard %d: %d nodes in owner lists, %d with index entries", si, listed, indexed)
	}
	return nil
}

// checkOwnerShards reports the first owner whose record's shard set is
// not masks's, or whose record's entries are not those listed. Call it only
// while the store is still: it locks each part in turn, not the shards.
func (m *MemStore) checkOwnerShards(masks map[string]uint64, listed map[string]map[*entryMeta]bool) error {
	if m.c.owners == nil {
		return nil
	}
	n := 0
	for pi := range m.c.owners.parts {
		p := &m.c.owners.parts[pi]
		p.mu.Lock()
		for owner, r := range p.recs {
			if m.c.owners.part(owner) != p || masks[owner] != r.shards {
				p.mu.Unlock()
				return fmt.Errorf("owner %q: shard set %b in part %d, lists in shards %b", owner, r.shards, pi, masks[owner])
			}
			if len(r.metas) != len(listed[owner]) {
				p.mu.Unlock()
				return fmt.Errorf("owner %q: %d entries in the record, %d in lists", owner, len(r.metas), len(listed[owner]))
			}
			for pos, e := range r.metas {
				if !listed[owner][e] || e.recPos != pos || e.owner != owner {
					p.mu.Unlock()
					return fmt.Errorf("owner %q: the record's entry %d (place %d, owner %q) is not in the owner's lists", owner, pos, e.recPos, e.owner)
				}
			}
			n++
		}
		p.mu.Unlock()
	}
	if n != len(masks) {
		return fmt.Errorf("%d owners have shard sets, %d have lists", n, len(masks))
	}
	return nil
}

// Indexed returns every token in the per-user index, by owner, whether its
// session is live or expired and not yet removed.
func Indexed(m *MemStore) map[string][]string {
	idx := make(map[string][]string)
	for si := range m.shards {
		s := &m.shards[si]
		s.mu.RLock()
		for owner, l := range s.owners {
			for _, e := range l.metas {
				idx[owner] = append(idx[owner], s.nodes[e.node].token)
			}
		}
		s.mu.RUnlock()
	}
	return idx
}

// Stored returns every session the store holds, live or expired and not
// yet removed, by token.
func Stored(m *MemStore) map[string][]byte {
	all := make(map[string][]byte)
	for si := range m.shards {
		s := &m.shards[si]
		s.mu.RLock()
		for _, i := range s.entries {
			if n := &s.nodes[i]; n.queue != qTomb {
				all[n.token] = []byte(n.data)
			}
		}
		s.mu.RUnlock()
	}
	return all
}

// Bytes is what the store counts against MaxBytes.
func Bytes(m *MemStore) int64 { return m.c.bytes.Load() }

// Held is the number of sessions and tombstones the store counts against
// MaxSessions.
func Held(m *MemStore) int64 { return m.c.count.Load() }

// SetHookDeleteUserSession sets what runs between DeleteUserSession's
// finding the token and its deletion, until the test ends.
func SetHookDeleteUserSession(t interface{ Cleanup(func()) }, f func(token string)) {
	testHookDeleteUserSession = f
	t.Cleanup(func() { testHookDeleteUserSession = nil })
}

// IndexBytes is what the index entries of m count against MaxBytes, all
// shards together (in any store, bounded or not).
func IndexBytes(m *MemStore) int64 {
	var n int64
	for si := range m.shards {
		s := &m.shards[si]
		s.mu.RLock()
		for _, e := range s.metas {
			if e != nil {
				n += e.size()
			}
		}
		s.mu.RUnlock()
	}
	return n
}
