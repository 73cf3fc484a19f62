package memstore

import "unsafe"

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
		for _, it := range sh.entries {
			if in(it.token) {
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
func PlantCollision(m *MemStore, token, other string, data []byte, expiry int64) {
	s, h := m.shard(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[h] = item{token: other, data: string(data), expiry: expiry, check: s.check(other)}
	s.live++
	s.byExpiry.add(record[uint64]{expiry, h})
}

// PlantTombCollision leaves a tombstone under token's hash whose second hash
// is not token's, as if another deleted token's 64-bit hash had collided.
func PlantTombCollision(m *MemStore, token string, expiry int64) {
	s, h := m.shard(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[h] = item{expiry: expiry, check: s.check(token) + 1}
	s.byExpiry.add(record[uint64]{expiry, h})
}

// LockShard write-locks token's shard, as a long cleanup batch would, and
// returns the unlock.
func LockShard(m *MemStore, token string) (unlock func()) {
	s, _ := m.shard(token)
	s.mu.Lock()
	return s.mu.Unlock
}
