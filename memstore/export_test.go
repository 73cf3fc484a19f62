package memstore

import (
	"fmt"
	"time"
	"unsafe"
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
	for si := range m.shards {
		s := &m.shards[si]
		s.mu.Lock()
		err := func() error {
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
					bytes += nd.size()
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
	if m.c.bounded() && (count != m.c.count.Load() || bytes != m.c.bytes.Load()) {
		return fmt.Errorf("store holds %d entries of %d bytes, counts say %d of %d", count, bytes, m.c.count.Load(), m.c.bytes.Load())
	}
	if m.c.maxCount > 0 && count > m.c.maxCount || m.c.maxBytes > 0 && bytes > m.c.maxBytes {
		return fmt.Errorf("store holds %d entries of %d bytes, over MaxSessions %d or MaxBytes %d", count, bytes, m.c.maxCount, m.c.maxBytes)
	}
	return nil
}
