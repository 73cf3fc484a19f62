package goredisstore

// The glue between SCS's goredisstore_test.go, copied into a temporary
// module by TestPeerSCSGoredisstore, and our redisstore: New builds ours,
// and prefix is the key prefix both stores use by default, which the tests
// read to reach the keys.

import (
	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore/redisstore"
)

type store struct {
	*redisstore.RedisStore
	prefix string
}

func New(client redis.UniversalClient) *store {
	return &store{RedisStore: redisstore.New(client), prefix: "scs:session:"}
}
