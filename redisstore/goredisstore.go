package redisstore

import "github.com/redis/go-redis/v9"

// NewWithPrefix is New with sessions at prefix + token, as SCS's
// goredisstore.NewWithPrefix keeps them, so that its users' code compiles
// unchanged and finds the sessions it stored. Tombstones go under prefix
// with its "session:" suffix replaced by "tombstone:", or "tombstone:" +
// prefix (see Config.TombstonePrefix). Like New it panics if client is nil
// or a *redis.Ring, or if prefix cannot be used (an empty prefix means
// DefaultPrefix); NewWithConfig returns an error instead.
func NewWithPrefix(client redis.UniversalClient, prefix string) *RedisStore {
	s, err := NewWithConfig(client, Config{Prefix: prefix})
	if err != nil {
		panic(err)
	}
	return s
}
