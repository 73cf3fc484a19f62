package memstore

import (
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
